"""SGDMF: matrix factorisation trained by stochastic gradient descent (explicit or implicit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field
from typing_extensions import override

from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.data.recs import Recs
from tailor.errors import ConfigError
from tailor.models import _mf_kernels as kernels
from tailor.models._mf_validation import ValidationSet, ranking_metric, validation_set
from tailor.models._params import Dense, ParamSpec
from tailor.models._similar import cosine_rows, similar_items_recs
from tailor.models.base import EMPTY_FACTORS, FitOptions, FoldIn, ModelConfig, RecommenderBase
from tailor.random import derive_rng, make_rng
from tailor.units import SECONDS_PER_DAY

RATING_PARAMS: dict[str, Any] = {
    "loss": "rmse",
    "embedding_size": 128,
    "epochs": 60,
    "learning_rate": 0.01,
    "lr_decay": 0.98,
    "regularization": 0.08,
    "bias_regularization": 0.02,
    "init_std": 0.02,
}
"""Settings for explicit ratings (RMSE 0.90 on a random 80/20 ML-100K split; docs/models/mf-sgd.md):
``SGDMF(**RATING_PARAMS)``. The config's defaults are for top-N ranking of implicit feedback."""


class SGDMFConfig(ModelConfig):
    """Hyperparameters of :class:`SGDMF`. Defaults: top-N ranking of implicit feedback (WARP), the
    best on average over the benchmark data sets (``bench/accuracy/defaults.py``,
    docs/benchmarks.md). For explicit ratings use :data:`RATING_PARAMS`."""

    loss: Literal["rmse", "bpr", "warp"] = "warp"
    """``rmse``: explicit ratings, squared error with global mean and user/item biases.
    ``bpr``: implicit feedback, pairwise logistic loss against sampled unseen items.
    ``warp``: implicit feedback, rank-weighted margin loss (sample until a violator is found)."""
    embedding_size: int = Field(21, ge=1)
    """Number of latent factors k."""
    epochs: int = Field(20, ge=1)
    """Maximum passes over the training data."""
    learning_rate: float = Field(0.033, gt=0)
    """Step size of the first epoch."""
    lr_decay: float = Field(0.98, gt=0, le=1)
    """The step size is multiplied by this after every epoch: lr_e = learning_rate * lr_decay**e."""
    regularization: float = Field(0.0001, ge=0)
    """L2 penalty on the factor vectors, applied at each update."""
    bias_regularization: float = Field(0.02, ge=0)
    """L2 penalty on the user and item biases."""
    init_std: float = Field(0.02, ge=0)
    """Standard deviation of the normal initialisation of the factors (biases start at 0)."""
    negatives: int = Field(5, ge=1)
    """``bpr``: sampled negatives per positive. ``warp``: most candidates tried per positive."""
    early_stopping_patience: int | None = Field(None, ge=1)
    """Stop after this many epochs without validation improvement and restore the best epoch's
    parameters; needs ``FitOptions.validation``. None: run all epochs and keep the last."""
    validation_metric: Literal["rmse", "ndcg@10", "recall@20"] | None = None
    """Metric watched for early stopping; None: ``rmse`` for loss rmse, else ``ndcg@10``."""
    recency_half_life_days: float | None = Field(None, gt=0)
    """If set, an interaction d days older than the newest one has sample weight 0.5**(d/h)."""
    fold_in_epochs: int = Field(20, ge=1)
    """SGD passes over the new interactions in ``partial_fit``."""

    @property
    def watched_metric(self) -> str:
        """The validation metric in effect."""
        if self.validation_metric is not None:
            return self.validation_metric
        return "rmse" if self.loss == "rmse" else "ndcg@10"


