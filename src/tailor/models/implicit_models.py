"""ALS and BPR from the ``implicit`` library, wrapped in tailor's Recommender protocol.

``implicit`` (the optional extra ``tailor[implicit]``) is imported only inside ``fit``: a saved
model scores and loads without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from typing_extensions import override

from tailor.data.dataset import Dataset
from tailor.data.recs import Recs
from tailor.errors import ConfigError, ModelFitError
from tailor.models._matrices import interaction_matrix
from tailor.models._params import Dense, ParamSpec
from tailor.models._similar import cosine_rows, similar_items_recs
from tailor.models.base import FitOptions, ModelConfig, RecommenderBase

SMALL_NNZ = 50_000
"""Below this many interactions a fit with ``threads=0`` runs on one thread."""


class ALSConfig(ModelConfig):
    """Hyperparameters of :class:`ALS`."""

    factors: int = Field(64, ge=1)
    """Latent dimensions."""
    regularization: float = Field(0.01, ge=0.0)
    """L2 penalty :math:`\\lambda` on user and item factors."""
    iterations: int = Field(15, ge=1)
    """Alternating sweeps (users then items)."""
    alpha: float = Field(1.0, gt=0.0)
    """Confidence scaling: :math:`c_{ui} = \\alpha\\, r_{ui}` for observed pairs."""
    binary: bool = False
    """Use 1 per (user, item) pair instead of the summed interaction weights as :math:`r_{ui}`."""


class BPRConfig(ModelConfig):
    """Hyperparameters of :class:`BPR`."""

    factors: int = Field(64, ge=1)
    """Latent dimensions (an item bias is added on top)."""
    learning_rate: float = Field(0.01, gt=0.0)
    """SGD step size."""
    regularization: float = Field(0.01, ge=0.0)
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
    user_factors: np.ndarray
    """float32 users x f matrix."""
    item_factors: np.ndarray
    """float32 items x f matrix."""
    _item_factors_t: np.ndarray

    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl ships with implicit
            raise _missing_implicit(self.name) from None
        user_items = sp.csr_matrix(self._user_items(data))
        seed = options.rng if options.rng is not None else self.config.seed
        # implicit parallelises itself; a multi-threaded BLAS inside it only oversubscribes
        from implicit.recommender_base import ModelFitError as ImplicitFitError

        with threadpool_limits(1, "blas"):
            estimator = self._estimator(seed, self._threads(options, user_items.nnz))
            try:
                estimator.fit(user_items, show_progress=False, callback=_epoch_callback(options))
            except ImplicitFitError as exc:  # implicit's own class: not a TailorError
                raise ModelFitError(
                    f"{self.name}: training diverged ({exc}); extreme weights are the usual "
                    "cause: rescale the weight column (e.g. log1p) or raise regularization"
                ) from None
        self._set_params(
            {"user_factors": estimator.user_factors, "item_factors": estimator.item_factors}
        )

    def _user_items(self, data: Dataset) -> sp.csr_array:
        return interaction_matrix(data, binary=True, half_life_days=None)

    def _threads(self, options: FitOptions, nnz: int) -> int:
        """``FitOptions.threads``; when 0 (auto), one thread for small matrices, where starting
        OpenMP threads costs more than the work, else implicit's default (all cores)."""
        if options.threads == 0 and nnz < SMALL_NNZ:
            return 1
        return options.threads

    def _estimator(self, seed: Any, threads: int) -> Any:
        raise NotImplementedError

    @override
    def _score(self, user_nums: np.ndarray) -> np.ndarray:
        return self.user_factors[user_nums] @ self._item_factors_t

    @override
    def _score_pairs(self, user_nums: np.ndarray, item_nums: np.ndarray) -> np.ndarray:
        u, i = self.user_factors[user_nums], self.item_factors[item_nums]
        return np.einsum("ij,ij->i", u, i).astype(np.float32)

    def similar_items(self, item_ids: Any, n: int = 10) -> Recs:
        """Items whose factor vectors have the largest cosine with each query item's.

        The result's ``user_id`` column holds the query item ids.
        """
        return similar_items_recs(self, item_ids, n, cosine_rows(self.item_factors))

    @override
    def _get_params(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    @override
    def _set_params(self, params: Mapping[str, np.ndarray]) -> None:
        self.user_factors = np.ascontiguousarray(params["user_factors"], dtype=np.float32)
        self.item_factors = np.ascontiguousarray(params["item_factors"], dtype=np.float32)
        # a contiguous transpose: BLAS is several times faster on it than on the strided view
        self._item_factors_t = np.ascontiguousarray(self.item_factors.T)


class ALS(_ImplicitMF[ALSConfig]):
    r"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008), fitted by ``implicit``.

    Prediction: :math:`\hat r_{ui} = p_u^\top q_i`. Objective, with preference
    :math:`y_{ui} = [r_{ui} > 0]` and confidence :math:`c_{ui} = \alpha r_{ui}` (1 for unobserved
    pairs): :math:`\sum_{u,i} c_{ui}(y_{ui} - p_u^\top q_i)^2 + \lambda(\sum_u\lVert p_u\rVert^2 +
    \sum_i \lVert q_i\rVert^2)`. Update: alternately solve the user and the item least-squares
    problems (conjugate gradient, 3 steps per sweep). ``similar_items`` ranks by the cosine of
    item factors.

    Stability: stable.
    """

    config_class: ClassVar = ALSConfig
    name: ClassVar[str] = "als"

    @override
    def _user_items(self, data: Dataset) -> sp.csr_array:
        return interaction_matrix(data, binary=self.config.binary, half_life_days=None)

    @override
    def _estimator(self, seed: Any, threads: int) -> Any:
        try:
            from implicit.cpu.als import AlternatingLeastSquares
        except ImportError:
            raise _missing_implicit(self.name) from None
        cfg = self.config
        return AlternatingLeastSquares(
            factors=cfg.factors,
            regularization=cfg.regularization,
            alpha=cfg.alpha,
            iterations=cfg.iterations,
            num_threads=threads,
            random_state=seed,
        )


class BPR(_ImplicitMF[BPRConfig]):
    r"""Bayesian Personalised Ranking (Rendle et al. 2009), fitted by ``implicit``.

    Prediction: :math:`\hat r_{ui} = p_u^\top q_i + b_i`. Objective:
    :math:`\max \sum_{(u,i,j)} \ln\sigma(\hat r_{ui} - \hat r_{uj}) - \lambda\lVert\Theta\rVert^2`
    over observed items :math:`i` and sampled unobserved items :math:`j`. Update: SGD with step
    ``learning_rate`` per sampled triple. Interaction weights are ignored (every pair is a
    positive). With more than one thread the updates race (Hogwild), so a seeded fit uses one
    thread unless ``FitOptions.threads`` asks for more.

    Stability: stable.
    """

    config_class: ClassVar = BPRConfig
    name: ClassVar[str] = "bpr"

    @override
    def _threads(self, options: FitOptions, nnz: int) -> int:
        seeded = options.rng is not None or self.config.seed is not None
        return 1 if options.threads == 0 and seeded else super()._threads(options, nnz)

    @override
    def _estimator(self, seed: Any, threads: int) -> Any:
        try:
            from implicit.cpu.bpr import BayesianPersonalizedRanking
        except ImportError:
            raise _missing_implicit(self.name) from None
        cfg = self.config
        return BayesianPersonalizedRanking(
            factors=cfg.factors,
            learning_rate=cfg.learning_rate,
            regularization=cfg.regularization,
            iterations=cfg.iterations,
            num_threads=threads,
            random_state=seed,
        )


def _epoch_callback(options: FitOptions) -> Callable[..., None] | None:
    on_epoch = options.on_epoch
    if on_epoch is None:
        return None

    def callback(epoch: int, elapsed: float, *rest: Any) -> None:
        on_epoch(epoch + 1, {"seconds": float(elapsed)})

    return callback


def _missing_implicit(name: str) -> ConfigError:
    return ConfigError(
        f"model {name!r} needs the optional dependency 'implicit': pip install 'tailor[implicit]'"
    )
