"""Accuracy of incremental updates: day-by-day fold-in vs a full refit.

For each data set (ML-100K read from ../shared/data, Online Retail bundled), a global time cut
(``_common.TEST_START``) splits train from the test period; the test period's days are split in
two halves (the first ``days // 2`` calendar days, the rest). For each model:

* **base**: a full fit on train (the model the stream starts from), with a Popularity fallback;
* **fold-in**: the base model and its fallback receive the first half **day by day** through
  ``partial_fit``, each day's rows turned into the events a shop would send and through the
  consumer's event rules (``EventRules.to_frame``: the batch cleaning weights, repeated
  (user, item) pairs of the day aggregated), exactly the frames ``tailor stream`` folds in;
* **refit**: a full fit on train + first half.

All three are scored on the second half: the truth is the second half's (user, item) pairs not
seen in train or the first half (``unseen_only``: a repeat is no discovery), every one of their
users gets a 100-item list from the pipeline (seen items left out, unknown users the popular
list), and ``tailor.evaluation.evaluate`` computes NDCG@10 (binary relevance), as elsewhere in
docs/benchmarks.md; again over the truth of the users with history before the second half only
(``known_*``: users new in the second half get the popular list from every variant). Times are
wall seconds in this process: fold-in, every ``partial_fit`` call of the half (model and
fallback; turning the events into frames is reported apart); refit, the fit on train + first
half. On a shared machine they move with its load (recorded beside each model).

    .venv/bin/python bench/streaming/incremental.py [--datasets ml-100k,online-retail]
        [--models recency-ease,itemknn,als] [--out NAME]

A model is ``name`` or ``name:key=value,...`` (hyperparameters, e.g.
``recency-ease:popularity_weight=0`` or ``als:seed=1``; separate the models with ``;`` when one
has several parameters); ``model_partial_fit_ms`` records each day's ``partial_fit`` of the
model alone (the first one of EASE models includes rebuilding the inverse they keep);
``--out`` names the results file (``bench/results/streaming_NAME.json``, default
``incremental``); ``--profile`` adds a cProfile of each model's ``partial_fit`` calls.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from _common import load, machine, test_period, write_results

K = (10, 20)
N = 100


def day_frames(frame: pd.DataFrame, rules: Any) -> list[tuple[str, pd.DataFrame]]:
    """Each day's rows as the consumer's partial_fit frames (events through the rules)."""
    from tailor.streaming.events import Event

    out = []
    days = frame["timestamp"].dt.floor("D")
    for day, rows in frame.groupby(days, sort=True):
        rows = rows.sort_values("timestamp", kind="stable")
        events = [
            Event(
                event_id=f"{day:%Y%m%d}-{k}",
                user_id=str(user),
                item_id=str(item),
                type=str(kind),
                timestamp=stamp.to_pydatetime(),
                value=None if value != value else float(value),
            )
            for k, (user, item, kind, value, stamp) in enumerate(
                zip(
                    rows["user_id"],
                    rows["item_id"],
                    rows["event_type"],
                    rows["value"],
                    rows["timestamp"],
                    strict=True,
                )
            )
        ]
        out.append((f"{day:%Y-%m-%d}", rules.to_frame(events)))
    return out


def score(
    model: Any,
    fallback: Any,
    truth: pd.DataFrame,
    reference: pd.DataFrame,
    items: Any,
    known: set[str],
) -> dict[str, Any]:
    """NDCG@10 and recall@20 over every truth user, and over the users with history before
    the second half (``known``: the others get the popular list from every variant)."""
    from tailor.evaluation.fitted import recommend_for
    from tailor.evaluation.runner import evaluate

    users = pd.unique(truth["user_id"].astype(str).to_numpy())
    recs = recommend_for(model, users, N, fallback=fallback, items=items)
    out: dict[str, Any] = {}
    warm = truth[truth["user_id"].astype(str).isin(known)]
    for label, part in (("all", truth), ("known", warm)):
        result = evaluate(recs, part, K, train=reference, items=items, ci=False, segments=False)
        key = "" if label == "all" else "known_"
        out[f"{key}ndcg@10"] = round(float(result.metrics["ndcg@10"]), 4)
        out[f"{key}recall@20"] = round(float(result.metrics["recall@20"]), 4)
        out[f"{key}users"] = int(part["user_id"].nunique())
    return out


def model_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``name`` or ``name:key=value,key=value`` (values read as JSON, else text)."""
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for pair in filter(None, rest.split(",")):
        key, _, value = pair.partition("=")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return name, params


def fit(spec: str, frame: pd.DataFrame, items: Any) -> tuple[Any, Any, float]:
    from tailor.data.dataset import Dataset
    from tailor.models.popular import Popularity
    from tailor.models.registry import create_model

    name, params = model_spec(spec)
    start = time.perf_counter()
    data = Dataset.from_frame(frame, items=items)
    model = create_model(name, params).fit(data)
    seconds = time.perf_counter() - start
    return model, Popularity().fit(data), seconds


def profile_lines(profiler: cProfile.Profile, calls: int, top: int = 15) -> list[str]:
    """The model's ``partial_fit`` calls by cumulative time: share of the total, ms per call."""
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    total = max(v[3] for v in entries.values())  # (calls, primitive, own, cumulative, callers)
    rows = sorted(entries.items(), key=lambda kv: kv[1][3], reverse=True)[:top]
    return [
        f"{100 * ct / total:5.1f} % {1000 * ct / calls:8.1f} ms/call  {Path(f).name}:{line}({fn})"
        for (f, line, fn), (_, _, _, ct, _) in rows
    ]


