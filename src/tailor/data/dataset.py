"""Dataset: vocabularies + interactions + optional side features, immutable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.data.columns import Columns
from tailor.data.interactions import Interactions
from tailor.data.vocab import Vocabulary
from tailor.errors import DataError

Missing = Literal["error", "drop", "extend"]
"""What ``Dataset.from_frame`` does with ids a given vocabulary does not hold."""


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
        users: Vocabulary | pd.DataFrame | None = None,
        items: Vocabulary | pd.DataFrame | None = None,
        missing: Missing = "error",
        item_features: pd.DataFrame | None = None,
        user_features: pd.DataFrame | None = None,
    ) -> Dataset:
        """Build from an interaction frame with user_id, item_id and optionally timestamp.

        This is the one way to put a frame onto existing vocabularies (validation data over the
        training ids, a ``partial_fit`` batch over a fitted model's ids): pass them as ``users``
        and/or ``items`` and say what happens to ids they do not hold with ``missing``.

        Args:
            frame: interactions; ``timestamp`` may be datetime64 or integer seconds.
            weight: column holding interaction strength; default ``weight`` if present, else
                ``value`` if present, else 1 for every row.
            users: the user vocabulary to number users with; None builds one from ``frame``
                (first-appearance order). A DataFrame is taken as ``user_features`` (the
                meaning this argument had before vocabularies could be passed).
            items: the item vocabulary, likewise; a DataFrame is taken as ``item_features``.
            missing: what happens to a row whose user or item is not in a given vocabulary:
                ``"error"`` raises a DataError naming the column, row and id; ``"drop"``
                leaves the row out (count them as ``len(frame) - len(result.interactions)``);
                ``"extend"`` appends the new ids to (a copy of) the vocabulary, after the
                existing ones, whose numbers never change. Ignored for a vocabulary built from
                the frame.
            item_features: catalog with an ``item_id`` column, aligned to the item vocabulary.
                Its items join a vocabulary built from the frame (or extended), so a catalog
                item without interactions can still be recommended by content or category;
                with a given vocabulary and ``missing`` "error" or "drop" its unknown items
                are ignored.
            user_features: profiles with a ``user_id`` column, aligned likewise.

        Raises:
            DataError: a missing column, bad weights or timestamps, or (``missing="error"``) an
                id the given vocabulary does not hold.
        """
        for col in (Columns.USER_ID, Columns.ITEM_ID):
            if col not in frame.columns:
                raise DataError("required column is missing", column=col)
        if missing not in ("error", "drop", "extend"):
            raise ValueError(f"missing must be 'error', 'drop' or 'extend', not {missing!r}")
        if isinstance(users, pd.DataFrame):
            users, user_features = None, users if user_features is None else user_features
        if isinstance(items, pd.DataFrame):
            items, item_features = None, items if item_features is None else item_features
        user_ids, item_ids = frame[Columns.USER_ID], frame[Columns.ITEM_ID]
        weights = _weights(frame, weight)
        times = to_epoch_seconds(frame[Columns.TIMESTAMP]) if Columns.TIMESTAMP in frame else None
        keep = np.ones(len(frame), bool)
        for given, ids, col in (
            (users, user_ids, Columns.USER_ID),
            (items, item_ids, Columns.ITEM_ID),
        ):
            if given is None or missing == "extend":
                continue
            unknown = given.numbers(ids) < 0
            if unknown.any() and missing == "error":
                row = int(np.flatnonzero(unknown)[0])
                raise DataError(
                    f"id {str(ids.iloc[row])!r} is not in the given vocabulary "
                    f"({int(unknown.sum()):,} rows have unknown {col}s)",
                    column=col,
                    row=row + 1,
                )
            keep &= ~unknown
        if not keep.all():  # a vocabulary built here holds the kept rows' ids only
            user_ids, item_ids = user_ids[keep], item_ids[keep]
            weights = weights[keep] if weights is not None else None
            times = times[keep] if times is not None else None
        user_vocab = _vocabulary(users, missing, user_ids, user_features, Columns.USER_ID)
        item_vocab = _vocabulary(items, missing, item_ids, item_features, Columns.ITEM_ID)
        user_nums = user_vocab.numbers(user_ids)
        item_nums = item_vocab.numbers(item_ids)
        inter = Interactions.from_arrays(user_nums, item_nums, weights, times)
        return cls(
            user_vocab,
            item_vocab,
            inter,
            _aligned(item_features, Columns.ITEM_ID, item_vocab),
            _aligned(user_features, Columns.USER_ID, user_vocab),
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


def _vocabulary(
    given: Vocabulary | None,
    missing: Missing,
    ids: pd.Series,
    features: pd.DataFrame | None,
    key: str,
) -> Vocabulary:
    """The vocabulary ``from_frame`` numbers ``key`` with: ``given`` (extended by the frame's and
    the features' new ids when ``missing="extend"``), or one built from them."""
    extra = features[key] if features is not None and key in features.columns else None
    if given is not None and missing != "extend":
        return given
    values = ids if extra is None else pd.concat([ids, extra], ignore_index=True)
    if given is None:
        return Vocabulary.from_values(values)
    new = given.numbers(values) < 0
    return given.extend(values[new]) if new.any() else given  # O(batch) when nothing is new


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
