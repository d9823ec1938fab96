"""tailor: personalized product recommendations for online shops.

The names below load on first use, so ``import tailor`` (and ``tailor --help``) stays fast.

Stability: experimental until 1.0.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tailor.errors import ConfigError, DataError, NotFittedError, TailorError

if TYPE_CHECKING:
    from tailor.data.dataset import Dataset
    from tailor.data.interactions import Interactions
    from tailor.data.recs import Recs
    from tailor.data.vocab import Vocabulary

__version__ = "0.1.0"

_LAZY = {
    "Dataset": "tailor.data.dataset",
    "Interactions": "tailor.data.interactions",
    "Recs": "tailor.data.recs",
    "Vocabulary": "tailor.data.vocab",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tailor' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
