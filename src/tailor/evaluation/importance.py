"""Global importances for report.html: what drives a model's lists, from its explanations.

Per-item explanations (SHAP values of the feature models, the exact item attributions of the
item-item and factor models: :func:`tailor.models.attributions.explainer_for`) of the top-``n``
lists of a seeded sample of users, summarised per input: the mean absolute contribution over
the explained (user, item) pairs (an input absent from a pair's explanation adds 0), and how
often the input is the largest contribution. For SHAP this is the usual mean |SHAP| feature
importance, taken over the items the model actually recommends; for item attributions it names
the items that most often explain lists ("because you bought X").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.models.base import Recommender

SAMPLE_USERS = 200
"""Users whose lists are explained (evenly drawn with a seeded generator)."""
ROWS = 20
"""Inputs shown (the largest mean absolute contributions)."""
EVERY = 1_000_000
"""``top`` that keeps every contribution of an explanation."""


@dataclass(frozen=True)
class GlobalImportance:
    """Summary of many explanations.

    Attributes:
        kind: the explanations' kind (``shap``, ``items``).
        table: ``name``, ``mean_abs`` (mean |contribution| per explained pair),
            ``top_share`` (share of pairs where it is the largest contribution), largest
            ``mean_abs`` first, at most :data:`ROWS` rows.
        n_users: users whose lists were explained.
        n_pairs: (user, item) pairs explained.
    """

    kind: str
    table: pd.DataFrame
    n_users: int
    n_pairs: int


def global_importance(
    model: Recommender,
    user_ids: Sequence[str] | None = None,
    *,
    n: int = 10,
    users: int = SAMPLE_USERS,
    seed: int = 0,
) -> GlobalImportance | None:
    """Explain the top-``n`` lists (seen items left out) of up to ``users`` of ``user_ids``
    (default: the model's users) and summarise them per input; None when the model has no
    explanations (Popularity) or no list was explained."""
    from tailor.models.attributions import explainer_for  # when a report asks only

    explainer = explainer_for(model)
    if explainer is None:
        return None
    pool = np.asarray(model.users.ids if user_ids is None else list(user_ids), dtype=object)
    pool = pool[np.array([model.users.number(u) is not None for u in pool], dtype=bool)]
    if len(pool) > users:
        pool = np.sort(np.random.default_rng(seed).choice(pool, users, replace=False))
    if not len(pool):
        return None
    recs = pd.DataFrame(model.recommend(pool, n))
    totals: dict[str, float] = defaultdict(float)
    firsts: dict[str, int] = defaultdict(int)
    kinds: set[str] = set()
    pairs = 0
    for user, group in recs.groupby(Columns.USER_ID, sort=False):
        user_num = model.users.number(user)
        assert user_num is not None  # recommend answers known users only
        targets = model.items.numbers(group[Columns.ITEM_ID].tolist())
        for explanation in explainer.explain(user_num, np.asarray(targets), EVERY):
            pairs += 1
            kinds.add(explanation.kind)
            for name, value in explanation.contributions:
                totals[name] += abs(value)
            if explanation.contributions:
                firsts[explanation.contributions[0][0]] += 1
    if not pairs:
        return None
    table = pd.DataFrame(
        {
            "name": list(totals),
            "mean_abs": [totals[k] / pairs for k in totals],
            "top_share": [firsts.get(k, 0) / pairs for k in totals],
        }
    )
    table = table.sort_values(["mean_abs", "name"], ascending=[False, True], kind="stable")
    kind = kinds.pop() if len(kinds) == 1 else "mixed"
    return GlobalImportance(kind, table.head(ROWS).reset_index(drop=True), len(pool), pairs)
