"""Wide & Deep in PyTorch (``wide-deep``): ids, categorical side features, price buckets and
item text; ONNX inference; SHAP explanations. torch loads on first fit or score, never on
import of this package."""

from tailor.models.wide_deep.config import WideDeepConfig
from tailor.models.wide_deep.model import WideDeep

__all__ = ["WideDeep", "WideDeepConfig"]
