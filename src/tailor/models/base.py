"""The model contract: the Recommender protocol, its capabilities, and the base class that
implements the public methods once.

A model subclasses :class:`RecommenderBase`, declares its learned arrays once in ``params_spec``
and writes ``_fit``, ``_score`` and ``_partial_fit``. ID mapping, exclusion of seen items,
candidate filtering, top-n selection, finiteness checks, growing the vocabularies for fold-in and
saving/loading the learned state (derived from ``params_spec``) live here.

Protocols (``typing.Protocol``, checked with ``isinstance``):

- :class:`Recommender`: every model (fit, partial_fit, recommend, score, score_rows, state).
- :class:`SupportsSimilarItems`: ``similar_items(item_ids, n)``.
- :class:`SupportsFactors`: factor models; scores are inner products of ``user_factors`` and
  ``item_factors`` plus ``factor_offsets()`` (for ANN indexes and explanations).
- :class:`SupportsHistory`: ``score_history(item_nums, weights)``, scores for an ad-hoc history
  (a session's recent items, a cart): the item-item and factor models.
- :class:`SupportsDeferredWeights`: ``partial_fit(frame, defer_weights=True)`` and
  ``refresh_weights()``, a fold-in whose costly item-item weights may lag (EASE, RecencyEASE).
"""

from __future__ import annotations

import html
import inspect
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, ValidationError

from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.data.recs import Recs, RecsFrame
from tailor.data.vocab import Vocabulary
from tailor.errors import (
    ArtifactError,
    ConfigError,
    ModelFitError,
    NotFittedError,
    format_validation_error,
)
from tailor.models._matrices import grow_csr
from tailor.models._params import (
    ITEMS_KEY,
    SEEN_KEYS,
    USERS_KEY,
    Dense,
    ParamSpec,
    check_artifact,
    csr_from_params,
    csr_params,
)
from tailor.random import RNGLike

SCORE_BATCH = 2048
"""Users scored per block in ``recommend``: bounds memory at SCORE_BATCH x n_items floats."""
TOP_N_KERNEL_MAX = 100
NUMPY_MAX_CELLS = 20_000
"""Score blocks this small are ranked with numpy (same lists, same ties): as fast there, and a
short command (a popularity ranking, ``tailor recommend`` for a few users) need not load numba's
compiled kernels (about 0.6 s)."""
"""``top_n`` uses the one-pass numba kernel up to this list length, argpartition above it."""


