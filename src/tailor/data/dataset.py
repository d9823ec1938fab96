"""Dataset: vocabularies + interactions + optional side features, immutable."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.data.columns import Columns
from tailor.data.interactions import Interactions
from tailor.data.vocab import Vocabulary
from tailor.errors import DataError


@dataclass(frozen=True, eq=False)
class Dataset:
    """What a model is fitted on.

    Attributes:
        users: user_id <-> user_num.
        items: item_id <-> item_num.
        interactions: the log over nums.
        item_features: catalog frame indexed by item_id (aligned to ``items`` order), or None.
        user_features: profile frame indexed by user_id (aligned to ``users`` order), or None.

    Stability: stable.
    """

    users: Vocabulary
    items: Vocabulary
    interactions: Interactions
    item_features: pd.DataFrame | None = None
    user_features: pd.DataFrame | None = None
    _matrix_cache: dict[bool, sp.csr_array] = field(default_factory=dict, repr=False)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        weight: str | None = None,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        item_vocab: Vocabulary | None = None,
    ) -> Dataset:
        """Build from an interaction frame with user_id, item_id and optionally timestamp.

        Args:
            frame: interactions; ``timestamp`` may be datetime64 or integer seconds.
            weight: column holding interaction strength; default ``weight`` if present, else
                ``value`` if present, else 1 for every row.
            items: catalog with an ``item_id`` column; its items join the vocabulary too, so a
                catalog item without interactions can still be recommended by content or category.
            users: profiles with a ``user_id`` column.
            item_vocab: fix the item vocabulary (e.g. to share one between train and test).
        """
        for col in (Columns.USER_ID, Columns.ITEM_ID):
            if col not in frame.columns:
                raise DataError("required column is missing", column=col)
        user_vocab = Vocabulary.from_values(frame[Columns.USER_ID])
        if item_vocab is None:
            item_vals = frame[Columns.ITEM_ID]
            if items is not None:
                item_vals = pd.concat([item_vals, items[Columns.ITEM_ID]], ignore_index=True)
            item_vocab = Vocabulary.from_values(item_vals)
        inter = Interactions.from_arrays(
            user_vocab.numbers(frame[Columns.USER_ID]),
            item_vocab.numbers(frame[Columns.ITEM_ID], missing="error"),
            _weights(frame, weight),
            to_epoch_seconds(frame[Columns.TIMESTAMP]) if Columns.TIMESTAMP in frame else None,
        )
        return cls(
            user_vocab,
            item_vocab,
            inter,
            _aligned(items, Columns.ITEM_ID, item_vocab),
            _aligned(users, Columns.USER_ID, user_vocab),
        )

    @property
    def n_users(self) -> int:
        """Number of users in the vocabulary."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Number of items in the vocabulary."""
        return len(self.items)

    def matrix(self, *, weights: bool = True) -> sp.csr_array:
        """Users x items CSR matrix (cached); repeated pairs are summed."""
        if weights not in self._matrix_cache:
            self._matrix_cache[weights] = self.interactions.matrix(
                self.n_users, self.n_items, weights=weights
            )
        return self._matrix_cache[weights]

    def to_frame(self) -> pd.DataFrame:
        """Interactions back as a frame with external ids."""
        inter = self.interactions
        return pd.DataFrame(
            {
                Columns.USER_ID: self.users.id_of(inter.user_nums),
                Columns.ITEM_ID: self.items.id_of(inter.item_nums),
                Columns.WEIGHT: inter.weights,
                Columns.TIMESTAMP: inter.timestamps,
            }
        )


def to_epoch_seconds(values: pd.Series) -> np.ndarray:
    """Timestamps (datetime64, tz-aware, or integer seconds) as int64 Unix seconds."""
    if pd.api.types.is_datetime64_any_dtype(values):
        ts = values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz else values
        return ts.to_numpy(dtype="datetime64[s]").astype(np.int64)
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.int64)
    raise DataError("timestamps must be datetimes or integer seconds", column=Columns.TIMESTAMP)


def _weights(frame: pd.DataFrame, weight: str | None) -> np.ndarray | None:
    col = weight
    if col is None:
        col = next((c for c in (Columns.WEIGHT, Columns.VALUE) if c in frame.columns), None)
    if col is None:
        return None
    if col not in frame.columns:
        raise DataError("weight column is missing", column=col)
    numbers = pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    for bad, problem in (
        (np.isnan(numbers), "weights must be numeric and present"),
        (np.isinf(numbers), "weights must be finite"),
        (numbers < 0, "weights must be >= 0"),
        (np.abs(numbers) > np.finfo(np.float32).max, "weights must fit in float32"),
    ):
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{problem} (got {numbers[row]:g})", column=col, row=row + 1)
    return numbers.astype(np.float32)


def _aligned(features: pd.DataFrame | None, key: str, vocab: Vocabulary) -> pd.DataFrame | None:
    if features is None:
        return None
    if key not in features.columns:
        raise DataError("required column is missing", column=key)
    keyed = features.assign(**{key: features[key].astype(str)}).drop_duplicates(key)
    return keyed.set_index(key).reindex(pd.Index(vocab.ids, name=key))
