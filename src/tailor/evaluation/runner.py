"""evaluate(recs, truth): every metric, per user, per segment, with confidence intervals.

The unit of evaluation is a *user in the truth file with at least one relevant item*; every
reported mean is over those users. Users in the truth without any relevant item (every relevance
<= 0) are excluded and counted in ``n_users_without_relevant``; users with recommendations but
no truth rows are ignored; truth users without recommendations count with 0 on every accuracy
metric.

Stability: stable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.errors import ConfigError, DataError
from tailor.evaluation import beyond
from tailor.evaluation import metrics as m
from tailor.evaluation._kernels import curve_sums
from tailor.evaluation.lists import BYTES_PER_CELL, RankedLists, build_lists, require_memory
from tailor.evaluation.segments import item_labels, segment_sort_key, user_labels
from tailor.evaluation.significance import confidence_intervals

DEFAULT_FEATURES = (Columns.CATEGORY, "genres")
"""Catalogue columns whose one-hot values are the item features of intra-list diversity."""
CURVE_K = 100
MAX_K = 100_000
"""The largest K (and curve length) evaluated: no recommendation list is longer."""
CURVE_BYTES_PER_POSITION = 64 * 6 * 8
"""Memory of the curve kernel per list position (64 blocks of 6 float64 sums)."""
NOTE_WITHOUT_RELEVANT = (
    "Users in the truth file without any relevant item (relevance <= 0 on every row) are "
    "excluded from every mean and counted in n_users_without_relevant; truth users without "
    "recommendations count with 0; users with recommendations but no truth rows are ignored."
)


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """What :func:`evaluate` returns.

    Attributes:
        metrics: the ``metrics.json`` content: top-level ``"<metric>@<k>"`` means, ``n_users``,
            ``n_users_without_relevant``, ``segments``, ``ci`` and ``settings``.
        per_user: one row per evaluated user: ``user_id``, ``n_relevant``, ``n_recs``, segment
            labels and every per-user metric column (``ndcg@10``...).
        curves: metric@K for K = 1..curve_k: a ``k`` column plus one column per metric (empty
            when curves were not asked for).

    Stability: stable.
    """

    metrics: dict[str, Any]
    per_user: pd.DataFrame
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_json(self, path: str | Path) -> None:
        """Write ``metrics`` as indented JSON (NaN becomes null)."""
        Path(path).write_text(json.dumps(_jsonable(self.metrics), indent=2) + "\n")


def evaluate(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    k: Sequence[int] | int = (10,),
    *,
    train: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    segments: bool = True,
    relevance: str | None = Columns.RELEVANCE,
    gain: m.Gain = "linear",
    map_denominator: m.MapDenominator = "min",
    curve_k: int = CURVE_K,
    ci: bool = True,
    feature_columns: Sequence[str] = DEFAULT_FEATURES,
    seed: int = 0,
) -> EvaluationResult:
    """Evaluate recommendation lists against held-out truth.

    Args:
        recs: ``user_id, item_id`` and ``rank`` (1 = best) or ``score`` (higher = better;
            ties keep file order).
        truth: ``user_id, item_id`` and optionally a relevance column; plus ``user_segment`` /
            ``item_segment`` tags when it comes from a split.
        k: list lengths to report (``ndcg@10``...).
        train: the training interactions: popularity for novelty, average popularity, activity
            and popularity buckets, and warm/cold when the truth has no tags.
        items: the catalogue (``item_id`` + feature columns): coverage denominator and diversity.
        segments: also report per segment (``segments`` key).
        relevance: truth column with graded relevance (default ``relevance``; 1 when absent).
        gain: NDCG gain, ``linear`` (rel) or ``exponential`` (2^rel - 1).
        map_denominator: ``min`` (min(R, K), default) or ``relevant`` (R, as ranx/trec_eval).
        curve_k: compute metric@K curves for K = 1..curve_k (0 = none). Beyond the longest list
            and truth every metric is flat except precision (hits / K), so the curve is
            extended from there without more memory.
        ci: 95 % confidence intervals of every top-level per-user metric under ``ci``.
        feature_columns: catalogue columns whose values are the diversity features.
        seed: seed of the bootstrap.
    """
    ks = sorted({int(k)} if isinstance(k, int) else {int(x) for x in k})
    if not ks or ks[0] < 1:
        raise ValueError("k must be positive integers")
    check_k(ks, curve_k)
    catalog_ids = _catalog_ids(items, train)
    width = max(ks[-1], curve_k)
    lists = build_lists(
        recs,
        truth,
        width,
        relevance=relevance,
        extra_items=[] if catalog_ids is None else [catalog_ids],
        check_memory=lambda n_users, w: _check_memory(n_users, w, curve_k),
    )
    with np.errstate(over="ignore"):
        gains = np.where(lists.truth.relevance > 0, m.gain_values(lists.truth.relevance, gain), 0)
    _check_gains(lists, gains, gain)
    n_rel = lists.truth.n_relevant(gains)
    rows = np.flatnonzero(n_rel > 0)
    per_user = pd.DataFrame(
        {
            Columns.USER_ID: lists.user_ids[rows],
            "n_relevant": n_rel[rows].astype(np.int64),
            "n_recs": (_take(lists.lists, rows) >= 0).sum(axis=1),
        }
    )
    per_user = per_user.assign(**_accuracy(lists, gains, rows, ks, map_denominator))
    context = _Context(lists, ks, catalog_ids, train, items, feature_columns)
    per_user = per_user.assign(**context.per_user_beyond(rows))
    summary: dict[str, Any] = {
        "n_users": len(rows),
        "n_users_without_relevant": int((n_rel <= 0).sum()),
    }
    summary.update(_means(per_user, _metric_columns(per_user)))
    summary.update(context.global_beyond(rows))
    if segments:
        labels = user_labels(lists.user_ids[rows], truth, train)
        for family, values in labels.items():
            per_user[f"{family}_segment"] = values
        summary["segments"] = _segments(
            per_user, labels, lists, gains, truth, train, ks, map_denominator, seed if ci else None
        )
    if ci:
        summary["ci"] = _intervals(per_user, _metric_columns(per_user), seed)
    longest = int(per_user["n_recs"].max()) if len(per_user) else 0
    beyond_lists = [k for k in ks if k > longest]
    summary["settings"] = {
        "k": ks,
        "gain": gain,
        "map_denominator": map_denominator,
        "relevance": relevance,
        "catalog_size": len(catalog_ids) if catalog_ids is not None else None,
        "longest_list": longest,
        "k_beyond_lists": beyond_lists,
        "note": NOTE_WITHOUT_RELEVANT + " " + beyond.BEYOND_NOTE,
    }
    summary["warnings"] = [k_beyond_warning(k, longest) for k in beyond_lists]
    curves = _curves(lists, gains, curve_k, map_denominator, len(rows)) if curve_k else None
    return EvaluationResult(summary, per_user, curves if curves is not None else pd.DataFrame())


def check_k(ks: Sequence[int], curve_k: int) -> None:
    """K values and the curve length within [1, MAX_K] and [0, MAX_K].

    Raises:
        ConfigError: naming the value out of range.
    """
    for k in ks:
        if isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise ConfigError(f"k must be in [1, {MAX_K}], got {k!r}")
    if isinstance(curve_k, bool) or not 0 <= curve_k <= MAX_K:
        raise ConfigError(f"curve_k must be in [0, {MAX_K}], got {curve_k!r}")


def _check_gains(lists: RankedLists, gains: np.ndarray, gain: str) -> None:
    """Refuse relevance whose gains (or a user's sum of them, the ideal DCG) overflow float64:
    NDCG would silently become NaN.

    Raises:
        DataError: naming the relevance value and the user.
    """
    n_users = len(lists.truth.ptr) - 1
    with np.errstate(over="ignore", invalid="ignore"):
        per_user = np.bincount(lists.truth.user_of_row(), weights=gains, minlength=n_users)
    bad_users = np.flatnonzero(~np.isfinite(per_user))
    if len(bad_users):
        user = int(bad_users[0])
        rows = slice(lists.truth.ptr[user], lists.truth.ptr[user + 1])
        value = float(np.max(lists.truth.relevance[rows]))
        raise DataError(
            f"relevance {value:g} of user {lists.user_ids[user]!r} is too large: its {gain} "
            "gains overflow and NDCG would be NaN; rescale the relevance column"
        )


def _check_memory(n_users: int, width: int, curve_k: int) -> None:
    """The evaluation matrices plus the curve kernel's sums, before any is allocated."""
    curve = CURVE_BYTES_PER_POSITION * min(width, curve_k)
    require_memory(
        n_users * width * BYTES_PER_CELL + curve,
        f"evaluating lists of up to {width:,} items for {n_users:,} users",
        "evaluate shorter lists (a smaller --k at recommend time) or fewer users",
    )


def _catalog_ids(items: pd.DataFrame | None, train: pd.DataFrame | None) -> np.ndarray | None:
    if items is not None and Columns.ITEM_ID in items.columns:
        return items[Columns.ITEM_ID].astype(str).unique()
    if train is not None and Columns.ITEM_ID in train.columns:
        return train[Columns.ITEM_ID].astype(str).unique()
    return None


def _accuracy(
    lists: RankedLists,
    gains: np.ndarray,
    rows: np.ndarray,
    ks: Sequence[int],
    map_denominator: m.MapDenominator,
) -> dict[str, np.ndarray]:
    """Per-user accuracy metrics of ``rows`` at every k (gains per truth row, 0 = irrelevant)."""
    kmax = min(ks[-1], lists.width)  # the lists and truths end within lists.width
    sub_matches = _take(lists.matches[:, :kmax], rows)
    gain_mat = np.append(gains, 0.0)[sub_matches]
    ideal = _take(lists.ideal(gains, kmax), rows)
    n_rel = lists.truth.n_relevant(gains)[rows]
    return m.accuracy_at(gain_mat, ideal, n_rel, list(ks), map_denominator)


@dataclass
class _Context:
    """Catalogue, popularity and features shared by the beyond-accuracy metrics."""

    lists: RankedLists
    ks: Sequence[int]
    catalog_ids: np.ndarray | None
    train: pd.DataFrame | None
    items: pd.DataFrame | None
    feature_columns: Sequence[str]

    def __post_init__(self) -> None:
        vocab = pd.Index(self.lists.item_ids)
        n_items = len(vocab)
        self.catalog = np.zeros(n_items, bool)
        ids = self.catalog_ids if self.catalog_ids is not None else self.lists.item_ids
        self.catalog[vocab.get_indexer(ids)] = True
        self.popularity: np.ndarray | None = None
        if self.train is not None:
            pairs = self.train[[Columns.USER_ID, Columns.ITEM_ID]].astype(str).drop_duplicates()
            counts = pairs[Columns.ITEM_ID].value_counts()
            self.popularity = counts.reindex(vocab, fill_value=0).to_numpy(np.float64)
            self.information = beyond.self_information(
                self.popularity, pairs[Columns.USER_ID].nunique()
            )
        self.features = None
        if self.items is not None:
            cols = [c for c in self.feature_columns if c in self.items.columns]
            if cols:
                self.features = beyond.feature_matrix(self.items, self.lists.item_ids, cols)

    def per_user_beyond(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        top = _take(self.lists.lists, rows)
        out: dict[str, np.ndarray] = {}
        for k in self.ks:
            if self.popularity is not None:
                out[f"novelty@{k}"] = beyond.novelty(top, k, self.information)
                out[f"avg_popularity@{k}"] = beyond.average_popularity(top, k, self.popularity)
            if self.features is not None:
                out[f"diversity@{k}"] = beyond.intra_list_diversity(top, k, self.features)
        return out

    def global_beyond(self, rows: np.ndarray) -> dict[str, float]:
        top = _take(self.lists.lists, rows)
        out: dict[str, float] = {}
        for k in self.ks:
            shown = beyond.exposure(top, k, len(self.catalog))
            out[f"coverage@{k}"] = beyond.coverage_of(shown, self.catalog)
            out[f"gini@{k}"] = beyond.gini(shown[self.catalog])
        return out


def _take(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``matrix[rows]``, without a copy when ``rows`` is every row in order."""
    if len(rows) == len(matrix) and (len(rows) == 0 or rows[-1] == len(rows) - 1):
        return matrix
    return matrix[rows]


def _metric_columns(per_user: pd.DataFrame) -> list[str]:
    return [c for c in per_user.columns if "@" in c]


def _means(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, float]:
    out = {}
    for col in columns:
        values = frame[col].to_numpy(np.float64)
        present = values[~np.isnan(values)]
        out[col] = float(present.mean()) if len(present) else float("nan")
    return out


def _segments(
    per_user: pd.DataFrame,
    labels: dict[str, np.ndarray],
    lists: RankedLists,
    gains: np.ndarray,
    truth: pd.DataFrame,
    train: pd.DataFrame | None,
    ks: Sequence[int],
    map_denominator: m.MapDenominator,
    seed: int | None,
) -> dict[str, dict[str, Any]]:
    """Per segment: ``users``, the mean of every metric and (``seed`` not None) their 95 %
    intervals under ``ci``; in natural order (:func:`segment_sort_key`)."""
    out: dict[str, dict[str, Any]] = {}
    columns = _metric_columns(per_user)
    for family, values in labels.items():
        for name in set(values):
            chosen = per_user[values == name]
            entry: dict[str, Any] = {"users": len(chosen), **_means(chosen, columns)}
            if seed is not None:
                entry["ci"] = _intervals(chosen, columns, seed)
            out[f"{family}:{name}"] = entry
    for family, item_tags in item_labels(lists.item_ids, truth, train).items():
        row_tags = item_tags[lists.truth.items]
        for name in set(row_tags):
            seg_gains = np.where(row_tags == name, gains, 0.0)
            seg_rows = np.flatnonzero(lists.truth.n_relevant(seg_gains) > 0)
            metrics = _accuracy(lists, seg_gains, seg_rows, ks, map_denominator)
            entry = {
                "users": len(seg_rows),
                **{key: float(v.mean()) if len(v) else float("nan") for key, v in metrics.items()},
            }
            if seed is not None:
                entry["ci"] = _intervals(pd.DataFrame(metrics), list(metrics), seed)
            out[f"{family}:{name}"] = entry
    return {name: out[name] for name in sorted(out, key=segment_sort_key)}


def k_beyond_warning(k: int, longest: int) -> str:
    """The warning for a K longer than every recommendation list."""
    if longest == 0:
        return f"K={k}: no evaluated user has a recommendation list; every @{k} metric is 0"
    return (
        f"K={k} is longer than the longest recommendation list ({longest} items): the @{k} "
        f"metrics are those of the {longest}-item lists (recall, NDCG, MAP, MRR and hit rate "
        f"equal @{longest}; precision divides by {k}); recommend at least {k} items to "
        f"measure @{k}"
    )


def _intervals(frame: pd.DataFrame, columns: Sequence[str], seed: int) -> dict[str, Any]:
    low, high, method = confidence_intervals(frame[list(columns)].to_numpy(np.float64), rng=seed)
    out: dict[str, Any] = {"level": 0.95, "method": method}
    for col, lo, hi in zip(columns, low, high, strict=True):
        out[col] = [float(lo), float(hi)]
    return out


def _curves(
    lists: RankedLists, gains: np.ndarray, curve_k: int, denominator: m.MapDenominator, n: int
) -> pd.DataFrame:
    sums = curve_sums(lists.matches[:, :curve_k], lists.truth.ptr, gains, denominator == "min")
    width = sums.shape[1]
    if curve_k > width:
        # past every list and truth nothing changes but precision, hits / K
        tail = np.repeat(sums[:, -1:], curve_k - width, axis=1)
        precision = m.METRIC_NAMES.index("precision")
        tail[precision] = sums[precision, -1] * width / np.arange(width + 1, curve_k + 1)
        sums = np.concatenate([sums, tail], axis=1)
    frame = pd.DataFrame(sums.T / max(n, 1), columns=list(m.METRIC_NAMES))
    frame.insert(0, "k", np.arange(1, sums.shape[1] + 1))
    return frame


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
