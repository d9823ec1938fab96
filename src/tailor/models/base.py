"""The Recommender protocol and the base class that implements its public methods once.

A model subclasses :class:`RecommenderBase` and writes ``_fit``, ``_score`` and, for save/load,
``_get_params``/``_set_params``. ID mapping, exclusion of seen items, candidate filtering, top-n
selection and finiteness checks live here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict

from tailor.data.columns import Columns
from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.data.recs import Recs
from tailor.data.vocab import Vocabulary
from tailor.errors import ConfigError, DataError, ModelFitError, NotFittedError
from tailor.random import RNGLike

SCORE_BATCH = 2048
"""Users scored per block in ``recommend``: bounds memory at SCORE_BATCH x n_items floats."""
TOP_N_KERNEL_MAX = 100
"""``top_n`` uses the one-pass numba kernel up to this list length, argpartition above it."""


class ModelConfig(BaseModel):
    """Base of every model's hyperparameters: frozen and strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int | None = None
    """Random seed; None draws fresh entropy."""


def max_threads() -> int:
    """The most threads a fit may ask for: four per CPU core (more only thrashes, and OpenMP
    libraries such as implicit's crash on absurd counts)."""
    return (os.cpu_count() or 1) * 4


@dataclass(frozen=True)
class FitOptions:
    """How a fit runs (not what the model is).

    Raises:
        ConfigError: ``threads`` is not an integer in ``[0, max_threads()]``.
    """

    device: str = "cpu"
    threads: int = 0
    """Threads for fitting; 0 = the model's automatic choice."""
    rng: RNGLike = None
    """Overrides ``config.seed`` for one run."""
    validation: Dataset | None = None
    """Held-out interactions for early stopping, when the model supports it."""
    on_epoch: Callable[[int, Mapping[str, float]], None] | None = None
    """Called after each epoch of iterative models with the epoch's metrics (progress, pruning)."""

    def __post_init__(self) -> None:
        top = max_threads()
        threads = self.threads
        if isinstance(threads, bool) or not isinstance(threads, int | np.integer):
            raise ConfigError(f"threads must be an integer in [0, {top}], got {threads!r}")
        if not 0 <= threads <= top:
            raise ConfigError(
                f"threads must be in [0, {top}] (0 = automatic; at most 4 per CPU core), "
                f"got {threads}"
            )


@runtime_checkable
class Recommender(Protocol):
    """What every tailor model offers."""

    config: ModelConfig

    def fit(self, data: Dataset, options: FitOptions = ...) -> Self: ...

    def score(self, user_ids: Any, item_ids: Any) -> np.ndarray: ...

    def recommend(
        self,
        user_ids: Any,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        exclude: Interactions | None = None,
        candidates: Any = None,
    ) -> Recs: ...

    def save(self, path: Path) -> None: ...


@runtime_checkable
class SupportsPartialFit(Protocol):
    """Models that fold new users, items and interactions in without a full retrain."""

    def partial_fit(self, frame: Any) -> Self: ...


@runtime_checkable
class SupportsSimilarItems(Protocol):
    """Models that can list the items most similar to a given item."""

    def similar_items(self, item_ids: Any, n: int = 10) -> Recs: ...


C = TypeVar("C", bound=ModelConfig)


