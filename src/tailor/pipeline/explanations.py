"""Structured explanations of a served list: why the model scored each item (issue 14).

The history explained is the one the list was scored from: the user's own (``model``, ``cache``
lists) or the user's plus a request's context / an anonymous session's recent items
(``session`` lists, the history :meth:`Pipeline.recommend_history` scores). Computed only when a
caller asks; a list is never changed by it.

- a model that explains itself (``SupportsExplain``: the feature models' SHAP) explains a known
  user's items; it has no history path, so session lists of such models are not explained;
- the item-item and factor models get exact item attributions
  (:mod:`tailor.models.attributions`), for user and session histories alike;
- anything else (Popularity, popular-list answers, unknown users without a history): None.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tailor.models.base import Recommender, SupportsHistory
from tailor.models.explain import Explanation, SupportsExplain

DEFAULT_TOP = 3
"""Contributions per explained item (the API's default)."""


def scored_history(
    model: SupportsHistory, user_num: int | None, context: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """The history a list is scored from: the user's own (``user_history``, with its weights
    and order; none for an unknown user) then the context's item numbers at weight 1."""
    if user_num is None:
        return context, None
    own, own_weights = model.user_history(user_num)
    history = np.concatenate([own, context])
    if own_weights is None:
        return history, None
    return history, np.concatenate([own_weights, np.ones(len(context))])


def explain_items(
    model: Recommender | None,
    user_num: int | None,
    item_ids: Sequence[str],
    context_ids: Sequence[str] = (),
    top: int = DEFAULT_TOP,
) -> list[Explanation | None]:
    """One explanation per item of a list (None: nothing explains it: an item the model does
    not know or cannot score, an unknown user without a history, a model without explanations).

    ``context_ids``: the history items the list was scored with beyond the user's own (a
    request's context, a session's recent items; unknown ones are ignored, as when scoring).
    """
    from tailor.models.attributions import ItemAttributions, explainer_for  # when asked only

    out: list[Explanation | None] = [None] * len(item_ids)
    explainer = None if model is None else explainer_for(model)
    if model is None or explainer is None:
        return out
    nums = [model.items.number(i) for i in item_ids]
    known = [k for k, n in enumerate(nums) if n is not None]
    targets = np.array([nums[k] for k in known], dtype=np.int64)
    found = [model.items.number(i) for i in context_ids]
    context = np.array([n for n in found if n is not None], dtype=np.int64)
    if not len(targets):
        return out
    explained: Sequence[Explanation | None]
    if user_num is not None and not len(context):  # the user's own list: score_rows' scores
        explained = _own_explanations(explainer, user_num, targets, top)
    elif len(context) and isinstance(explainer, ItemAttributions):
        assert isinstance(model, SupportsHistory)  # ItemAttributions holds such models only
        history, weights = scored_history(model, user_num, context)
        explained = explainer.explain_history(history, weights, targets, top)
    else:  # an unknown id without a history; a session list of a model without a history path
        return out
    for k, explanation in zip(known, explained, strict=True):
        out[k] = explanation
    return out


def _own_explanations(
    explainer: SupportsExplain, user_num: int, targets: np.ndarray, top: int
) -> list[Explanation | None]:
    """A model's own explanations of ``targets``; an item it refuses (ValueError: one it does
    not score, such as a ranker's non-candidate filled in from the popular list) gets None."""
    try:
        return list(explainer.explain(user_num, targets, top))
    except ValueError:
        pass
    out: list[Explanation | None] = []
    for target in targets:
        try:
            out.extend(explainer.explain(user_num, np.array([target]), top))
        except ValueError:
            out.append(None)
    return out