class ModelConfig(BaseModel):
    """Base of every model's hyperparameters: frozen and strict about unknown keys.

    A field's docstring is its description (``use_attribute_docstrings``): the models' generated
    ``__init__`` documentation lists them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    seed: int | None = None
    """Random seed; None draws fresh entropy."""


class UnknownUsersWarning(UserWarning):
    """``recommend`` was asked for users the model does not know; they get no rows (their ids
    are in the result's ``attrs["unknown_users"]``)."""


def validated_config(config_class: type[ModelConfig], params: Mapping[str, Any], name: str) -> Any:
    """``config_class`` built from ``params``; a ConfigError names every problem (and lists the
    valid keys when one is unknown) otherwise."""
    try:
        return config_class.model_validate(dict(params))
    except ValidationError as exc:
        problems = format_validation_error(exc)
        if any(e["type"] == "extra_forbidden" for e in exc.errors()):
            problems += f" (valid keys: {', '.join(sorted(config_class.model_fields))})"
        raise ConfigError(f"invalid parameters for model {name!r}: {problems}") from None


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

    threads: int = 0
    """Threads for fitting; 0 = the model's automatic choice."""
    rng: RNGLike = None
    """Overrides ``config.seed`` for one run."""
    validation: Dataset | pd.DataFrame | None = None
    """Held-out interactions (early stopping, learning curves), when the model uses them. A
    DataFrame is put onto the training vocabularies by ``fit`` (rows with unknown users or items
    left out)."""
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
    """What every tailor model offers; the type used at every seam (artifacts, model folders,
    evaluation, serving). :class:`RecommenderBase` implements it.

    An unfitted model has empty vocabularies; everything but ``fit`` (and ``load_state``)
    raises NotFittedError until it is fitted.
    """

    name: ClassVar[str]
    """The registry name (``tailor.models.registry.MODELS``), written to manifests."""

    @property
    def config(self) -> ModelConfig:
        """The hyperparameters (frozen)."""
        ...

    @property
    def users(self) -> Vocabulary:
        """user_id <-> user_num of the fitted model."""
        ...

    @property
    def items(self) -> Vocabulary:
        """item_id <-> item_num of the fitted model."""
        ...

    @property
    def seen(self) -> sp.csr_array:
        """Users x items CSR matrix, 1 per (user, item) pair the model was fitted on or folded
        in; ``exclude_seen`` drops these."""
        ...

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` or ``load_state`` has run."""
        ...

    @property
    def uses_weights(self) -> bool:
        """Whether fitting with this config reads interaction weights."""
        ...

    def require_fitted(self) -> None:
        """Raise NotFittedError unless fitted."""
        ...

    def fit(self, data: Dataset | pd.DataFrame, options: FitOptions = ...) -> Self:
        """Learn from ``data`` (a Dataset or an interaction DataFrame); returns self."""
        ...

    def partial_fit(self, frame: pd.DataFrame | Dataset) -> Self:
        """Fold new interactions (and new users and items) in without a full refit."""
        ...

    def score(self, user_ids: Any, item_ids: Any) -> np.ndarray:
        """float32 scores of aligned (user_id, item_id) pairs; NaN where either is unknown."""
        ...

    def score_rows(self, user_nums: np.ndarray) -> np.ndarray:
        """float32 (len(user_nums), n_items) scores of every item; NaN: cannot be scored."""
        ...

    def recommend(
        self,
        user_ids: Any,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        exclude: Interactions | None = None,
        candidates: Any = None,
    ) -> RecsFrame:
        """Top-``n`` items per known user, best first (user_id, item_id, rank, score); unknown
        users are reported (a warning, ``attrs["unknown_users"]``), not answered."""
        ...

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The whole learned state as named arrays (what ``params.npz`` holds)."""
        ...

    def load_state(self, arrays: Mapping[str, np.ndarray], *, source: str = ...) -> None:
        """Restore (after checking) what ``state_arrays`` returned."""
        ...

    def save(self, path: Path | str) -> None:
        """Write the model folder (manifest.json + params.npz)."""
        ...


SupportsPartialFit = Recommender
"""Fold-in is a base capability: every model has ``partial_fit``. Kept as an alias of
:class:`Recommender` for code written when only some models had it."""


@runtime_checkable
class SupportsSimilarItems(Protocol):
    """Models that can list the items most similar to a given item."""

    def similar_items(self, item_ids: Any, n: int = 10) -> Recs:
        """The ``n`` most similar items of each query item; ``user_id`` holds the query id."""
        ...


@runtime_checkable
class SupportsFactors(Protocol):
    """Factor models: ``score_rows(u) == user_factors[u] @ item_factors.T + item_offsets +
    user_offsets[u]`` with ``(user_offsets, item_offsets) = factor_offsets()`` (up to float32
    rounding). ALS, BPR and mf-sgd; serving builds its ANN index from this, explanations use
    the factors. An unfitted model holds empty (0 x 0) factors.
    """

    @property
    def user_factors(self) -> np.ndarray:
        """float32 (n_users, k)."""
        ...

    @property
    def item_factors(self) -> np.ndarray:
        """float32 (n_items, k)."""
        ...

    def factor_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 per-user (n_users,) and per-item (n_items,) terms added to the inner
        product (zeros for a pure inner-product model)."""
        ...


@runtime_checkable
class SupportsHistory(Protocol):
    """Models that score an ad-hoc history, one that is not a row of the model: an anonymous
    session's recent items, a cart, a known user's items plus the ones just viewed. The
    item-item models (ItemKNN, EASE, RecencyEASE) build the profile row their ``fit`` builds for
    a user; the factor models (mf-sgd, ALS, BPR) fold a user vector in from the item factors.
    Popularity does not (its scores ignore the user): the pipeline answers with popular items.
    """

    def score_history(self, item_nums: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """float32 (n_items,) scores of every item for the history ``item_nums`` (item numbers,
        oldest first; repeats allowed) with optional per-entry ``weights`` (1 each when None),
        NaN / ``no_evidence_score`` where ``score_rows`` would have them. The history's own
        items are scored too (leave them out with the pipeline's ``exclude_seen``).

        Raises:
            NotFittedError: before ``fit``.
            IndexError: an item number outside ``0 .. n_items - 1``.
            ValueError: ``weights`` of another length than ``item_nums``, or not finite.
        """
        ...

    def user_history(self, user_num: int) -> tuple[np.ndarray, np.ndarray | None]:
        """A known user's items as a history: (item numbers oldest first, where the model keeps
        an order; their weights, None for 1 each), such that ``score_history`` of it scores
        like ``score_rows([user_num])`` (exactly for the item-item models; the factor models
        fold a vector in instead of the learned one). A history that continues the user's own
        appends its items after these (``Pipeline.recommend_history``).

        Raises:
            NotFittedError: before ``fit``.
            IndexError: a user number outside ``0 .. n_users - 1``.
        """
        ...


@runtime_checkable
class SupportsDeferredWeights(Protocol):
    """Models whose fold-in has a cheap part (profiles, trend, vocabularies, ``seen``) and a
    costly one (EASE's item-item weights) that may lag: ``partial_fit(frame,
    defer_weights=True)`` applies the cheap part at once and records the users whose rows
    changed; ``refresh_weights()`` folds every recorded change into the weights in one update
    (a user of several batches counts once), equal to folding each batch in at once up to
    float rounding. ``state_arrays`` (so ``save``) refreshes first: a saved model never holds
    lagging weights."""

    @property
    def weights_pending(self) -> bool:
        """True while folded-in batches wait for ``refresh_weights``."""
        ...

    def partial_fit(self, frame: pd.DataFrame | Dataset, *, defer_weights: bool = False) -> Self:
        """``Recommender.partial_fit``; with ``defer_weights`` the weights wait."""
        ...

    def refresh_weights(self) -> None:
        """Fold every deferred batch into the weights (nothing when none waits)."""
        ...


EMPTY_FACTORS: np.ndarray = np.zeros((0, 0), np.float32)
"""The factors of an unfitted factor model (read-only, shared)."""
EMPTY_FACTORS.flags.writeable = False


@dataclass(frozen=True)
class FoldIn:
    """What ``RecommenderBase.partial_fit`` hands a model's ``_partial_fit`` hook.

    The model's ``users``, ``items`` and ``seen`` are already grown when the hook runs.
    """

    batch: Dataset
    """The new interactions over the grown vocabularies (the model's ``users``/``items``)."""
    n_users: int
    """Users before the batch: numbers ``>= n_users`` are new."""
    n_items: int
    """Items before the batch: numbers ``>= n_items`` are new."""
    seen: sp.csr_array
    """``seen`` before the batch (n_users x n_items)."""

    @property
    def touched_users(self) -> np.ndarray:
        """Sorted distinct user numbers in the batch (int64)."""
        return np.unique(self.batch.interactions.user_nums).astype(np.int64)


C = TypeVar("C", bound=ModelConfig)


class RecommenderBase(Generic[C]):
    """Template implementation of :class:`Recommender`.

    Subclasses set ``config_class`` and ``name`` and implement ``_fit`` and ``_score``.

    Hyperparameters follow scikit-learn's conventions: keyword arguments of the constructor
    (``ItemKNN(k=50)``; each subclass's ``__init__`` signature and documentation are generated
    from its ``config_class``, so ``help(ItemKNN)`` lists them), ``get_params()`` and
    ``set_params(**params)`` (validated by the config class). The learned state is
    ``state_arrays()`` / ``load_state()``.
    """

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    name: ClassVar[str] = "base"
    params_spec: ClassVar[ParamSpec] = {}
    """THE declaration of the learned arrays: name -> ``Dense`` (an ndarray attribute of that
    name) or ``Sparse`` (a scipy CSR attribute, saved as ``NAME_data/_indices/_indptr/_shape``).
    Saving, loading, artifact validation, the finiteness check and version hashes derive from
    it; a model declares nothing else for persistence."""
    no_evidence_score: ClassVar[float | None] = None
    """A score meaning "no evidence" rather than "scored low" (None: every finite score counts).
    The pipeline (``tailor recommend``, evaluation, serving) never lists such items
    (``masked_top_n(missing=...)``): the list runs short and is filled from the popular lists
    instead of being padded with ties in item order. ``recommend`` itself still lists them
    (the raw model's answer). ItemKNN: 0.0 (no neighbour of the user's history reaches it)."""

    config: C
    users: Vocabulary
    items: Vocabulary
    seen: sp.csr_array
    """Users x items matrix of training interactions, used by ``exclude_seen``."""

    fit_seconds: float | None
    """Wall-clock seconds of the last ``fit`` (None for a loaded or unfitted model); saved in the
    manifest."""

    def __init__(self, config: C | None = None, **kwargs: Any) -> None:
        if config is not None and kwargs:
            raise TypeError("pass either a config or keyword hyperparameters, not both")
        if config is not None and not isinstance(config, self.config_class):
            raise TypeError(
                f"config must be a {self.config_class.__name__}, not {type(config).__name__}; "
                "pass hyperparameters as keyword arguments"
            )
        self.config = (
            config if config is not None else validated_config(self.config_class, kwargs, self.name)
        )
        self.users = Vocabulary()
        self.items = Vocabulary()
        self.seen = sp.csr_array((0, 0), dtype=np.float32)
        self._fitted = False
        self.fit_seconds = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "config_class" in cls.__dict__ and "__init__" not in cls.__dict__:
            _expose_hyperparameters(cls)

    def __repr__(self) -> str:
        """scikit-learn style: the class and the hyperparameters that differ from the defaults."""
        default = self.config_class()
        changed = {k: v for k, v in self.get_params().items() if getattr(default, k, object()) != v}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def _repr_html_(self) -> str:
        """Notebook display: the model, whether it is fitted (and on how much) and every
        hyperparameter (changed ones in bold)."""
        default = self.config_class()
        rows = []
        for key, value in self.get_params().items():
            cell = html.escape(repr(value))
            if getattr(default, key, object()) != value:
                cell = f"<b>{cell}</b>"
            rows.append(f"<tr><td>{html.escape(key)}</td><td>{cell}</td></tr>")
        if self.is_fitted:
            state = (
                f"fitted: {len(self.users):,} users, {len(self.items):,} items, "
                f"{self.seen.nnz:,} seen pairs"
            )
            if self.fit_seconds is not None:
                state += f", fit in {self.fit_seconds:.2f} s"
        else:
            state = "not fitted"
        return (
            f"<div><p><b>{html.escape(type(self).__name__)}</b> "
            f"(<code>{html.escape(self.name)}</code>): {state}</p>"
            "<table><thead><tr><th>hyperparameter</th><th>value</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )

    # ---- hyperparameters (scikit-learn's get_params / set_params) ---------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters: every field of ``config`` by name (``deep`` is accepted for
        scikit-learn compatibility; a model holds no nested estimators)."""
        return dict(self.config.model_dump())

    def set_params(self, **params: Any) -> Self:
        """Change hyperparameters; returns self.

        The new values are validated together with the others by the config class (a wrong
        value or unknown key raises ConfigError and leaves the model unchanged). As in
        scikit-learn, a fitted model keeps its learned state until the next ``fit``.
        """
        merged = {**self.config.model_dump(), **params}
        self.config = validated_config(self.config_class, merged, self.name)
        return self

    # ---- fitting --------------------------------------------------------------------------
    def fit(self, data: Dataset | pd.DataFrame, options: FitOptions = FitOptions()) -> Self:
        """Learn from ``data``; returns self.

        Args:
            data: a Dataset, or an interaction DataFrame (``user_id``, ``item_id``, optional
                ``timestamp``, ``weight``/``value``; read by ``Dataset.from_frame``).
            options: how to fit (threads, seed override, validation data, epoch callback); a
                validation DataFrame is put onto the training vocabularies, leaving out rows
                of unknown users or items.

        Raises:
            DataError: a frame with a missing column or bad values.
        """
        if isinstance(data, pd.DataFrame):
            data = Dataset.from_frame(data)
        if isinstance(options.validation, pd.DataFrame):
            val = Dataset.from_frame(
                options.validation, users=data.users, items=data.items, missing="drop"
            )
            options = replace(options, validation=val)
        started = time.perf_counter()
        self.users = data.users
        self.items = data.items
        self.seen = data.matrix(weights=False)
        self._fit(data, options)
        self._fitted = True
        self._check_finite()
        self.fit_seconds = time.perf_counter() - started
        return self

    def _fit(self, data: Dataset, options: FitOptions) -> None:
        raise NotImplementedError

    def _check_finite(self) -> None:
        for key, arr in self._learned_arrays().items():
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise ModelFitError(f"{self.name}: learned array {key!r} has non-finite values")

    @property
    def uses_weights(self) -> bool:
        """Whether fitting with this config reads interaction weights (event-type weights,
        quantities, ratings); False: only that a (user, item) pair occurred (docs/data.md,
        "Which models use the weights")."""
        return False

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` (or ``load_state``) has run."""
        return self._fitted

    def require_fitted(self) -> None:
        """Raise NotFittedError unless ``fit`` (or ``load``) has run."""
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

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
        self.require_fitted()
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
    ) -> RecsFrame:
        """Top-``n`` items for each user, best first.

        Args:
            user_ids: external ids (one id or a sequence).
            n: list length per user.
            exclude_seen: drop items the user interacted with in training.
            exclude: further (user_num, item_num) pairs to drop, over this model's vocabularies.
            candidates: restrict to these item ids (unknown ones are ignored).

        Returns:
            A DataFrame (:class:`~tailor.data.recs.RecsFrame`) with columns user_id, item_id,
            rank, score: users in request order, ranks from 1. Users the model does not know
            get no rows; they are reported, not dropped silently: an
            :class:`UnknownUsersWarning` says how many, and their ids are in
            ``frame.attrs["unknown_users"]`` (answer them with a fallback such as Popularity,
            or use :class:`tailor.pipeline.Pipeline`, which does).
        """
        self.require_fitted()
        if n < 1:
            raise ValueError("n must be at least 1")
        ids = np.atleast_1d(np.asarray(user_ids)).astype(str)
        nums = self.users.numbers(ids)
        known = np.flatnonzero(nums >= 0)
        unknown = _unknown_ids(ids, nums)
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:3]) + (", ..." if len(unknown) > 3 else "")
            warnings.warn(
                f"{len(unknown):,} of {len(set(ids.tolist())):,} requested users are unknown to "
                f"this {self.name} model and get no recommendations ({shown}); their ids are in "
                'the result\'s attrs["unknown_users"]',
                UnknownUsersWarning,
                stacklevel=2,
            )
        allowed = self._candidate_mask(candidates)
        extra = exclude.matrix(len(self.users), len(self.items), weights=False) if exclude else None
        from tailor.models._topn import masked_top_n

        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for start in range(0, len(known), SCORE_BATCH):
            rows = known[start : start + SCORE_BATCH]
            users = nums[rows]
            banned = [
                self.seen[users] if exclude_seen else None,
                extra[users] if extra is not None else None,
            ]
            top = masked_top_n(self._score(users), n, allowed=allowed, banned=banned)
            parts.append((rows, *top))
        return RecsFrame.from_recs(self._to_recs(ids, parts), unknown)

    def _candidate_mask(self, candidates: Any) -> np.ndarray | None:
        if candidates is None:
            return None
        mask = np.zeros(len(self.items), bool)
        nums = self.items.numbers(np.asarray(candidates))
        mask[nums[nums >= 0]] = True
        return mask

    def _to_recs(
        self, ids: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    ) -> Recs:
        return ranked_recs(ids, self.items, parts)

    # ---- incremental updates ----------------------------------------------------------------
    def partial_fit(self, frame: pd.DataFrame | Dataset) -> Self:
        """Fold new interactions in without a full refit; returns self.

        New users and items join the vocabularies (appended: existing numbers never change) and
        the batch's pairs join ``seen``; then the model's ``_partial_fit`` updates its learned
        state (what that means is documented per model). Hyperparameters never change.

        Args:
            frame: interactions as for ``Dataset.from_frame`` (user_id, item_id, optional
                weight/value and timestamp), or a Dataset (mapped by its ids).

        Raises:
            NotFittedError: before ``fit``.
            DataError: a missing column or bad weights/timestamps (the model is unchanged).
        """
        self.require_fitted()
        if isinstance(frame, Dataset):
            frame = frame.to_frame()
        batch = Dataset.from_frame(frame, users=self.users, items=self.items, missing="extend")
        fold = FoldIn(batch, len(self.users), len(self.items), self.seen)
        added = batch.matrix(weights=False)
        old = grow_csr(self.seen, (batch.n_users, batch.n_items))
        merged = sp.csr_array(old + added)
        merged.data[:] = 1.0
        self.users, self.items, self.seen = batch.users, batch.items, merged
        self._partial_fit(fold)
        self._check_finite()
        return self

    def _partial_fit(self, fold: FoldIn) -> None:
        """Update the learned state for ``fold`` (vocabularies and ``seen`` are grown)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _partial_fit")

    # ---- persistence ----------------------------------------------------------------------
    def _learned_arrays(self) -> dict[str, np.ndarray]:
        """The arrays ``params_spec`` declares, by their names in ``params.npz``."""
        out: dict[str, np.ndarray] = {}
        for name, entry in self.params_spec.items():
            value = getattr(self, name)
            if isinstance(entry, Dense):
                out[name] = value
            else:
                out.update(csr_params(name, value))
        return out

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The whole learned state as named arrays, exactly what ``params.npz`` holds: the id
        vocabularies (``_users``, ``_items``), ``seen`` (``_seen_indptr``, ``_seen_indices``)
        and the arrays ``params_spec`` declares. The arrays are the model's own (no copies).
        """
        self.require_fitted()
        return {
            USERS_KEY: self.users.ids,
            ITEMS_KEY: self.items.ids,
            SEEN_KEYS[0]: self.seen.indptr,
            SEEN_KEYS[1]: self.seen.indices,
            **self._learned_arrays(),
        }

    def load_state(self, arrays: Mapping[str, np.ndarray], *, source: str = "state") -> None:
        """Restore what ``state_arrays`` returned; the model is fitted afterwards.

        Every array is checked first against ``params_spec`` and the vocabulary sizes (dtype
        kind, shape, finite values, CSR structure), so a damaged or foreign state is refused
        with an ArtifactError naming ``source`` and the array; the model is unchanged then.
        Loading from disk is ``tailor.models.artifacts.load_model``: construct from the
        manifest's config, then this.
        """
        n_users = len(arrays[USERS_KEY]) if USERS_KEY in arrays else 0
        n_items = len(arrays[ITEMS_KEY]) if ITEMS_KEY in arrays else 0
        check_artifact(arrays, self.params_spec, n_users, n_items, source)
        try:
            users, items = Vocabulary(arrays[USERS_KEY]), Vocabulary(arrays[ITEMS_KEY])
        except ValueError as exc:  # duplicated ids
            raise ArtifactError(f"{source}: {exc}") from None
        indptr, indices = arrays[SEEN_KEYS[0]], arrays[SEEN_KEYS[1]]
        seen = sp.csr_array(
            (np.ones(len(indices), np.float32), indices, indptr), shape=(len(users), len(items))
        )
        for name, entry in self.params_spec.items():
            if isinstance(entry, Dense):
                setattr(self, name, np.ascontiguousarray(arrays[name]))
            else:
                setattr(self, name, csr_from_params(name, arrays))
        self.users, self.items, self.seen = users, items, seen
        self._fitted = True
        self._state_loaded()

    def _state_loaded(self) -> None:
        """Hook: rebuild derived (unsaved) state after ``load_state``; most models need none."""

    def save(self, path: Path | str) -> None:
        """Write the model as a directory (manifest.json + params.npz), no pickle; the manifest
        records the hyperparameters and the last fit's time."""
        from tailor.models.artifacts import save_model

        save_model(self, Path(path), fit_seconds=self.fit_seconds)

    @classmethod
    def load(cls, path: Path | str) -> Self:
        """Read a model saved by ``save``: construct it from the manifest's config, then
        ``load_state`` the checked arrays."""
        from tailor.models.artifacts import load_model

        model = load_model(Path(path))
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def _unknown_ids(ids: np.ndarray, nums: np.ndarray) -> list[str]:
    """The ids whose number is -1, first occurrences in order."""
    missing = ids[nums < 0]
    if not len(missing):
        return []
    _, first = np.unique(missing, return_index=True)
    return [str(u) for u in missing[np.sort(first)]]


def _expose_hyperparameters(cls: type[RecommenderBase[Any]]) -> None:
    """Give ``cls`` an ``__init__`` whose signature and docstring list its config's fields, so
    ``inspect.signature(cls)``, ``help(cls)`` and IDEs show the keyword hyperparameters."""
    config_class = cls.config_class
    params = [
        inspect.Parameter(
            "config",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=None,
            annotation=f"{config_class.__name__} | None",
        )
    ]
    lines = [
        f"Create an unfitted {cls.__name__}.",
        "",
        f"Hyperparameters are keyword arguments, validated by ``{config_class.__name__}`` (a wrong",
        "value or an unknown key raises ConfigError); or pass one config object as ``config``.",
        "Read them back with ``get_params()``, change them with ``set_params(**params)``.",
        "",
        "Keyword arguments:",
    ]
    for key, field in config_class.model_fields.items():
        default = field.get_default(call_default_factory=True)
        params.append(
            inspect.Parameter(
                key, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=field.annotation
            )
        )
        kind = inspect.formatannotation(field.annotation)
        lines.append(f"    {key} ({kind}, default {default!r}):")
        for text in (field.description or "").splitlines() or ["(undocumented)"]:
            lines.append(f"        {text.strip()}")
    inherited = cls.__init__

    def __init__(self: Any, config: Any = None, **kwargs: Any) -> None:
        inherited(self, config, **kwargs)

    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    __init__.__signature__ = inspect.Signature([self_param, *params])  # type: ignore[attr-defined]
    __init__.__doc__ = "\n".join(lines)
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    setattr(cls, "__init__", __init__)  # noqa: B010 (mypy refuses assigning a method)
    setattr(cls, "__signature__", inspect.Signature(params))  # noqa: B010


def ranked_recs(
    ids: np.ndarray,
    items: Vocabulary,
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> Recs:
    """Recs from top-n blocks: each part is ``(rows, idx, vals)`` with ``rows`` indexing
    ``ids`` and ``idx``/``vals`` from ``top_n``; non-finite entries are left out."""
    if not parts:
        return Recs.empty()
    rows = np.concatenate([np.repeat(r, t.shape[1]) for r, t, _ in parts])
    nums = np.concatenate([t.ravel() for _, t, _ in parts])
    scores = np.concatenate([s.ravel() for _, _, s in parts])
    width = parts[0][1].shape[1]
    ranks = np.tile(np.arange(1, width + 1, dtype=np.int32), len(rows) // max(width, 1))
    keep = np.isfinite(scores)
    return Recs(ids[rows[keep]], items.id_of(nums[keep]), scores[keep], ranks[keep])


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``n`` largest entries per row, sorted descending.

    Within a list, tied scores are ordered by lower column index; the result is deterministic.
    """
    n = min(n, scores.shape[1])
    if n == 0:
        return np.empty((scores.shape[0], 0), np.int64), np.empty((scores.shape[0], 0), np.float32)
    if n <= TOP_N_KERNEL_MAX and scores.dtype.kind == "f" and scores.size > NUMPY_MAX_CELLS:
        from tailor.models._topn import top_n_rows

        return top_n_rows(np.ascontiguousarray(scores), n)
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
