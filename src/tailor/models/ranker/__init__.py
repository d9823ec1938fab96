"""The learned second-stage ranker (issue 14): candidates from the fast models, LightGBM
LambdaMART over their scores and the user's and item's features, SHAP explanations."""

from tailor.models.ranker.config import RankerConfig
from tailor.models.ranker.model import FEATURES, Ranker

__all__ = ["FEATURES", "Ranker", "RankerConfig"]