class RecommenderBase(Generic[C]):
    """Template implementation of :class:`Recommender`.

    Subclasses set ``config_class`` and ``name`` and implement ``_fit`` and ``_score``.
    """

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    name: ClassVar[str] = "base"

    config: C
    users: Vocabulary
    items: Vocabulary
    seen: sp.csr_array
    """Users x items matrix of training interactions, used by ``exclude_seen``."""

    def __init__(self, config: C | None = None, **kwargs: Any) -> None:
        if config is not None and kwargs:
            raise TypeError("pass either a config or keyword hyperparameters, not both")
        self.config = config if config is not None else self.config_class(**kwargs)  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ---- fitting --------------------------------------------------------------------------
    def fit(self, data: Dataset, options: FitOptions = FitOptions()) -> Self:
        """Learn from ``data``; returns self."""
        self.users = data.users
        self.items = data.items
        self.seen = data.matrix(weights=False)
        self._fit(data, options)
        self._check_finite()
        return self

    def _fit(self, data: Dataset, options: FitOptions) -> None:
        raise NotImplementedError

    def _check_finite(self) -> None:
        for key, arr in self._get_params().items():
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise ModelFitError(f"{self.name}: learned array {key!r} has non-finite values")

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` has been called."""
        return hasattr(self, "users")

    def require_fitted(self) -> None:
        """Raise NotFittedError unless ``fit`` (or ``load``) has run."""
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def _require_fitted(self) -> None:  # kept for callers not yet switched to require_fitted
        self.require_fitted()

    # ---- scoring --------------------------------------------------------------------------
    def score_rows(self, user_nums: np.ndarray) -> np.ndarray:
        """Scores of every item for each user number: float32 array (len(user_nums), n_items).

        The public form of the ``_score`` hook: no id mapping, no masking (NaN marks an item
        the model cannot score). The result may be a read-only view: copy before writing.

        Raises:
            NotFittedError: before ``fit``.
            IndexError: a user number outside ``0 .. len(users) - 1``.
        """
        self.require_fitted()
        nums = np.asarray(user_nums, dtype=np.int64).reshape(-1)
        if len(nums) and (nums.min() < 0 or nums.max() >= len(self.users)):
            raise IndexError(f"user numbers must be in 0..{len(self.users) - 1}")
        return self._score(nums)

    def _score(self, user_nums: np.ndarray) -> np.ndarray:
        """Scores of every item for each user: float32 array (len(user_nums), n_items)."""
        raise NotImplementedError

    def _score_pairs(self, user_nums: np.ndarray, item_nums: np.ndarray) -> np.ndarray:
        """Scores of (user, item) pairs; override when a model can do it without full rows."""
        out = np.empty(len(user_nums), np.float32)
        for start in range(0, len(user_nums), SCORE_BATCH):
            sl = slice(start, start + SCORE_BATCH)
            uniq, inv = np.unique(user_nums[sl], return_inverse=True)
            out[sl] = self._score(uniq)[inv, item_nums[sl]]
        return out

    def score(self, user_ids: Any, item_ids: Any) -> np.ndarray:
        """Predicted scores for aligned (user_id, item_id) pairs; NaN where either is unknown."""
        self._require_fitted()
        u = self.users.numbers(user_ids)
        i = self.items.numbers(item_ids)
        if len(u) != len(i):
            raise ValueError("user_ids and item_ids must have equal lengths")
        out = np.full(len(u), np.nan, np.float32)
        known = (u >= 0) & (i >= 0)
        if known.any():
            out[known] = self._score_pairs(u[known], i[known])
        return out

    # ---- recommending ---------------------------------------------------------------------
    def recommend(
        self,
        user_ids: Any,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        exclude: Interactions | None = None,
        candidates: Any = None,
    ) -> Recs:
        """Top-``n`` items for each user, best first.

        Args:
            user_ids: external ids; users unknown to the model get no rows (the caller's fallback
                answers them).
            n: list length per user.
            exclude_seen: drop items the user interacted with in training.
            exclude: further (user_num, item_num) pairs to drop, over this model's vocabularies.
            candidates: restrict to these item ids (unknown ones are ignored).
        """
        self._require_fitted()
        if n < 1:
            raise ValueError("n must be at least 1")
        ids = np.asarray(user_ids).astype(str)
        nums = self.users.numbers(ids)
        known = np.flatnonzero(nums >= 0)
        allowed = self._candidate_mask(candidates)
        extra = exclude.matrix(len(self.users), len(self.items), weights=False) if exclude else None
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for start in range(0, len(known), SCORE_BATCH):
            rows = known[start : start + SCORE_BATCH]
            scores = np.array(self._score(nums[rows]), dtype=np.float32, copy=True, order="C")
            self._mask(scores, nums[rows], allowed, exclude_seen, extra)
            parts.append((rows, *top_n(scores, n)))
        return self._to_recs(ids, parts)

    def _candidate_mask(self, candidates: Any) -> np.ndarray | None:
        if candidates is None:
            return None
        mask = np.zeros(len(self.items), bool)
        nums = self.items.numbers(np.asarray(candidates))
        mask[nums[nums >= 0]] = True
        return mask

    def _mask(
        self,
        scores: np.ndarray,
        user_nums: np.ndarray,
        allowed: np.ndarray | None,
        exclude_seen: bool,
        extra: sp.csr_array | None,
    ) -> None:
        scores[~np.isfinite(scores)] = -np.inf
        if allowed is not None:
            scores[:, ~allowed] = -np.inf
        for mat, on in ((self.seen, exclude_seen), (extra, extra is not None)):
            if on and mat is not None:
                sub = mat[user_nums]
                rows = np.repeat(np.arange(len(user_nums)), np.diff(sub.indptr))
                scores[rows, sub.indices] = -np.inf

    def _to_recs(
        self, ids: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    ) -> Recs:
        if not parts:
            return Recs.empty()
        rows = np.concatenate([np.repeat(r, t.shape[1]) for r, t, _ in parts])
        items = np.concatenate([t.ravel() for _, t, _ in parts])
        scores = np.concatenate([s.ravel() for _, _, s in parts])
        width = parts[0][1].shape[1]
        ranks = np.tile(np.arange(1, width + 1, dtype=np.int32), len(rows) // max(width, 1))
        keep = np.isfinite(scores)
        return Recs(ids[rows[keep]], self.items.id_of(items[keep]), scores[keep], ranks[keep])

    # ---- incremental updates ----------------------------------------------------------------
    def _grow(self, frame: pd.DataFrame | Dataset) -> Interactions:
        """Fold a batch's ids into the vocabularies and ``seen``; return it over the new numbers.

        New users and items are appended (existing numbers never change) and the batch's pairs
        are added to ``seen``. Weights and timestamps are read as ``Dataset.from_frame`` does.
        Models call this at the start of ``partial_fit`` and then grow their own arrays to
        ``len(self.users)`` x ``len(self.items)``.
        """
        self._require_fitted()
        if isinstance(frame, Dataset):
            frame = frame.to_frame()
        for col in (Columns.USER_ID, Columns.ITEM_ID):
            if col not in frame.columns:
                raise DataError("required column is missing", column=col)
        users = self.users.extend(frame[Columns.USER_ID])
        items = self.items.extend(frame[Columns.ITEM_ID])
        batch = Dataset.from_frame(frame, item_vocab=items)
        inter = batch.interactions
        grown = Interactions(
            users.numbers(batch.users.id_of(inter.user_nums)),
            inter.item_nums,
            inter.weights,
            inter.timestamps,
        )
        seen = self.seen.tocoo()
        added = grown.matrix(len(users), len(items), weights=False).tocoo()
        merged = sp.csr_array(
            (
                np.ones(seen.nnz + added.nnz, np.float32),
                (np.concatenate([seen.row, added.row]), np.concatenate([seen.col, added.col])),
            ),
            shape=(len(users), len(items)),
        )
        merged.sum_duplicates()  # also sorts the indices
        merged.data[:] = 1.0
        self.users, self.items, self.seen = users, items, merged
        return grown

    # ---- persistence ----------------------------------------------------------------------
    def _get_params(self) -> dict[str, np.ndarray]:
        """Learned arrays to save; keys must not start with ``_``."""
        return {}

    def _set_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Restore learned arrays from ``_get_params``' output."""

    def save(self, path: Path | str) -> None:
        """Write the model as a directory (manifest.json + params.npz), no pickle."""
        from tailor.models.artifacts import save_model

        save_model(self, Path(path))

    @classmethod
    def load(cls, path: Path | str) -> Self:
        """Read a model saved by ``save``."""
        from tailor.models.artifacts import load_model

        model = load_model(Path(path))
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``n`` largest entries per row, sorted descending.

    Within a list, tied scores are ordered by lower column index; the result is deterministic.
    """
    n = min(n, scores.shape[1])
    if n == 0:
        return np.empty((scores.shape[0], 0), np.int64), np.empty((scores.shape[0], 0), np.float32)
    if n <= TOP_N_KERNEL_MAX and scores.dtype.kind == "f":
        from tailor.models._topn import top_n_rows

        return top_n_rows(np.ascontiguousarray(scores), n)  # type: ignore[no-any-return]
    if n < scores.shape[1]:
        part = _top_n_columns(scores, n)
    else:
        part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    return idx, np.take_along_axis(vals, order, axis=1)


def _top_n_columns(scores: np.ndarray, n: int) -> np.ndarray:
    """The columns of each row's ``n`` largest entries (unsorted); at the n-th value's ties, the
    lowest columns win, so the choice is deterministic (argpartition's is not)."""
    threshold = -np.partition(-scores, n - 1, axis=1)[:, n - 1 : n]
    greater = scores > threshold
    equal = scores == threshold
    need = n - greater.sum(axis=1, keepdims=True)
    chosen = greater | (equal & (np.cumsum(equal, axis=1) <= need))
    return np.nonzero(chosen)[1].reshape(scores.shape[0], n)
