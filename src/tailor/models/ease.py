"""EASE: Embarrassingly Shallow Autoencoder (Steck 2019), a closed-form linear item-item model."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from pydantic import Field
from typing_extensions import override

from tailor.data.dataset import Dataset
from tailor.data.recs import Recs
from tailor.errors import ConfigError
from tailor.models._deferred import DeferredWeightsModel
from tailor.models._gram_inverse import PendingFold
from tailor.models._item_item import PROFILE_PARAMS, ItemItemModel
from tailor.models._matrices import (
    fitted_columns,
    interaction_matrix,
    pad_unfitted,
)
from tailor.models._params import Dense, ParamSpec
from tailor.models._similar import similar_items_recs
from tailor.models._sparse_kernels import csr_times_dense
from tailor.models.base import FitOptions, FoldIn, ModelConfig, Recommender

DENSE_COPIES = 3
"""float32 n_items x n_items arrays alive at the peak of a fit (Gram/inverse, scratch, result)."""


class EASEConfig(ModelConfig):
    """Hyperparameters of :class:`EASE`."""

    regularization: float = Field(500.0, gt=0.0)
    """L2 penalty :math:`\\lambda` on the item-item weights."""
    binary: bool = True
    """Fit on 1 per (user, item) pair; False uses the summed interaction weights."""
    recency_half_life_days: float | None = Field(None, gt=0.0)
    """If set, an interaction ``d`` days older than the user's newest one counts ``0.5 ** (d / h)``
    in that user's profile when scoring: recent taste weighs more (for temporal splits)."""
    memory_budget_gb: float | None = Field(None, gt=0.0)
    """Memory the dense fit may use; None: half of the memory available when ``fit`` starts.
    A catalogue needing more is refused with a ConfigError before anything is allocated."""


class EASE(DeferredWeightsModel[EASEConfig], ItemItemModel[EASEConfig]):
    r"""EASE: a dense item-item weight matrix learned in closed form.

    Objective: :math:`\min_B \lVert X - XB\rVert_F^2 + \lambda\lVert B\rVert_F^2` subject to
    :math:`\operatorname{diag}(B) = 0`, with :math:`X` the users x items matrix. Solution:
    :math:`P = (X^\top X + \lambda I)^{-1}`, :math:`B_{ij} = -P_{ij}/P_{jj}` for :math:`i \ne j`,
    :math:`B_{ii} = 0`. Prediction: :math:`\hat r_u = p_u B`, with :math:`p_u` the user's row of
    :math:`X` (times an optional recency decay :math:`2^{-\Delta t/h}`).

    The fit needs about :math:`3 n_{items}^2` float32 values; larger catalogues than the memory
    budget allows raise :class:`~tailor.errors.ConfigError` up front (use ItemKNN or filter the
    catalogue then). ``similar_items`` lists the largest weights :math:`B_{ij}` of row :math:`i`.

    **Fold-in** (``partial_fit``): the profiles :math:`p_u` of the users in the batch absorb
    the new interactions with the rules of ``fit`` (binary or summed weights, decay from the
    user's new newest time), and :math:`B` moves as a fit on the union would move it, up to
    float32 rounding: the model keeps :math:`P` in memory (float32, not saved: the first fold-in
    after a load rebuilds it from :math:`B` and the profiles in :math:`O(n^2)`) and applies the
    batch users' change of :math:`X` as a Woodbury update (``_gram_inverse``; about
    :math:`4 n^2 r` operations for :math:`r` changed users, against :math:`n^3` for a fit). Items
    new to the model join :math:`B` (a row and column each) and are scored from their
    co-occurrences at once. New users and items join the vocabularies and the batch's pairs join
    ``seen``. Users not in the batch keep their profiles; their scores move with :math:`B`. One
    exception: with ``binary=False`` and ``recency_half_life_days`` the profiles hold decayed sums,
    from which the undecayed :math:`X` that ``fit`` solves on cannot be recovered, so :math:`B`
    keeps its fitted size and values (new items score NaN until the next ``fit``).
    ``partial_fit(frame, defer_weights=True)`` leaves :math:`B` (and new items' weights) as it
    is and records the batch's users; ``refresh_weights()`` then applies every recorded change
    in one Woodbury update over their union (or solves :math:`P` anew when that union's rank
    exceeds a quarter of the items, the cheaper then): the same :math:`B` as folding each batch
    in at once, up to float32 rounding (``SupportsDeferredWeights``; ``tailor stream``
    refreshes every ``weights_refresh_s``).

    Stability: stable.
    """

    config_class: ClassVar = EASEConfig
    name: ClassVar[str] = "ease"
    params_spec: ClassVar[ParamSpec] = {  # partial_fit keeps the fitted weight size
        "weights": Dense("f", ("fitted<=items", "fitted")),
        **PROFILE_PARAMS,
    }

    weights: np.ndarray
    """float32 items x items matrix :math:`B` with a zero diagonal."""
    _inverse: np.ndarray | None = None
    """float32 :math:`P = (X^\\top X + \\lambda I)^{-1}` kept between fold-ins (never saved)."""

    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        cfg = self.config
        check_memory(data.n_items, cfg.memory_budget_gb)
        x = interaction_matrix(data, binary=cfg.binary, half_life_days=None)
        self.weights = ease_weights(x, cfg.regularization)
        self._fit_profiles(data)
        self._inverse, self._pending = None, None

    @override
    def _state_loaded(self) -> None:
        self._inverse, self._pending = None, None  # P is rebuilt by the next fold

    @override
    def _partial_fit(self, fold: FoldIn) -> None:
        """Fold the batch into the profiles, then (unless deferred) into :math:`B` (see the
        class docstring)."""
        before = self.profiles
        super()._partial_fit(fold)
        if self._fit_matrix(before) is None or not len(fold.touched_users):
            return
        if self._pending is None:
            self._pending = PendingFold(before, fold.touched_users)
        else:
            self._pending.add(fold.touched_users)
        if not self._defer:
            self.refresh_weights()

    def refresh_weights(self) -> None:
        """Fold every deferred batch into :math:`B` at once: one Woodbury update of the kept
        inverse by the changed users' rows of :math:`X` since :math:`B` was last folded."""
        from tailor.models import _gram_inverse as gi

        pending = self._pending
        if pending is None:
            return
        old_x, new_x = self._fit_matrix(pending.base), self._fit_matrix(self.profiles)
        assert old_x is not None and new_x is not None  # no pending fold otherwise
        self._inverse = gi.folded_inverse(
            self._inverse, self.weights, old_x, new_x, pending.users, self.config.regularization
        )
        self.weights = gi.weights_of(self._inverse)
        self._pending = None

    def _fit_matrix(self, profiles: sp.csr_array) -> sp.csr_array | None:
        """The :math:`X` that ``fit`` solves on, from the profiles: the profiles themselves
        without recency; with recency, 1 per pair when ``binary``; None for summed weights with
        recency (the undecayed sums are not kept)."""
        cfg = self.config
        if cfg.recency_half_life_days is None:
            return profiles
        if not cfg.binary:
            return None
        ones = sp.csr_array(profiles, copy=True)
        ones.data[:] = 1.0
        return ones

    @override
    def _score_profiles(self, rows: sp.csr_array) -> np.ndarray:
        fitted = fitted_columns(rows, len(self.weights))
        scores = csr_times_dense(fitted.indptr, fitted.indices, fitted.data, self.weights)
        return pad_unfitted(scores, len(self.items))

    def similar_items(self, item_ids: Any, n: int = 10) -> Recs:
        """Items with the largest weights :math:`B_{ij}` from each query item :math:`i`.

        The result's ``user_id`` column holds the query item ids.
        """
        return similar_by_weights(self, self.weights, item_ids, n)


