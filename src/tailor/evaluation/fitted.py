"""Evaluate a fitted model on a split: recommend for the test users, then :func:`evaluate`.

Stability: stable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.evaluation.runner import EvaluationResult, evaluate


def recommend_for(
    model: Any,
    user_ids: np.ndarray,
    n: int,
    *,
    exclude_seen: bool = True,
    fallback: Any = None,
) -> pd.DataFrame:
    """Top-``n`` lists for ``user_ids`` as a frame with a ``source`` column.

    Users the model does not know get no rows (they score 0), unless a ``fallback`` model is given:
    it answers them through its own ``recommend``, and users it does not know either get its
    ``top_items(n)`` list when it has one (Popularity does).
    """
    recs = model.recommend(user_ids, n, exclude_seen=exclude_seen).to_frame()
    recs[Columns.SOURCE] = "model"
    if fallback is None:
        return recs
    missing = np.setdiff1d(np.asarray(user_ids, dtype=str), recs[Columns.USER_ID].astype(str))
    extra = fallback.recommend(missing, n, exclude_seen=exclude_seen).to_frame()
    still = np.setdiff1d(missing, extra[Columns.USER_ID].astype(str))
    parts = [recs, extra.assign(**{Columns.SOURCE: "fallback"})]
    if len(still) and hasattr(fallback, "top_items"):
        top = fallback.top_items(n)
        width = len(top)
        parts.append(
            pd.DataFrame(
                {
                    Columns.USER_ID: np.repeat(still, width),
                    Columns.ITEM_ID: np.tile(top[Columns.ITEM_ID].to_numpy(), len(still)),
                    Columns.RANK: np.tile(np.arange(1, width + 1), len(still)),
                    Columns.SCORE: np.tile(top[Columns.SCORE].to_numpy(), len(still)),
                    Columns.SOURCE: "fallback",
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def evaluate_model(
    model: Any,
    split: Any,
    k: Sequence[int] = (10, 20),
    *,
    n: int = 100,
    exclude_seen: bool = True,
    truth_filter: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    fallback: Any = None,
    train: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    **options: Any,
) -> EvaluationResult:
    """Recommend ``n`` items to every test user of ``split`` and evaluate against its test rows.

    Args:
        model: a fitted :class:`~tailor.models.base.RecommenderBase` (``recommend``).
        split: a :class:`~tailor.data.split.Split` (``train``, ``validation``, ``test``).
        k: list lengths to report.
        n: list length to request (at least max(k); the metric@K curves go up to ``n``).
        exclude_seen: passed to ``model.recommend``.
        truth_filter: turns the test frame into the truth, e.g. keeping only purchases of items
            the user had not bought before; default: every test row is relevant.
        fallback: a model answering users unknown to ``model`` (e.g. Popularity); without one
            those users score 0, which is how a system without a fallback really performs.
        train: reference interactions for popularity/activity; default ``split.fit_frame()``
            (train + validation, what the test tags are relative to).
        items: catalogue for coverage and diversity.
        **options: passed on to :func:`~tailor.evaluation.runner.evaluate`.
    """
    n = max(n, *k)
    truth = split.test if truth_filter is None else truth_filter(split.test)
    users = pd.unique(truth[Columns.USER_ID].astype(str).to_numpy())
    recs = recommend_for(model, users, n, exclude_seen=exclude_seen, fallback=fallback)
    reference = train if train is not None else split.fit_frame()
    options.setdefault("curve_k", n)
    return evaluate(recs, truth, k, train=reference, items=items, **options)
