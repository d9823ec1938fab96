"""LIME (Ribeiro et al. 2016, the ``lime`` package): the model-agnostic explanation.

A local linear surrogate, fitted on perturbations of one input weighted by their closeness to
it, stands in for the model; its coefficients are the explanation (kind ``"lime"``). Two inputs:

- a feature row (:func:`lime_features`): the ranker's or Wide & Deep's features, or any
  ``predict(rows) -> scores`` with background rows to perturb from (``LimeTabularExplainer``);
- an item history (:class:`LimeHistory`): any ``SupportsHistory`` model; a perturbation drops
  some history items, the surrogate's features are "item j kept".

The surrogate approximates: its prediction (``score``) is near the model's, not equal. Exact
explanations, where a model has them, are in :mod:`tailor.models.attributions` (items) and the
feature models' ``explain`` (SHAP). LIME costs ``samples`` model evaluations per explained
input, so the server does not use it; it is for reports and investigations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tailor.models.base import SupportsHistory
from tailor.models.explain import Explanation, top_contributions

SAMPLES = 1000
"""Perturbations per explained input (LIME's default is 5,000; 1,000 ranked planted decisive
features first in every seed tried)."""
KERNEL_WIDTH = 25.0
"""Width of the exponential kernel over 100 x the cosine distance of a history mask to
all-ones (LIME's text explainer: the same kernel, width and distance)."""
RIDGE_ALPHA = 0.01
"""The history surrogate's L2 penalty. LIME's default (1) is large next to kernel weights below
1: it shrank planted weights of a three-item history by about 12 %."""


def lime_features(
    predict: Callable[[np.ndarray], np.ndarray],
    row: np.ndarray,
    background: np.ndarray,
    feature_names: Sequence[str],
    *,
    item_num: int = 0,
    top: int = 3,
    samples: int = SAMPLES,
    seed: int = 0,
) -> Explanation:
    """LIME's tabular explanation of ``predict`` at ``row``: the ``top`` features of a surrogate
    fitted on ``samples`` rows perturbed with ``background``'s statistics (quartile bins of
    each column, LIME's default). A contribution is the weight of "this feature in the bin of
    ``row``'s value"; ``base_value`` the surrogate's intercept and ``score`` its prediction.

    Raises:
        ValueError: ``row``, ``background`` and ``feature_names`` disagree on the features.
    """
    from lime.lime_tabular import LimeTabularExplainer  # sklearn and lime: on first use

    row = np.asarray(row, dtype=np.float64).reshape(-1)
    background = np.asarray(background, dtype=np.float64)
    if background.ndim != 2 or background.shape[1] != len(row) != len(feature_names):
        raise ValueError(
            f"row has {len(row)} features, background {background.shape} and "
            f"{len(feature_names)} feature names: they must agree"
        )
    explainer = LimeTabularExplainer(
        background,
        mode="regression",
        feature_names=list(feature_names),
        random_state=seed,
    )
    result = explainer.explain_instance(row, predict, num_features=top, num_samples=samples)
    pairs = result.as_map()[1]
    values = np.array([value for _, value in pairs])
    names = [str(feature_names[int(j)]) for j, _ in pairs]
    return Explanation(
        item_num=item_num,
        base_value=float(result.intercept[1]),
        contributions=top_contributions(names, values, top),
        kind="lime",
        score=float(np.asarray(result.local_pred).reshape(-1)[0]),
    )


class LimeHistory:
    """LIME over a ``SupportsHistory`` model's input history: which items of the history the
    scores depend on, for any model that scores a history (kind ``"lime"``, names: item ids).

    Satisfies :class:`~tailor.models.explain.SupportsExplain` (the user's own history,
    ``user_history``)."""

    def __init__(self, model: SupportsHistory, *, samples: int = SAMPLES, seed: int = 0) -> None:
        self.model = model
        self.samples = samples
        self.seed = seed

    def explain(self, user_num: int, item_nums: np.ndarray, top: int = 3) -> list[Explanation]:
        """The user's own history explained (:meth:`explain_history`)."""
        items, weights = self.model.user_history(user_num)
        return self.explain_history(items, weights, item_nums, top)

    def explain_history(
        self,
        item_nums: np.ndarray,
        weights: np.ndarray | None,
        targets: np.ndarray,
        top: int = 3,
    ) -> list[Explanation]:
        """One explanation per target: LIME's surrogate over "history entry j kept" (all
        features used, so ``base_value + sum of every contribution == score``, the surrogate's
        prediction for the whole history). Targets the model scores NaN get the surrogate of
        0 (never listed anyway).

        Raises:
            ValueError: an empty history (nothing to perturb).
        """
        from lime.lime_base import LimeBase  # sklearn and lime: on first use
        from sklearn.linear_model import Ridge

        nums = np.asarray(item_nums, dtype=np.int64).reshape(-1)
        if not len(nums):
            raise ValueError("an empty history has nothing to explain")
        targets = np.asarray(targets, dtype=np.int64).reshape(-1)
        w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
        masks = self._masks(len(nums))
        scores = np.empty((len(masks), len(targets)))
        for k, keep in enumerate(masks.astype(bool)):
            kept = self.model.score_history(nums[keep], None if w is None else w[keep])
            scores[k] = kept[targets]
        scores = np.nan_to_num(scores, nan=0.0)
        distances = _cosine_distance_to_ones(masks)
        base = LimeBase(
            lambda d: np.sqrt(np.exp(-(d**2) / KERNEL_WIDTH**2)), random_state=self.seed
        )
        names = _item_names(self.model, nums)
        out = []
        for t, target in enumerate(targets.tolist()):
            intercept, pairs, _, local = base.explain_instance_with_data(
                masks,
                scores,
                distances,
                t,
                len(nums),
                feature_selection="none",
                model_regressor=Ridge(alpha=RIDGE_ALPHA),
            )
            values = np.zeros(len(nums))
            for j, value in pairs:
                values[int(j)] = value
            out.append(
                Explanation(
                    item_num=int(target),
                    base_value=float(intercept),
                    contributions=top_contributions(names, values, top),
                    kind="lime",
                    score=float(np.asarray(local).reshape(-1)[0]),
                )
            )
        return out

    def _masks(self, n: int) -> np.ndarray:
        """``samples`` random keep/drop masks over ``n`` entries, the first keeping all (LIME
        explains its first row); each drops a uniform number of entries, as LIME's text mode."""
        rng = np.random.default_rng(self.seed)
        masks = np.ones((self.samples, n))
        for row in masks[1:]:
            row[rng.choice(n, rng.integers(1, n + 1), replace=False)] = 0.0
        return masks


def _cosine_distance_to_ones(masks: np.ndarray) -> np.ndarray:
    kept = masks.sum(axis=1)
    cosine = kept / np.sqrt(np.maximum(kept, 1e-12) * masks.shape[1])
    out: np.ndarray = (1.0 - cosine) * 100.0
    return out


def _item_names(model: SupportsHistory, nums: np.ndarray) -> list[str]:
    items = getattr(model, "items", None)
    if items is None:
        return [str(n) for n in nums.tolist()]
    return [str(i) for i in items.ids[nums]]
