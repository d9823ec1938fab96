"""Vocabulary: the only place external ids are converted to internal row numbers and back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.ids import id_array, normalise_text_id
from tailor.errors import DataError
from tailor.types import NumArray


class Vocabulary:
    """An ordered set of external ids (strings) and their 0-based numbers.

    Ids are strings everywhere in tailor, normalised once by :func:`tailor.data.ids.normalise_ids`
    (the readers' function too), so the id ``17850`` from one file, ``17850.0`` from another and
    ``"17850"`` from a third are the same user.

    Stability: stable.
    """

    __slots__ = ("_ids", "_index")

    def __init__(self, ids: Iterable[Any] = ()) -> None:
        values = pd.Index(_as_str_array(ids))
        if not values.is_unique:
            raise ValueError("vocabulary ids must be unique")
        self._index = values
        self._ids = values.to_numpy(dtype=str)
        self._ids.flags.writeable = False  # shared by every caller: converting costs ms per call

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> Vocabulary:
        """Build from possibly repeated values, keeping first-appearance order."""
        return cls(pd.unique(_as_str_array(values)))

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, item: object) -> bool:
        return str(item) in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._index.equals(other._index)

    def __hash__(self) -> int:  # pragma: no cover - vocabularies are not used as keys
        return hash(tuple(self._index[:16]))

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)})"

    @property
    def ids(self) -> np.ndarray:
        """The ids in number order, as a read-only unicode array."""
        return self._ids

    def numbers(self, ids: Iterable[Any], *, missing: str = "negative") -> NumArray:
        """Map ids to numbers; unknown ids give -1, or a KeyError when ``missing="error"``."""
        arr = _as_str_array(ids)
        nums = self._index.get_indexer(pd.Index(arr)).astype(np.int32)
        if missing == "error" and (nums < 0).any():
            unknown = arr[nums < 0][:5]
            raise KeyError(f"unknown ids: {list(unknown)}")
        return nums

    def number(self, id_: Any) -> int | None:
        """The number of one id, or None when it is unknown."""
        try:
            key = normalise_text_id(id_) if isinstance(id_, str) else _as_str_array([id_])[0]
            return int(self._index.get_loc(key))
        except (KeyError, ValueError):  # unknown, or no id at all (blank, NaN)
            return None

    def id_of(self, nums: Iterable[int] | np.ndarray) -> np.ndarray:
        """Map numbers back to ids."""
        return self.ids[np.asarray(nums, dtype=np.int64)]

    def extend(self, ids: Iterable[Any]) -> Vocabulary:
        """A new vocabulary with the unseen ``ids`` appended; existing numbers do not change."""
        new = pd.Index(pd.unique(_as_str_array(ids)))
        added = new.difference(self._index, sort=False)
        return Vocabulary(self._index.append(added))


def _as_str_array(values: Iterable[Any]) -> np.ndarray:
    """Ids as an object array of str, normalised like every reader's (:mod:`tailor.data.ids`):
    integer-valued floats lose their ``.0`` (``17850.0`` and ``"17850.0"`` -> ``"17850"``)."""
    try:
        return id_array(values)
    except DataError as exc:
        raise ValueError(exc.problem) from None
