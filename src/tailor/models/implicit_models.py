"""ALS and BPR from the ``implicit`` library, wrapped in tailor's Recommender protocol.

``implicit`` (the optional extra ``tailor[implicit]``) is imported only inside ``fit``: a saved
model scores, loads and folds new interactions in (``partial_fit``) without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from typing_extensions import override

from tailor.data.dataset import Dataset
from tailor.data.recs import Recs
from tailor.errors import ConfigError, ModelFitError
from tailor.models._matrices import add_interactions, grow_csr, interaction_matrix
from tailor.models._params import Dense, ParamSpec, Sparse
from tailor.models._similar import cosine_rows, similar_items_recs
from tailor.models.base import EMPTY_FACTORS, FitOptions, FoldIn, ModelConfig, RecommenderBase
from tailor.random import derive_rng

SMALL_NNZ = 50_000
"""Below this many interactions a fit with ``threads=0`` runs on one thread."""
SOLVE_BLOCK = 256
"""ALS fold-in solves this many users' (or items') normal equations at once."""


class ALSConfig(ModelConfig):
    """Hyperparameters of :class:`ALS`. Defaults: the best on average over the benchmark data sets
    (``bench/accuracy/defaults.py``, docs/benchmarks.md)."""

    factors: int = Field(32, ge=1)
    """Latent dimensions."""
    regularization: float = Field(0.1, ge=0.0)
    """L2 penalty :math:`\\lambda` on user and item factors."""
    iterations: int = Field(15, ge=1)
    """Alternating sweeps (users then items)."""
    alpha: float = Field(1.0, gt=0.0)
    """Confidence scaling: :math:`c_{ui} = \\alpha\\, r_{ui}` for observed pairs."""
    binary: bool = True
    """Use 1 per (user, item) pair instead of the summed interaction weights as :math:`r_{ui}`."""


class BPRConfig(ModelConfig):
    """Hyperparameters of :class:`BPR`. Defaults: the best on average over the benchmark data sets
    (``bench/accuracy/defaults.py``, docs/benchmarks.md)."""

    factors: int = Field(128, ge=1)
    """Latent dimensions (an item bias is added on top)."""
    learning_rate: float = Field(0.005, gt=0.0)
    """SGD step size."""
    regularization: float = Field(0.003, ge=0.0)
    """L2 penalty on the factors."""
    iterations: int = Field(100, ge=1)
    """Epochs over the positive pairs."""


C = TypeVar("C", bound=ModelConfig)


class _ImplicitMF(RecommenderBase[C]):
    """Shared part of the ``implicit`` wrappers: factors as data, dot-product scoring."""

    params_spec: ClassVar[ParamSpec] = {
        "user_factors": Dense("f", ("users", "k")),
        "item_factors": Dense("f", ("items", "k")),
    }
    user_factors: np.ndarray = EMPTY_FACTORS
    """float32 users x f matrix."""
    item_factors: np.ndarray = EMPTY_FACTORS
    """float32 items x f matrix."""
    _item_factors_t: np.ndarray = EMPTY_FACTORS
    implicit_estimator: ClassVar[tuple[str, str]]
    """Module and class of the ``implicit`` estimator that fits the model."""
    estimator_fields: ClassVar[tuple[str, ...]]
    """Config fields passed to that estimator as the keyword arguments of the same names."""

    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        try:
            from implicit.recommender_base import ModelFitError as ImplicitFitError
            from threadpoolctl import threadpool_limits
        except ImportError:
            raise _missing_implicit(self.name) from None
        fitted_on = self._user_items(data)
        user_items = sp.csr_matrix(fitted_on)
        seed = options.rng if options.rng is not None else self.config.seed
        # implicit parallelises itself; a multi-threaded BLAS inside it only oversubscribes
        with threadpool_limits(1, "blas"):
            estimator = self._estimator(seed, self._threads(options, user_items.nnz))
            try:
                callback = self._epoch_callback(options, estimator)
                estimator.fit(user_items, show_progress=False, callback=callback)
            except ImplicitFitError as exc:  # implicit's own class: not a TailorError
                raise ModelFitError(
                    f"{self.name}: training diverged ({exc}); extreme weights are the usual "
                    "cause: rescale the weight column (e.g. log1p) or raise regularization"
                ) from None
        self.user_factors = np.ascontiguousarray(estimator.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(estimator.item_factors, dtype=np.float32)
        self._keep_fitted_on(fitted_on)
        self._state_loaded()

    def _keep_fitted_on(self, user_items: sp.csr_array) -> None:
        """Hook: keep the fitted user-item matrix when fold-in needs it (ALS)."""

    def _epoch_callback(self, options: FitOptions, estimator: Any) -> Callable[..., None] | None:
        """implicit's per-epoch callback reporting to ``FitOptions.on_epoch``: the epoch's
        seconds and, with ``FitOptions.validation``, ``validation_ndcg@10`` of the factors as
        they stand after the epoch (each user's training items left out of the ranking, the
        metric mf-sgd reports), so learning curves and tuning's pruning see every epoch."""
        on_epoch = options.on_epoch
        if on_epoch is None:
            return None
        from tailor.models._mf_validation import ranking_metric, validation_set  # numba: fit only

        val = validation_set(options.validation, self.users, self.items)
        seen = self.seen

        def score_rows(user_nums: np.ndarray) -> np.ndarray:
            users = np.asarray(estimator.user_factors[user_nums], dtype=np.float32)
            items = np.asarray(estimator.item_factors, dtype=np.float32)
            scores: np.ndarray = users @ items.T
            return scores

        def callback(epoch: int, elapsed: float, *rest: Any) -> None:
            metrics = {"epoch": float(epoch + 1), "seconds": float(elapsed)}
            if val is not None:
                metrics["validation_ndcg@10"] = ranking_metric(score_rows, seen, val, "ndcg@10")
            on_epoch(epoch + 1, metrics)

        return callback

    @override
    def _state_loaded(self) -> None:
        self.user_factors = np.ascontiguousarray(self.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(self.item_factors, dtype=np.float32)
        # a contiguous transpose: BLAS is several times faster on it than on the strided view
        self._item_factors_t = np.ascontiguousarray(self.item_factors.T)

    def factor_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """Zeros: scores are plain inner products (``SupportsFactors``)."""
        self.require_fitted()
        return np.zeros(len(self.users), np.float32), np.zeros(len(self.items), np.float32)

    def _user_items(self, data: Dataset) -> sp.csr_array:
        return interaction_matrix(data, binary=True, half_life_days=None)

    def _threads(self, options: FitOptions, nnz: int) -> int:
        """``FitOptions.threads``; when 0 (auto), one thread for small matrices, where starting
        OpenMP threads costs more than the work, else implicit's default (all cores)."""
        if options.threads == 0 and nnz < SMALL_NNZ:
            return 1
        return options.threads

    def _estimator(self, seed: Any, threads: int) -> Any:
        """The unfitted ``implicit`` estimator ``implicit_estimator`` names, given the config's
        ``estimator_fields`` (implicit's keyword arguments of the same names), the thread count
        and the seed."""
        module_name, class_name = self.implicit_estimator
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise _missing_implicit(self.name) from None
        params = {field: getattr(self.config, field) for field in self.estimator_fields}
        return getattr(module, class_name)(**params, num_threads=threads, random_state=seed)

    @override
    def _partial_fit(self, fold: FoldIn) -> None:
        """Fold-in shared by ALS and BPR: the factor matrices grow by one row per user and item
        new to the model (``_new_rows``), ``_fold_in`` moves the rows it may in place, and the
        result becomes the state. ``rng`` is seeded by the config's seed and the batch's shape,
        so seeded fold-ins repeat exactly."""
        batch = fold.batch
        rng = derive_rng(
            self.config.seed, "partial_fit", fold.n_users, fold.n_items, len(batch.interactions)
        )
        users = np.vstack(
            [self.user_factors, self._new_rows(rng, batch.n_users - fold.n_users, users=True)]
        )
        items = np.vstack(
            [self.item_factors, self._new_rows(rng, batch.n_items - fold.n_items, users=False)]
        )
        self._fold_in(fold, users, items, rng)
        self.user_factors, self.item_factors = users, items
        self._state_loaded()

    def _new_rows(self, rng: np.random.Generator, n: int, *, users: bool) -> np.ndarray:
        """float32 starting factors of ``n`` users (or items) new to the model."""
        raise NotImplementedError

    def _fold_in(
        self, fold: FoldIn, users: np.ndarray, items: np.ndarray, rng: np.random.Generator
    ) -> None:
        """Update, in place, the rows of the grown ``users`` and ``items`` factors that the
        batch moves (the batch's users; the batch's items for ALS, the new ones for BPR)."""
        raise NotImplementedError

    @override
    def _score(self, user_nums: np.ndarray) -> np.ndarray:
        scores: np.ndarray = self.user_factors[user_nums] @ self._item_factors_t
        return scores

    @override
    def _score_pairs(self, user_nums: np.ndarray, item_nums: np.ndarray) -> np.ndarray:
        u, i = self.user_factors[user_nums], self.item_factors[item_nums]
        dots: np.ndarray = np.einsum("ij,ij->i", u, i)
        return dots.astype(np.float32)

    def user_history(self, user_num: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The user's seen items as a history (``SupportsHistory``; no order is kept)."""
        from tailor.models._history import csr_row

        self.require_fitted()
        return csr_row(self.seen, user_num)[0], None

    def similar_items(self, item_ids: Any, n: int = 10) -> Recs:
        """Items whose factor vectors have the largest cosine with each query item's.

        The result's ``user_id`` column holds the query item ids.
        """
        return similar_items_recs(self, item_ids, n, cosine_rows(self.item_factors))


class ALS(_ImplicitMF[ALSConfig]):
    r"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008), fitted by ``implicit``.

    Prediction: :math:`\hat r_{ui} = p_u^\top q_i`. Objective, with preference
    :math:`y_{ui} = [r_{ui} > 0]` and confidence :math:`c_{ui} = \alpha r_{ui}` (1 for unobserved
    pairs): :math:`\sum_{u,i} c_{ui}(y_{ui} - p_u^\top q_i)^2 + \lambda(\sum_u\lVert p_u\rVert^2 +
    \sum_i \lVert q_i\rVert^2)`. Update: alternately solve the user and the item least-squares
    problems (conjugate gradient, 3 steps per sweep). ``similar_items`` ranks by the cosine of
    item factors.

    **Fold-in** (``partial_fit``): one exact sweep over the batch, as implicit's
    ``partial_fit_users`` then ``partial_fit_items``. The batch joins ``user_items``
    (:math:`r_{ui}`, kept for this); each user in the batch gets :math:`p_u = (Y^\top Y +
    \lambda I + \sum_i (c_{ui} - 1)\, q_i q_i^\top)^{-1} \sum_i c_{ui} q_i` over all their
    items (new items, whose factors are still zero, add nothing); then each item in the batch,
    known or new, gets the same solve over all its users with the user factors fixed, so new
    co-purchases move the items' factors (and the scores of every user on them). Users not in
    the batch and items not in it keep bit-identical factors. Without ``implicit`` installed.

    Stability: stable.
    """

    config_class: ClassVar = ALSConfig
    name: ClassVar[str] = "als"
    implicit_estimator = ("implicit.cpu.als", "AlternatingLeastSquares")
    estimator_fields = ("factors", "regularization", "alpha", "iterations")
    params_spec: ClassVar[ParamSpec] = {
        "user_factors": Dense("f", ("users", "k")),
        "item_factors": Dense("f", ("items", "k")),
        "user_items": Sparse("f", ("users", "items")),
    }
    user_items: sp.csr_array
    """users x items float32 :math:`r_{ui}` the factors were fitted on (for fold-in)."""

    @property
    @override
    def uses_weights(self) -> bool:
        return not self.config.binary

    @override
    def _keep_fitted_on(self, user_items: sp.csr_array) -> None:
        self.user_items = user_items

    @override
    def _user_items(self, data: Dataset) -> sp.csr_array:
        return interaction_matrix(data, binary=self.config.binary, half_life_days=None)

    @override
    def _new_rows(self, rng: np.random.Generator, n: int, *, users: bool) -> np.ndarray:
        return np.zeros((n, self.user_factors.shape[1]), np.float32)

    @override
    def _fold_in(
        self, fold: FoldIn, users: np.ndarray, items: np.ndarray, rng: np.random.Generator
    ) -> None:
        batch = fold.batch
        self.user_items = add_interactions(
            self.user_items,
            batch.interactions,
            (batch.n_users, batch.n_items),
            binary=self.config.binary,
        )
        touched = fold.touched_users
        users[touched] = self._solve(touched, self.user_items, items)
        # then the batch's items over all their users: new co-purchases move the items too
        batch_items = np.unique(batch.interactions.item_nums).astype(np.int64)
        item_users = sp.csr_array(self.user_items[:, batch_items].T)
        items[batch_items] = self._solve(np.arange(len(batch_items)), item_users, users)

    def user_history(self, user_num: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The user's :math:`r_{ui}` row of ``user_items`` as a history (``SupportsHistory``):
        ``score_history`` of it solves the user's own least-squares step."""
        from tailor.models._history import csr_row

        self.require_fitted()
        return csr_row(self.user_items, user_num)

    def score_history(self, item_nums: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        r"""Scores of an ad-hoc history (``SupportsHistory``): the ALS user step of ``_solve``
        for a user whose items are the history (:math:`r_i` 1 per distinct item when
        ``binary``, else the summed ``weights``; confidence :math:`\alpha r_i`; the model's
        :math:`\lambda`), scored :math:`x^\top q_i`. For a training user's own items this is
        the exact least-squares solution that implicit's conjugate-gradient sweeps approach."""
        from tailor.models._history import fold_in_scores

        self.require_fitted()
        cfg = self.config
        return fold_in_scores(
            self,
            item_nums,
            weights,
            method="least_squares",
            regularization=cfg.regularization,
            alpha=cfg.alpha,
            binary=cfg.binary,
        )

    def _solve(self, rows: np.ndarray, confidence: sp.csr_array, fixed: np.ndarray) -> np.ndarray:
        r"""ALS least squares for ``rows`` of ``confidence`` (:math:`r`, scaled by ``alpha``)
        against the ``fixed`` factors :math:`Y`: :math:`(Y^\top Y + \lambda I + Y_u^\top
        (C_u - I) Y_u)^{-1} Y_u^\top c_u`, in float64 (float32 result)."""
        cfg = self.config
        y = fixed.astype(np.float64)
        gram = y.T @ y + cfg.regularization * np.eye(y.shape[1])
        out = np.empty((len(rows), y.shape[1]), np.float32)
        for start in range(0, len(rows), SOLVE_BLOCK):
            block = rows[start : start + SOLVE_BLOCK]
            lhs = np.repeat(gram[None], len(block), axis=0)
            rhs = np.zeros((len(block), y.shape[1]))
            for b, row in enumerate(block):
                lo, hi = confidence.indptr[row], confidence.indptr[row + 1]
                c = cfg.alpha * confidence.data[lo:hi].astype(np.float64)
                yu = y[confidence.indices[lo:hi]]
                lhs[b] += (yu * (c - 1.0)[:, None]).T @ yu
                rhs[b] = c @ yu
            out[start : start + len(block)] = np.linalg.solve(lhs, rhs[..., None])[..., 0]
        return out


class BPR(_ImplicitMF[BPRConfig]):
    r"""Bayesian Personalised Ranking (Rendle et al. 2009), fitted by ``implicit``.

    Prediction: :math:`\hat r_{ui} = p_u^\top q_i + b_i`. Objective:
    :math:`\max \sum_{(u,i,j)} \ln\sigma(\hat r_{ui} - \hat r_{uj}) - \lambda\lVert\Theta\rVert^2`
    over observed items :math:`i` and sampled unobserved items :math:`j`. Update: SGD with step
    ``learning_rate`` per sampled triple. Interaction weights are ignored (every pair is a
    positive). With more than one thread the updates race (Hogwild), so a seeded fit uses one
    thread unless ``FitOptions.threads`` asks for more. implicit stores :math:`b_i` as the last
    column of ``item_factors`` and a constant 1 as the last column of ``user_factors``.

    **Fold-in** (``partial_fit``; implicit cannot recalculate BPR users): ``iterations`` epochs
    of the same SGD over every seen item of the users in the batch (old and new pairs), one
    sampled unseen negative per positive, with the factors and biases of existing items frozen:
    only the batch users' vectors (new users start like implicit's initialisation,
    :math:`(U[0, 1) - 0.5) / f`) and the rows of items new to the model move. Users not in the
    batch and existing items keep bit-identical factors; seeded runs repeat exactly.

    Stability: stable.
    """

    config_class: ClassVar = BPRConfig
    name: ClassVar[str] = "bpr"
    implicit_estimator = ("implicit.cpu.bpr", "BayesianPersonalizedRanking")
    estimator_fields = ("factors", "learning_rate", "regularization", "iterations")

    @override
    def _new_rows(self, rng: np.random.Generator, n: int, *, users: bool) -> np.ndarray:
        k = self.user_factors.shape[1] - 1  # the last column: 1 for users, the item bias for items
        return _bpr_init(rng, n, k, last=1.0 if users else 0.0)

    @override
    def _fold_in(
        self, fold: FoldIn, users: np.ndarray, items: np.ndarray, rng: np.random.Generator
    ) -> None:
        from tailor.models import _mf_kernels as kernels  # numba: loaded when first needed

        cfg = self.config
        batch = fold.batch
        k = users.shape[1] - 1
        touched = fold.touched_users
        seen = grow_csr(self.seen, (batch.n_users, batch.n_items))[touched]  # sorted indices
        local = np.repeat(np.arange(len(touched), dtype=np.int32), np.diff(seen.indptr))
        positives = np.ascontiguousarray(seen.indices, dtype=np.int32)
        user_part = np.ascontiguousarray(users[touched, :k])
        item_part = np.ascontiguousarray(items[:, :k])
        bias = np.ascontiguousarray(items[:, k])
        trainable = np.zeros(batch.n_items, np.bool_)
        trainable[fold.n_items :] = True
        ones = np.ones(len(positives), np.float32)
        for _ in range(cfg.iterations):
            order = rng.permutation(len(positives)).astype(np.int64)
            negatives = rng.integers(0, batch.n_items, (len(positives), 1), dtype=np.int32)
            kernels.bpr_epoch(
                local, positives, ones, order, negatives, seen.indptr, seen.indices,
                user_part, item_part, bias, trainable,
                cfg.learning_rate, cfg.regularization, cfg.regularization,
            )  # fmt: skip
        users[touched, :k] = user_part
        items[fold.n_items :, :k] = item_part[fold.n_items :]
        items[fold.n_items :, k] = bias[fold.n_items :]

    def score_history(self, item_nums: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        r"""Scores of an ad-hoc history (``SupportsHistory``): a user vector folded in along
        BPR's gradient at zero (``_history.ranking_vector``: the history's item vectors minus
        the mean item vector, at the learned users' median norm; the constant 1 of the bias
        column is kept), scored :math:`x^\top q_i + b_i`. Closed form and deterministic, unlike
        ``partial_fit``'s SGD, whose lists it matched on planted data; ``weights`` are checked
        but ignored, as ``fit`` ignores them."""
        from tailor.models._history import check_history, fold_in_scores

        self.require_fitted()
        nums, _ = check_history(item_nums, weights, len(self.items))
        return fold_in_scores(self, nums, None, method="ranking", constant_columns=1)

    @override
    def _threads(self, options: FitOptions, nnz: int) -> int:
        seeded = options.rng is not None or self.config.seed is not None
        return 1 if options.threads == 0 and seeded else super()._threads(options, nnz)


def _bpr_init(rng: np.random.Generator, n: int, k: int, *, last: float) -> np.ndarray:
    """``n`` fresh BPR rows of ``k`` factors, :math:`(U[0,1) - 0.5) / k`, plus the constant
    ``last`` column (1 for users, a zero bias for items)."""
    rows = ((rng.random((n, k + 1)) - 0.5) / max(k, 1)).astype(np.float32)
    rows[:, k] = last
    return rows


def _missing_implicit(name: str) -> ConfigError:
    return ConfigError(
        f"model {name!r} needs the optional dependency 'implicit': pip install 'tailor[implicit]'"
    )
