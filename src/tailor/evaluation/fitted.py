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
from tailor.models.model_dir import recommend_with_fallback


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
    see :func:`~tailor.models.model_dir.recommend_with_fallback`, which this delegates to.
    """
    return recommend_with_fallback(model, fallback, user_ids, n, exclude_seen=exclude_seen)


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
