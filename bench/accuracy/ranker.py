"""The second-stage ranker (issue 14) against tailor's best single model, on the main table's
splits and truth.

Protocols (``datasets.py``, identical to docs/benchmarks.md's tables):

- ``retail``: Online Retail, novel purchases; ranker ``target="novel"`` vs RecencyEASE.
- ``retail_repeat``: Online Retail, repeat purchases count; ranker ``target="repeat"`` vs the
  own-history baseline (the user's past items, most frequent first, then popular) and
  RecencyEASE.
- ``ml100k``: MovieLens 100K per-user temporal; ranker ``label_split="user"`` vs RecencyEASE.
- ``backtest``: Online Retail, 4 monthly origins (``tailor.training.backtest``), ranker vs
  RecencyEASE, compared per period.

Budget: the candidate models and the RecencyEASE baseline use the settings the main benchmark
tuned (15 TPE trials each on the validation month, ``bench/results/accuracy.json``); the ranker's
own LightGBM settings are its defaults (no trials). Each part writes
``bench/results/ranker_<part>.json`` (with the machine's load average) as soon as it is done;
``--report`` merges them into ``bench/results/ranker.json`` and prints the docs' tables.

    .venv/bin/python bench/accuracy/ranker.py --part retail
    .venv/bin/python bench/accuracy/ranker.py --part retail_repeat
    .venv/bin/python bench/accuracy/ranker.py --part ml100k
    .venv/bin/python bench/accuracy/ranker.py --part backtest
    .venv/bin/python bench/accuracy/ranker.py --report
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datasets
import metrics

from tailor.models.registry import create_model

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
ACCURACY = RESULTS / "accuracy.json"
CANDIDATES = ("recency-ease", "als", "itemknn")
PARTS = ("retail", "retail_repeat", "ml100k", "backtest")
SEED = 42


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def tuned(dataset: str) -> dict[str, dict[str, Any]]:
    """The main benchmark's tuned settings of tailor's models on ``dataset``."""
    rows = json.loads(ACCURACY.read_text())[dataset]["models"]
    return {
        row["model"].removeprefix("tailor ").split(" ")[0]: dict(row["params"])
        for row in rows
        if row["model"].startswith("tailor ")
    }


def ranker_params(dataset: str, **extra: Any) -> dict[str, Any]:
    settings = tuned(dataset)
    return {"seed": SEED, "submodels": {m: settings[m] for m in CANDIDATES}, **extra}


def fitted_lists(
    name: str, params: dict[str, Any], protocol: datasets.Protocol
) -> tuple[pd.DataFrame, float, Any]:
    """(top-20 lists of the test users, fit seconds, the model) for a tailor model."""
    started = time.perf_counter()
    model = create_model(name, params).fit(protocol.full_train)
    seconds = time.perf_counter() - started
    users = np.array(sorted(set(protocol.test["user_id"])))
    recs = model.recommend(users, n=20, exclude_seen=protocol.exclude_seen)
    return pd.DataFrame(recs), seconds, model


def own_history_lists(protocol: datasets.Protocol) -> pd.DataFrame:
    """The user's past items, most frequent first (ties: the latest bought first, then item
    id), then the most popular items (distinct users) not in the history."""
    train = protocol.full_train
    users = sorted(set(protocol.test["user_id"]))
    own = (
        train[train["user_id"].isin(users)]
        .groupby(["user_id", "item_id"])
        .agg(count=("item_id", "size"), last=("timestamp", "max"))
        .reset_index()
        .sort_values(["user_id", "count", "last", "item_id"], ascending=[True, False, False, True])
    )
    own = own.groupby("user_id").head(20)
    popular = train.groupby("item_id")["user_id"].nunique().sort_values(ascending=False)
    top = list(popular.index[:40])
    rows = []
    for user, group in own.groupby("user_id"):
        items = list(group["item_id"])
        items += [i for i in top if i not in set(items)][: 20 - len(items)]
        rows += [(user, item, rank) for rank, item in enumerate(items[:20], start=1)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rank"])
    frame["score"] = -frame["rank"].astype(float)
    return frame


def load_now() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> dict[str, Any]:
    return {m: metrics.paired_tests(ours[m], theirs[m]) for m in metrics.METRICS}


def run_topn(part: str) -> dict[str, Any]:
    """One top-N protocol: RecencyEASE (tuned), the ranker, the own-history baseline."""
    if part == "ml100k":
        protocol, data_key = datasets.ml100k_topn(), "ml100k"
        params = ranker_params(data_key, label_split="user")
    else:
        novel = part == "retail"
        protocol, data_key = datasets.retail_topn(novel_only=novel), "retail"
        params = ranker_params(data_key, target="novel" if novel else "repeat")
    load_before = load_now()
    tables: dict[str, pd.DataFrame] = {}
    rows: list[dict[str, Any]] = []
    config: dict[str, Any] = {}
    re_params = {"seed": SEED, **tuned(data_key)["recency-ease"]}
    for label, name, settings in (
        ("tailor recency-ease", "recency-ease", re_params),
        ("tailor ranker", "ranker", params),
    ):
        log(f"{part}: fitting {label}")
        recs, seconds, model = fitted_lists(name, settings, protocol)
        tables[label] = metrics.evaluate(recs, protocol.test)
        rows.append(
            {
                "model": label,
                "params": settings,
                "fit_seconds": round(seconds, 2),
                **metrics.summary(tables[label]),
                **({"fit_summary": model.fit_summary} if name == "ranker" else {}),
            }
        )
        log(f"{part}: {label} {metrics.summary(tables[label])} fit {seconds:.1f} s")
        if name == "ranker":
            config = model.config.model_dump(mode="json")
    if part == "retail_repeat":
        tables["own history"] = metrics.evaluate(own_history_lists(protocol), protocol.test)
        rows.append({"model": "own history", **metrics.summary(tables["own history"])})
        log(f"{part}: own history {metrics.summary(tables['own history'])}")
    comparisons = {
        "ranker vs recency-ease": compare(tables["tailor ranker"], tables["tailor recency-ease"])
    }
    if "own history" in tables:
        comparisons["ranker vs own history"] = compare(
            tables["tailor ranker"], tables["own history"]
        )
    return {
        "description": protocol.description,
        "users": int(protocol.test["user_id"].nunique()),
        "models": rows,
        "ranker_config": config,
        "comparisons": comparisons,
        "load_average": {"before": load_before, "after": load_now()},
    }


def run_backtest(periods: int) -> dict[str, Any]:
    """Online Retail, ``periods`` monthly origins: RecencyEASE (tuned) vs the ranker."""
    from tailor.data.prepare import prepare
    from tailor.training.backtest import BacktestPlan, compare_backtests

    load_before = load_now()
    frame = prepare("online-retail")[0].interactions
    plan = BacktestPlan.build(frame, n_periods=periods, k=(10, 20))
    log(f"backtest origins: {', '.join(f'{o:%Y-%m-%d}' for o in plan.origins)}")
    re_params = tuned("retail")["recency-ease"]
    started = time.perf_counter()
    base = plan.run("recency-ease", re_params, seed=SEED, label="tailor recency-ease")
    log(f"backtest: recency-ease {base.means()} ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    ranker = plan.run("ranker", ranker_params("retail"), seed=SEED, label="tailor ranker")
    log(f"backtest: ranker {ranker.means()} ({time.perf_counter() - started:.0f} s)")
    return {
        "origins": [o.isoformat() for o in plan.origins],
        "results": {
            "tailor recency-ease": base.to_dict(),
            "tailor ranker": ranker.to_dict(),
        },
        "comparison": compare_backtests(base, ranker, "ndcg@10").to_dict(),
        "load_average": {"before": load_before, "after": load_now()},
    }


def report() -> str:
    """Merge the parts into ranker.json; the docs' tables as markdown."""
    merged: dict[str, Any] = {
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "budget": "candidate models and RecencyEASE: the main benchmark's 15-trial TPE settings; "
        "ranker: defaults (0 trials)",
    }
    lines = []
    for part in PARTS:
        file = RESULTS / f"ranker_{part}.json"
        if not file.exists():
            lines.append(f"{part}: not run")
            continue
        data = json.loads(file.read_text())
        merged[part] = data
        if part == "backtest":
            cmp = data["comparison"]
            lines.append(f"\n### backtest ({', '.join(o[:7] for o in data['origins'])})\n")
            lines.append("| origin | recency-ease | ranker | relative |")
            lines.append("| --- | ---: | ---: | ---: |")
            for row in cmp["periods"]:
                lines.append(
                    f"| {row['origin'][:10]} | {row['a']:.4f} | {row['b']:.4f} | "
                    f"{row['relative']:+.1%} |"
                )
            lines.append(
                f"\nmean relative {cmp['relative']:+.1%}, ranker wins {cmp['b_wins']} of "
                f"{len(cmp['periods'])}; load {data['load_average']}"
            )
            continue
        lines.append(f"\n### {part} ({data['users']:,} users)\n")
        lines.append("| model | NDCG@10 | Recall@20 | Precision@10 | fit s |")
        lines.append("| --- | ---: | ---: | ---: | ---: |")
        for row in data["models"]:
            fit = f"{row['fit_seconds']:.1f}" if "fit_seconds" in row else ""
            lines.append(
                f"| {row['model']} | {row['ndcg@10']:.4f} | {row['recall@20']:.4f} | "
                f"{row['precision@10']:.4f} | {fit} |"
            )
        for name, table in data["comparisons"].items():
            lines.append(f"\n{name}:\n")
            lines.append("| metric | ranker | other | gain | p (t-test) | p (Wilcoxon) |")
            lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
            for metric, t in table.items():
                lines.append(
                    f"| {metric} | {t['ours']:.4f} | {t['theirs']:.4f} | "
                    f"{t['relative_gain']:+.1%} | {t['t_pvalue']:.2g} | "
                    f"{t['wilcoxon_pvalue']:.2g} |"
                )
        lines.append(f"\nload average {data['load_average']}")
    (RESULTS / "ranker.json").write_text(json.dumps(merged, indent=2, default=str) + "\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS)
    parser.add_argument("--periods", type=int, default=4)
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args(argv)
    if args.part:
        started = time.perf_counter()
        out = run_backtest(args.periods) if args.part == "backtest" else run_topn(args.part)
        out["seconds"] = round(time.perf_counter() - started, 1)
        file = RESULTS / f"ranker_{args.part}.json"
        file.write_text(json.dumps(out, indent=2, default=str) + "\n")
        log(f"wrote {file}")
    if args.report or not args.part:
        print(report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