class SGDMF(RecommenderBase[SGDMFConfig]):
    r"""Matrix factorisation learned by SGD, for explicit ratings or implicit feedback.

    **Prediction.** :math:`\hat r_{ui} = \mu + b_u + b_i + p_u^\top q_i` with :math:`p_u, q_i
    \in \mathbb{R}^k`. For ``loss="rmse"`` :math:`\mu` is the weighted mean training rating and
    ``score`` clips :math:`\hat r` to the training ratings' range; for the ranking losses
    :math:`\mu = b_u = 0` and :math:`s_{ui} = b_i + p_u^\top q_i`.

    **Objectives** (:math:`w` = sample weight, 1 or the recency weight :math:`2^{-d/h}`;
    :math:`\lambda`, :math:`\lambda_b` = ``regularization``, ``bias_regularization``):

    - rmse: :math:`\min \sum_{(u,i)} w (r_{ui} - \hat r_{ui})^2 + \lambda(\|p_u\|^2 + \|q_i\|^2)
      + \lambda_b(b_u^2 + b_i^2)`.
    - bpr: :math:`\min \sum_{(u,i,j)} -w \log\sigma(s_{ui} - s_{uj}) + \text{L2}`, :math:`j` drawn
      uniformly among items :math:`u` has not seen (``negatives`` per positive).
    - warp: :math:`\min \sum_{(u,i)} w\,L(\mathrm{rank}_i)\,\max(0, 1 - s_{ui} + s_{uj}) +
      \text{L2}`, with :math:`j` the first sampled violator, :math:`\mathrm{rank}_i \approx
      \lfloor (n - 1)/N \rfloor` after :math:`N` trials and :math:`L(r) = H_r / H_{n-1}`,
      :math:`H_r = \sum_{k\le r} 1/k` (normalised to at most 1 so that steps stay BPR-sized).

    **Updates** (one example at a time, in a fresh seeded random order every epoch, step size
    :math:`\eta_e = \eta\,\gamma^e`): rmse, with :math:`e = r_{ui} - \hat r_{ui}`:
    :math:`b_u \mathrel{+}= \eta(w e - \lambda_b b_u)`, :math:`b_i \mathrel{+}= \eta(w e -
    \lambda_b b_i)`, :math:`p_u \mathrel{+}= \eta(w e\,q_i - \lambda p_u)`, :math:`q_i
    \mathrel{+}= \eta(w e\,p_u - \lambda q_i)`. Pairwise losses, with :math:`g = w\sigma(-x_{uij})`
    (bpr) or :math:`g = w L(\mathrm{rank}_i)` (warp): :math:`p_u \mathrel{+}= \eta(g(q_i - q_j) -
    \lambda p_u)`, :math:`q_i \mathrel{+}= \eta(g p_u - \lambda q_i)`, :math:`q_j \mathrel{+}=
    \eta(-g p_u - \lambda q_j)`, :math:`b_i \mathrel{+}= \eta(g - \lambda_b b_i)`, :math:`b_j
    \mathrel{+}= \eta(-g - \lambda_b b_j)`. Ranking losses train on distinct (user, item) pairs.

    **Early stopping.** With ``FitOptions.validation`` the watched metric is computed after every
    epoch (``history``); with ``early_stopping_patience`` training stops once it has not improved
    for that many epochs and the best epoch's parameters are restored.

    **Fold-in** (``partial_fit``): see its docstring.

    Stability: stable.
    """

    config_class: ClassVar = SGDMFConfig
    name: ClassVar[str] = "mf-sgd"
    params_spec: ClassVar[ParamSpec] = {
        "user_factors": Dense("f", ("users", "k")),
        "item_factors": Dense("f", ("items", "k")),
        "user_bias": Dense("f", ("users",)),
        "item_bias": Dense("f", ("items",)),
        "global_mean": Dense("f", (1,)),
        "rating_range": Dense("f", (2,)),
        "time_reference": Dense("i", (1,)),
    }

    user_factors: np.ndarray = EMPTY_FACTORS
    """float32 (n_users, k) matrix P."""
    item_factors: np.ndarray = EMPTY_FACTORS
    """float32 (n_items, k) matrix Q."""
    user_bias: np.ndarray
    """float32 b_u (zero for ranking losses)."""
    item_bias: np.ndarray
    """float32 b_i."""
    global_mean: np.ndarray
    """float32 array of one value, mu (zero for ranking losses)."""
    rating_range: np.ndarray
    """float32 [min, max] of the training ratings; rmse predictions are clipped to it."""
    time_reference: np.ndarray
    """int64 array of one value: the newest timestamp seen, the origin of recency weights."""
    history: list[dict[str, float]]
    """Per-epoch metrics of the last fit: epoch, learning_rate, train_<m>, validation_<m>."""
    best_epoch: int
    """The epoch (1-based) whose parameters the model holds."""

    # ---- fitting --------------------------------------------------------------------------
    @property
    @override
    def uses_weights(self) -> bool:
        return self.config.loss == "rmse"

    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        cfg = self.config
        rng = make_rng(options.rng if options.rng is not None else cfg.seed)
        inter = data.interactions
        self.time_reference = np.array([inter.timestamps.max(initial=0)], np.int64)
        self._init_params(data.n_users, data.n_items, inter, rng)
        val = validation_set(options.validation, self.users, self.items)
        if cfg.early_stopping_patience is not None and val is None:
            raise ConfigError("early_stopping_patience needs FitOptions.validation")
        examples = self._examples(inter)
        trainable = np.ones(data.n_items, np.bool_)
        self.history, self.best_epoch = [], 0
        best: tuple[float, dict[str, np.ndarray]] | None = None
        for epoch in range(1, cfg.epochs + 1):
            lr = cfg.learning_rate * cfg.lr_decay ** (epoch - 1)
            metrics = {"epoch": float(epoch), "learning_rate": lr}
            metrics.update(self._run_epoch(examples, trainable, lr, rng))
            if val is not None:
                value = self._validate(val)
                metrics[f"validation_{cfg.watched_metric}"] = value
                sign = 1.0 if cfg.watched_metric == "rmse" else -1.0
                if best is None or sign * value < sign * best[0]:
                    best = (value, self._snapshot())
                    self.best_epoch = epoch
            self.history.append(metrics)
            if options.on_epoch is not None:
                options.on_epoch(epoch, metrics)
            if cfg.early_stopping_patience is not None and (
                epoch - self.best_epoch >= cfg.early_stopping_patience
            ):
                break
        if cfg.early_stopping_patience is not None and best is not None:
            self._set_factors(best[1])
        else:
            self.best_epoch = len(self.history)

    def _init_params(
        self, n_users: int, n_items: int, inter: Interactions, rng: np.random.Generator
    ) -> None:
        cfg = self.config
        k = cfg.embedding_size
        self.user_factors = rng.normal(0.0, cfg.init_std, (n_users, k)).astype(np.float32)
        self.item_factors = rng.normal(0.0, cfg.init_std, (n_items, k)).astype(np.float32)
        self.user_bias = np.zeros(n_users, np.float32)
        self.item_bias = np.zeros(n_items, np.float32)
        ratings = inter.weights
        if cfg.loss == "rmse" and len(ratings):
            weights = self._recency(inter.timestamps)
            mean = float(np.average(ratings, weights=weights))
            self.global_mean = np.array([mean], np.float32)
            self.rating_range = np.array([ratings.min(), ratings.max()], np.float32)
        else:
            self.global_mean = np.zeros(1, np.float32)
            big = np.finfo(np.float32).max  # no clipping, yet finite
            self.rating_range = np.array([-big, big], np.float32)

    def _recency(self, timestamps: np.ndarray) -> np.ndarray:
        """Sample weights 2^(-age/half_life), age from ``time_reference``; 1 without half-life."""
        h = self.config.recency_half_life_days
        if h is None:
            return np.ones(len(timestamps), np.float32)
        age_days = (self.time_reference[0] - timestamps) / SECONDS_PER_DAY
        weights: np.ndarray = np.exp2(-np.maximum(age_days, 0.0) / h).astype(np.float32)
        return weights

    def _examples(self, inter: Interactions) -> dict[str, np.ndarray]:
        """Training arrays: every rating for rmse, distinct (latest) pairs for ranking losses."""
        users, items, values, stamps = (
            inter.user_nums,
            inter.item_nums,
            inter.weights,
            inter.timestamps,
        )
        if self.config.loss != "rmse" and len(users):
            key = users.astype(np.int64) * (int(items.max()) + 1) + items
            order = np.lexsort((stamps, key))
            last = order[np.r_[key[order][1:] != key[order][:-1], True]]
            users, items, values, stamps = users[last], items[last], values[last], stamps[last]
        return {
            "users": np.ascontiguousarray(users, np.int32),
            "items": np.ascontiguousarray(items, np.int32),
            "ratings": np.ascontiguousarray(values, np.float32),
            "weights": self._recency(stamps),
        }

    def _run_epoch(
        self,
        ex: Mapping[str, np.ndarray],
        trainable: np.ndarray,
        lr: float,
        rng: np.random.Generator,
    ) -> dict[str, float]:
        """One SGD pass over ``ex`` in a random order; returns the epoch's training metric."""
        cfg = self.config
        n = len(ex["users"])
        order = rng.permutation(n).astype(np.int64)
        if cfg.loss == "rmse":
            sse = kernels.rmse_epoch(
                ex["users"],
                ex["items"],
                ex["ratings"],
                ex["weights"],
                order,
                self.user_factors,
                self.item_factors,
                self.user_bias,
                self.item_bias,
                trainable,
                float(self.global_mean[0]),
                lr,
                cfg.regularization,
                cfg.bias_regularization,
            )
            return {"train_rmse": float(np.sqrt(sse / max(float(ex["weights"].sum()), 1e-12)))}
        n_items = len(self.item_bias)
        negatives = rng.integers(0, n_items, (n, cfg.negatives), dtype=np.int32)
        seen = self.seen
        common = (
            self.user_factors,
            self.item_factors,
            self.item_bias,
            trainable,
            lr,
            cfg.regularization,
            cfg.bias_regularization,
        )
        head = (
            ex["users"],
            ex["items"],
            ex["weights"],
            order,
            negatives,
            seen.indptr,
            seen.indices,
        )
        if cfg.loss == "bpr":
            total, count = kernels.bpr_epoch(*head, *common)
        else:
            # L(r) = H(r) / H(n - 1): the rank weight in (0, 1], so steps stay BPR-sized
            harmonic = np.cumsum(1.0 / np.arange(1, n_items + 1))
            harmonic = (harmonic / harmonic[max(n_items - 2, 0)]).astype(np.float32)
            total, count = kernels.warp_epoch(*head, harmonic, *common)
        return {"train_loss": total / max(count, 1)}

    def _validate(self, val: ValidationSet) -> float:
        metric = self.config.watched_metric
        if metric == "rmse":
            pred = self._score_pairs(val.users, val.items)
            return float(np.sqrt(np.mean((val.ratings - pred) ** 2)))
        return ranking_metric(self._score, self.seen, val, metric)

    def _snapshot(self) -> dict[str, np.ndarray]:
        names = ("user_factors", "item_factors", "user_bias", "item_bias")
        return {k: getattr(self, k).copy() for k in names}

    def _set_factors(self, arrays: Mapping[str, np.ndarray]) -> None:
        for key, arr in arrays.items():
            setattr(self, key, arr)

    # ---- fold-in --------------------------------------------------------------------------
    @override
    def _partial_fit(self, fold: FoldIn) -> None:
        """Fold new interactions in without a full retrain.

        New users and items join the vocabularies with factors drawn like at fit time and zero
        biases. Then ``fold_in_epochs`` SGD passes at the base ``learning_rate`` run over the new
        interactions only, updating the rows of the users in the batch and of the *new* items;
        existing items are frozen (their factors and biases do not change), so users not in the
        batch keep bit-identical scores for every existing item. Unlike a refit, older
        interactions are not replayed and ``global_mean`` stays as fitted. Hyperparameters never
        change.
        """
        cfg = self.config
        n_users0, n_items0 = fold.n_users, fold.n_items
        batch = fold.batch.interactions
        rng = derive_rng(cfg.seed, "partial_fit", n_users0, n_items0, len(batch))
        self._grow_params(len(self.users) - n_users0, len(self.items) - n_items0, rng)
        if len(batch):
            newest = int(batch.timestamps.max())
            self.time_reference = np.maximum(self.time_reference, newest)
        trainable = np.zeros(len(self.items), np.bool_)
        trainable[n_items0:] = True
        examples = self._examples(batch)
        for _ in range(cfg.fold_in_epochs):
            self._run_epoch(examples, trainable, cfg.learning_rate, rng)

    def _grow_params(self, new_users: int, new_items: int, rng: np.random.Generator) -> None:
        k, std = self.config.embedding_size, self.config.init_std
        self.user_factors = np.vstack(
            [self.user_factors, rng.normal(0.0, std, (new_users, k)).astype(np.float32)]
        )
        self.item_factors = np.vstack(
            [self.item_factors, rng.normal(0.0, std, (new_items, k)).astype(np.float32)]
        )
        self.user_bias = np.concatenate([self.user_bias, np.zeros(new_users, np.float32)])
        self.item_bias = np.concatenate([self.item_bias, np.zeros(new_items, np.float32)])

    # ---- scoring --------------------------------------------------------------------------
    @override
    def _score(self, user_nums: np.ndarray) -> np.ndarray:
        scores: np.ndarray = self.user_factors[user_nums] @ self.item_factors.T
        scores += self.item_bias[None, :]
        scores += (self.user_bias[user_nums] + self.global_mean[0])[:, None]
        return scores

    @override
    def _score_pairs(self, user_nums: np.ndarray, item_nums: np.ndarray) -> np.ndarray:
        dots = np.einsum("ij,ij->i", self.user_factors[user_nums], self.item_factors[item_nums])
        pred = dots + self.item_bias[item_nums] + self.user_bias[user_nums] + self.global_mean[0]
        out: np.ndarray = np.clip(pred, self.rating_range[0], self.rating_range[1])
        return out.astype(np.float32)

    def similar_items(self, item_ids: Any, n: int = 10) -> Recs:
        """The ``n`` items with the most cosine-similar factor vectors to each given item.

        The result's ``user_ids`` column holds the query item id; unknown items give no rows.
        """
        return similar_items_recs(self, item_ids, n, cosine_rows(self.item_factors))

    def score_history(self, item_nums: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        r"""Scores of an ad-hoc history (``SupportsHistory``): a user vector :math:`x` folded in
        along the ranking losses' gradient at zero (``_history.ranking_vector``: the history's
        item vectors minus the mean item vector, at the learned users' median norm), scored
        like a user without a bias: :math:`\mu + b_i + x^\top q_i` (not clipped). Closed form
        and deterministic, unlike ``partial_fit``'s SGD; ``weights`` are checked but not used
        (a visit is a preference, whatever the loss)."""
        from tailor.models._history import check_history, fold_in_scores

        self.require_fitted()
        nums, _ = check_history(item_nums, weights, len(self.items))
        scores = fold_in_scores(self, nums, None, method="ranking")
        scores += self.global_mean[0]
        return scores

    def user_history(self, user_num: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The user's seen items as a history (``SupportsHistory``; no order is kept)."""
        from tailor.models._history import csr_row

        self.require_fitted()
        return csr_row(self.seen, user_num)[0], None

    # ---- capabilities ---------------------------------------------------------------------
    def factor_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """``(b_u + mu, b_i)``: the terms added to :math:`p_u^\\top q_i` (``SupportsFactors``)."""
        self.require_fitted()
        return (self.user_bias + self.global_mean[0]).astype(np.float32), self.item_bias

    @override
    def _state_loaded(self) -> None:
        self.history, self.best_epoch = [], 0
