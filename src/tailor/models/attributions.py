"""'Because you bought X': exact item attributions of the item-item and factor models.

Every model here scores a history linearly in its items, so a score splits exactly into one
contribution per history item :math:`j` plus a base that no item moves:

- ItemKNN, EASE: :math:`\\hat r_i = \\sum_j p_j M_{ji}` (``similarity`` or the weights
  :math:`B`): contribution :math:`p_j M_{ji}`, base 0.
- RecencyEASE: :math:`\\hat r_i = (p B)_i / \\max_k |(p B)_k| + t_i`: contribution
  :math:`p_j B_{ji} / \\max_k |(p B)_k|`, base the trend :math:`t_i`.
- ALS: the folded-in vector :math:`x = A^{-1} \\sum_j c_j q_j` (``score_history``'s exact user
  step) gives :math:`\\hat r_i = \\sum_j c_j\\, q_i^\\top A^{-1} q_j` (what implicit's
  ``explain`` computes), base 0. For a known user's own list (``explain``), what the
  learned vector (from conjugate-gradient sweeps) adds beyond the fold-in joins the base.
- BPR, mf-sgd: the ranking fold :math:`x = s \\sum_j r_j (q_j - \\bar q)` gives contribution
  :math:`s\\, r_j (q_j - \\bar q)^\\top q_i`, base the score of an empty history (the biases); for
  a known user's own list, plus what the learned vector adds beyond the fold.

Each explained score is the model's ``score_history`` of the same history (up to float32
rounding), or for a known user's own list (``explain``) its ``score_rows`` score:
``base_value + sum of all contributions == score``. :func:`explainer_for` gives any
model its :class:`~tailor.models.explain.SupportsExplain`: its own (the feature models' SHAP),
else one of these, read from the model's public state (it never edits a model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from tailor.models._history import (
    check_history,
    distinct_weights,
    gram,
    positional_row,
    typical_norm,
)
from tailor.models._matrices import fitted_columns
from tailor.models._sparse_kernels import csr_times_dense
from tailor.models.base import Recommender, SupportsFactors, SupportsHistory
from tailor.models.explain import Explanation, SupportsExplain, top_contributions


def item_item_terms(
    model: Any, nums: np.ndarray, weights: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ItemKNN and EASE: the profile row ``fit`` builds (``binary``: the largest weight per
    distinct item; else summed), times the rows of the item-item matrix."""
    binary = bool(model.config.binary)
    cols, values = distinct_weights(nums, weights, len(model.items), binary=binary)
    matrix = model.similarity if hasattr(model, "similarity") else model.weights
    fitted = cols < matrix.shape[0]
    cols, values = cols[fitted], values[fitted]
    if sp.issparse(matrix):
        block = matrix[cols][:, targets].toarray()
    else:
        block = matrix[np.ix_(cols, targets)]  # only the needed entries: no row copies
    terms = values[None, :] * np.asarray(block, dtype=np.float64).T
    return cols, np.zeros(len(targets)), terms