def weights_gap(folded: Any, refit: Any) -> dict[str, float]:
    """The folded-in item-item weights against the refit's, over the folded model's items."""
    import numpy as np

    nums = refit.items.numbers(folded.items.ids)
    n = len(folded.weights)
    want = refit.weights[np.ix_(nums[:n], nums[:n])]
    return {
        "max_abs_diff": float(np.abs(folded.weights - want).max()),
        "max_abs_weight": float(np.abs(want).max()),
    }


def run(data: Any, models: list[str], profile: bool = False) -> dict[str, Any]:
    from tailor.evaluation.truth import unseen_only
    from tailor.streaming.rules import EventRules

    train, test = test_period(data)
    days = sorted(test["timestamp"].dt.floor("D").unique())
    half = days[len(days) // 2]
    first, second = test[test["timestamp"] < half], test[test["timestamp"] >= half]
    seen = pd.concat([train, first], ignore_index=True)
    truth = unseen_only(second, seen)
    known = set(seen["user_id"].astype(str))
    start = time.perf_counter()
    frames = day_frames(first, EventRules(data.cleaning))
    events_s = time.perf_counter() - start
    items = data.items
    out: dict[str, Any] = {
        "train_rows": len(train),
        "test_from": str(days[0].date()),
        "first_half": f"{days[0].date()} .. {(half - pd.Timedelta(days=1)).date()}",
        "first_half_days": len(frames),
        "first_half_rows": len(first),
        "second_half_from": str(half.date()),
        "second_half_rows": len(second),
        "truth_pairs": len(truth),
        "truth_pairs_new_items": int((~truth["item_id"].isin(set(train["item_id"]))).sum()),
        "truth_pairs_new_users": int((~truth["user_id"].isin(set(seen["user_id"]))).sum()),
        "events_to_frames_s": round(events_s, 3),
        "models": {},
    }
    for name in models:
        print(f"{data.name} {name}", file=sys.stderr)
        model, popular, base_s = fit(name, train, items)
        base = score(model, popular, truth, seen, items, known)
        load_before = machine()["load_avg"]
        profiler = cProfile.Profile() if profile else None
        start = time.perf_counter()
        call_ms = []
        for _, frame in frames:
            if profiler is not None:
                profiler.enable()
            call_start = time.perf_counter()
            model.partial_fit(frame)
            call_ms.append(round(1000 * (time.perf_counter() - call_start), 1))
            if profiler is not None:
                profiler.disable()
            popular.partial_fit(frame)
        fold_s = time.perf_counter() - start
        folded = score(model, popular, truth, seen, items, known)
        refit_model, refit_popular, refit_s = fit(name, seen, items)
        refit = score(refit_model, refit_popular, truth, seen, items, known)
        ratio = folded["ndcg@10"] / refit["ndcg@10"] if refit["ndcg@10"] else float("nan")
        known_ratio = folded["known_ndcg@10"] / refit["known_ndcg@10"]
        out["models"][name] = {
            "base_fit_s": round(base_s, 2),
            "no_update": base,
            "fold_in": {**folded, "seconds": round(fold_s, 3), "calls": len(frames)},
            "refit": {**refit, "seconds": round(refit_s, 2)},
            "fold_in_vs_refit_ndcg": round(ratio, 4),
            "fold_in_vs_refit_ndcg_known_users": round(known_ratio, 4),
            "time_ratio": round(fold_s / refit_s, 4),
            "fold_in_ms_per_call": round(1000 * fold_s / max(len(frames), 1), 1),
            "model_partial_fit_ms": call_ms,
            "largest_day_vs_refit": round(max(call_ms, default=0.0) / 1000 / refit_s, 4),
            "gap_closed": round(
                (folded["ndcg@10"] - base["ndcg@10"]) / (refit["ndcg@10"] - base["ndcg@10"]), 3
            )
            if refit["ndcg@10"] != base["ndcg@10"]
            else None,
            "load_before": load_before,
            "load_after": machine()["load_avg"],
        }
        if hasattr(model, "weights") and not hasattr(model.weights, "tocsr"):  # EASE's B
            out["models"][name]["weights_vs_refit"] = weights_gap(model, refit_model)
        if profiler is not None:
            out["models"][name]["profile"] = profile_lines(profiler, len(frames))
        print(f"  {out['models'][name]}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--datasets", default="ml-100k,online-retail")
    parser.add_argument("--models", default="recency-ease,itemknn,als")
    parser.add_argument("--out", default="incremental")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the model's partial_fit calls (their times then include the profiler)",
    )
    args = parser.parse_args(argv)
    models = args.models.split(";") if ";" in args.models else args.models.split(",")
    results = {name: run(load(name), models, args.profile) for name in args.datasets.split(",")}
    payload = {
        "benchmark": "incremental updates: day-by-day partial_fit vs full refit (NDCG@10)",
        "command": "python bench/streaming/incremental.py " + shlex.join(argv or sys.argv[1:]),
        "models": "default hyperparameters (tailor's defaults, no tuning)",
        "target": "fold-in NDCG@10 >= 95 % of the refit's",
        "k": list(K),
        "list_length": N,
        "truth": "second half's (user, item) pairs unseen in train + first half",
        "machine": machine(),
        "results": results,
    }
    path = write_results(args.out, payload)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
