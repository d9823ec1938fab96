"""tailor: personalized product recommendations for online shops.

Stability: experimental until 1.0.
"""

from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.data.recs import Recs
from tailor.data.vocab import Vocabulary
from tailor.errors import ConfigError, DataError, NotFittedError, TailorError

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "Dataset",
    "Interactions",
    "NotFittedError",
    "Recs",
    "TailorError",
    "Vocabulary",
    "__version__",
]