def recency_ease_terms(
    model: Any, nums: np.ndarray, weights: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RecencyEASE: the positional profile, :math:`B`, the row's scale and the trend."""
    cfg = model.config
    b = model.weights
    row = positional_row(nums, len(model.items), cfg.profile_half_life, cfg.profile_floor)
    fitted = row.indices < len(b)
    cols = row.indices[fitted].astype(np.int64)
    values = row.data[fitted].astype(np.float64)
    # the scale is the model's own float32 product, so the explained score is its score
    fitted_row = fitted_columns(row, len(b))
    full = csr_times_dense(fitted_row.indptr, fitted_row.indices, fitted_row.data, b)
    scale = float(np.abs(full).max()) if full.size else 0.0
    scale = scale if scale > 0 else 1.0
    terms = values[None, :] * b[np.ix_(cols, targets)].astype(np.float64).T / scale
    base = model.trend[targets].astype(np.float64)
    return cols, base, terms


def als_terms(
    model: Any, nums: np.ndarray, weights: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ALS: :math:`c_j\\, q_i^\\top A^{-1} q_j` with the system of ``score_history``."""
    cfg = model.config
    y = model.item_factors
    cols, r = distinct_weights(nums, weights, len(model.items), binary=bool(cfg.binary))
    c = float(cfg.alpha) * r
    yh = y[cols].astype(np.float64)
    lhs = (
        gram(y) + float(cfg.regularization) * np.eye(y.shape[1]) + (yh * (c - 1.0)[:, None]).T @ yh
    )
    try:
        solved = np.linalg.solve(lhs, yh.T)  # A^{-1} q_j, one column per history item
    except np.linalg.LinAlgError:
        solved = np.linalg.lstsq(lhs, yh.T, rcond=None)[0]
    terms = (y[targets].astype(np.float64) @ solved) * c[None, :]
    return cols, np.zeros(len(targets)), terms


def ranking_terms(
    model: Any, nums: np.ndarray, weights: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BPR and mf-sgd: the ranking fold's vector split by history item; base: the score of an
    empty history (the folded vector is zero: biases only)."""
    constant = 1 if model.name == "bpr" else 0  # BPR keeps its item bias as the last column
    y = model.item_factors
    k = y.shape[1] - constant
    part = np.asarray(y[:, :k], dtype=np.float64)
    cols, _ = distinct_weights(nums, None, len(model.items), binary=True)  # weights unused
    directions = part[cols] - part.mean(axis=0)  # r_j = 1 each (the models ignore weights)
    x = directions.sum(axis=0)
    norm = float(np.linalg.norm(x))
    users = model.user_factors[:, :k]
    s = typical_norm(users) / norm if norm > 0 and len(users) else 0.0
    terms = s * (part[targets] @ directions.T)
    base = model.score_history(np.empty(0, np.int64))[targets].astype(np.float64)
    return cols, base, terms


TERMS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
    "itemknn": item_item_terms,
    "ease": item_item_terms,
    "recency-ease": recency_ease_terms,
    "als": als_terms,
    "bpr": ranking_terms,
    "mf-sgd": ranking_terms,
}
"""Registry name -> its attribution (the models whose ``score_history`` is linear in items)."""


class ItemAttributions:
    """:class:`SupportsExplain` for a model in :data:`TERMS`: each score split over the
    history's items (kind ``"items"``, names: item ids)."""

    def __init__(self, model: Recommender) -> None:
        if model.name not in TERMS or not isinstance(model, SupportsHistory):
            raise TypeError(
                f"{model.name}: no item attributions (models with them: {sorted(TERMS)})"
            )
        self.model = model

    def explain(self, user_num: int, item_nums: np.ndarray, top: int = 3) -> list[Explanation]:
        """The scores ``score_rows([user_num])`` gives ``item_nums``, split over the user's own
        history (``user_history``; see :meth:`explain_history`). A factor model's learned user
        vector is not the fold-in of its history (it comes from iterative sweeps), so what it
        adds beyond the fold-in's item shares goes into ``base_value``: ``score`` is the
        model's score, and base plus contributions still add up to it.

        Raises:
            ValueError: a target the model cannot score (an item added after the fit).
        """
        model = self.model
        history = cast(SupportsHistory, model).user_history(user_num)
        out = self.explain_history(history[0], history[1], item_nums, top)
        missing = [
            int(t) for t, e in zip(np.asarray(item_nums).tolist(), out, strict=True) if e is None
        ]
        if missing:
            raise ValueError(f"items {missing} have no score to explain (added after the fit)")
        explained = cast(list[Explanation], out)
        if not isinstance(model, SupportsFactors):
            return explained  # the item-item models: the history score is the row's score
        row = model.score_rows(np.array([user_num], np.int64))[0]
        return [
            replace(e, base_value=e.base_value + float(row[e.item_num]) - e.score,
                    score=float(row[e.item_num]))
            for e in explained
        ]  # fmt: skip

    def explain_history(
        self,
        item_nums: np.ndarray,
        weights: np.ndarray | None,
        targets: np.ndarray,
        top: int = 3,
    ) -> list[Explanation | None]:
        """One explanation per target of ``score_history(item_nums, weights)``: the ``top``
        history items that add most to its score (by absolute value). None for a target the
        model cannot score (NaN: an item added after the fit).

        Raises:
            NotFittedError: before ``fit``.
            IndexError: an item number out of range.
        """
        model = self.model
        model.require_fitted()
        n_items = len(model.items)
        nums, w = check_history(item_nums, weights, n_items)
        targets = np.asarray(targets, dtype=np.int64).reshape(-1)
        if len(targets) and (targets.min() < 0 or targets.max() >= n_items):
            raise IndexError(f"item numbers must be in 0..{n_items - 1}")
        scorable = targets < fitted_items(model)
        out: list[Explanation | None] = [None] * len(targets)
        if not scorable.any():
            return out
        cols, base, terms = TERMS[model.name](model, nums, w, targets[scorable])
        names = model.items.ids[cols] if len(cols) else np.empty(0, object)
        for row, t in enumerate(np.flatnonzero(scorable)):
            contributions = terms[row]
            out[t] = Explanation(
                item_num=int(targets[t]),
                base_value=float(base[row]),
                contributions=top_contributions(names, contributions, top),
                kind="items",
                score=float(base[row] + contributions.sum()),
            )
        return out


def fitted_items(model: Any) -> int:
    """Items the model's learned arrays cover (items added by ``partial_fit`` come after)."""
    if isinstance(model, SupportsFactors):
        return len(model.item_factors)
    matrix = model.similarity if hasattr(model, "similarity") else model.weights
    return int(matrix.shape[0])


def explainer_for(model: Recommender) -> SupportsExplain | None:
    """How ``model`` is explained: itself when it explains its own scores (the feature models'
    SHAP), else its item attributions, else None (Popularity: no personal evidence)."""
    if isinstance(model, SupportsExplain):
        return model
    if model.name in TERMS and isinstance(model, SupportsHistory):
        return ItemAttributions(model)
    return None
