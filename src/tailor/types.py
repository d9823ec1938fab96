"""Array and ID type aliases shared across the package."""

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

ID: TypeAlias = str | int
NumArray: TypeAlias = npt.NDArray[np.int32]
"""Internal 0-based row numbers (``user_num`` / ``item_num``)."""
NPVector: TypeAlias = npt.NDArray[np.floating[Any]]
NPMatrix: TypeAlias = npt.NDArray[np.floating[Any]]
ItemList: TypeAlias = list[tuple[str, float]]
"""A ranked list: (item_id, score), best first."""