def similar_by_weights(model: Recommender, weights: np.ndarray, item_ids: Any, n: int) -> Recs:
    """``similar_items`` of the EASE models: the ``n`` largest weights of each query item's
    row of ``weights`` (:func:`weight_rows`)."""
    return similar_items_recs(
        model, item_ids, n, lambda nums: weight_rows(weights, nums, len(model.items))
    )


def weight_rows(weights: np.ndarray, item_nums: np.ndarray, n_items: int) -> np.ndarray:
    r"""Rows :math:`B_{i\cdot}` over all ``n_items``, ``-inf`` for items added after the fit by
    ``partial_fit`` (they have no weights)."""
    n_fitted = len(weights)
    if n_items == n_fitted:
        rows: np.ndarray = weights[item_nums]
        return rows
    out = np.full((len(item_nums), n_items), -np.inf, np.float32)
    fitted = np.flatnonzero(item_nums < n_fitted)
    out[fitted, :n_fitted] = weights[item_nums[fitted]]
    return out


def ease_weights(x: sp.csr_array, regularization: float) -> np.ndarray:
    r"""The EASE weights :math:`B = I - P\,\mathrm{diag}(1/\mathrm{diag}\,P)` with zero diagonal.

    :math:`P = (X^\top X + \lambda I)^{-1}` is computed in float32 from a Cholesky factorisation
    (the Gram matrix is symmetric positive definite for :math:`\lambda > 0`), in place.
    """
    gram = (x.T @ x).toarray().astype(np.float32, copy=False)
    gram[np.diag_indices_from(gram)] += regularization
    chol, info = scipy.linalg.lapack.spotrf(gram, lower=True, overwrite_a=True)
    if info == 0:
        inv, info = scipy.linalg.lapack.spotri(chol, lower=True, overwrite_c=True)
    if info != 0:
        raise ConfigError(
            f"EASE: X'X + {regularization} I is not positive definite (LAPACK {info})"
        )
    # spotri fills the lower triangle only; mirror it
    upper = np.triu_indices_from(inv, k=1)
    inv[upper] = inv.T[upper]
    diag = inv.diagonal().copy()
    inv /= -diag[None, :]
    inv[np.diag_indices_from(inv)] = 0.0
    return np.ascontiguousarray(inv, dtype=np.float32)


def check_memory(n_items: int, budget_gb: float | None) -> None:
    """Raise ConfigError when ``n_items`` is too large for a dense fit within the budget."""
    budget = budget_gb * 1e9 if budget_gb is not None else available_memory_bytes() / 2
    need = DENSE_COPIES * 4.0 * n_items**2
    if need > budget:
        max_items = int(np.sqrt(budget / (DENSE_COPIES * 4.0)))
        raise ConfigError(
            f"EASE needs about {need / 1e9:.1f} GB for {n_items:,} items (3 dense float32 "
            f"{n_items:,}x{n_items:,} matrices), over its memory budget of {budget / 1e9:.1f} GB "
            f"(at most {max_items:,} items); raise memory_budget_gb, filter the catalogue, or use "
            "itemknn"
        )


def available_memory_bytes() -> float:
    """MemAvailable from /proc/meminfo, else total physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
