"""Data layer: the interaction contract, id vocabularies, datasets, readers, cleaning and splits."""

from tailor.data.columns import Columns
from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.data.recs import Recs
from tailor.data.vocab import Vocabulary

__all__ = ["Columns", "Dataset", "Interactions", "Recs", "Vocabulary"]
