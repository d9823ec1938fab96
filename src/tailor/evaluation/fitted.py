"""Evaluate a fitted model on a split: the pipeline's lists for the test users, then
:func:`evaluate`.

The lists come from :class:`tailor.pipeline.Pipeline`, the object ``tailor recommend`` and the
server use, so the filters (seen items, availability, category), the backfill of short lists and
the cold-start fallback are the ones users get.

Stability: stable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.evaluation.runner import EvaluationResult, evaluate
from tailor.pipeline import Pipeline, Query


def as_pipeline(model: Any, fallback: Any = None, items: pd.DataFrame | None = None) -> Pipeline:
    """``model`` as a :class:`Pipeline`: a pipeline as it is, a model folder (path) read with
    :meth:`Pipeline.from_model_dir`, else a fitted model with ``fallback`` (e.g. Popularity; None:
    no fallback) and ``items`` as its catalogue (availability and categories)."""
    if isinstance(model, Pipeline):
        return model
    if isinstance(model, str | Path):
        return Pipeline.from_model_dir(model)
    return Pipeline.build(model, fallback, catalog=items)


def recommend_for(
    model: Any,
    user_ids: np.ndarray,
    n: int,
    *,
    exclude_seen: bool = True,
    fallback: Any = None,
    items: pd.DataFrame | None = None,
    category: str | None = None,
) -> pd.DataFrame:
    """Top-``n`` lists for ``user_ids`` as a frame (user_id, item_id, rank, score, source).

    ``model`` is a Pipeline, a model folder or a fitted model (see :func:`as_pipeline`). Users
    the model does not know get the popular items (``source=cold_start``) when there is a
    fallback, else no rows (they score 0).
    """
    pipeline = as_pipeline(model, fallback, items)
    query = Query(n=n, exclude_seen=exclude_seen, category=category)
    return pipeline.recommend(user_ids, query).recs


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
    category: str | None = None,
    **options: Any,
) -> EvaluationResult:
    """Recommend ``n`` items to every test user of ``split`` and evaluate against its test rows.

    Args:
        model: a :class:`~tailor.pipeline.Pipeline`, a model folder written by ``tailor fit``,
            or a fitted model (wrapped in a pipeline with ``fallback`` and ``items``).
        split: a :class:`~tailor.data.split.Split` (``train``, ``validation``, ``test``).
        k: list lengths to report.
        n: list length to request (at least max(k); the metric@K curves go up to ``n``).
        exclude_seen: leave out the items each user had in training.
        truth_filter: turns the test frame into the truth, e.g. keeping only purchases of items
            the user had not bought before; default: every test row is relevant.
        fallback: for a bare model, the model answering users it does not know and filling
            short lists (e.g. Popularity); without one those users score 0, which is how a
            system without a fallback really performs.
        train: reference interactions for popularity/activity; default ``split.fit_frame()``
            (train + validation, what the test tags are relative to).
        items: catalogue for coverage and diversity, and for a bare model its availability and
            categories (unavailable items are never listed, as when served).
        category: evaluate lists restricted to one catalogue category.
        **options: passed on to :func:`~tailor.evaluation.runner.evaluate`.
    """
    n = max(n, *k)
    truth = split.test if truth_filter is None else truth_filter(split.test)
    users = pd.unique(truth[Columns.USER_ID].astype(str).to_numpy())
    recs = recommend_for(
        model,
        users,
        n,
        exclude_seen=exclude_seen,
        fallback=fallback,
        items=items,
        category=category,
    )
    reference = train if train is not None else split.fit_frame()
    options.setdefault("curve_k", n)
    return evaluate(recs, truth, k, train=reference, items=items, **options)
