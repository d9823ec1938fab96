"""Test helpers shipped with the package: planted data and the model contract suite."""

from tailor.testing.contracts import RecommenderContract
from tailor.testing.data import planted_frame

__all__ = ["RecommenderContract", "planted_frame"]
