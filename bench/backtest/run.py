"""Backtest on Online Retail: does tailor's advantage over the best tuned peer hold month by month?

The side-by-side benchmark (``bench/accuracy``) tuned every model on one validation month
(October 2011) and tested it on the next 30 days. Here the settings it chose are kept fixed and
each model is refitted at six monthly origins (June to November 2011), trained on everything
before the origin and scored on the calendar month after it, with
:mod:`tailor.training.backtest`: the data of ``tailor.data.prepare.prepare("online-retail")``
(the bundled copy), relevant = novel purchases (``unseen_only``), users with history at the
origin, NDCG@10 / Recall@20 over every training item but the user's own.

Models: tailor recency-ease (the benchmark's chosen tailor model), implicit ALS (its best tuned
peer, chosen by validation) and LensKit ImplicitMF (the second peer) with their benchmark
settings, through the benchmark's own adapters (``bench/accuracy/peers.py``), plus tailor's ALS
with implicit ALS's settings and tailor popularity as references. LensKit needs the peers'
environment; without it (or with ``--no-peers``) the peers are replaced by tailor's ALS with
implicit ALS's tuned settings, and the output says so::

    .venv/bin/tailor data prepare online-retail --out /tmp/online-retail
    bench/.venv-peers/bin/python bench/backtest/run.py --prepared /tmp/online-retail
    .venv/bin/python bench/backtest/run.py --no-peers       # tailor only, prepares itself

The peers' environment runs pandas 2.3 (LensKit's pin). Until tailor.data.ids masked pandas 2's
text for missing values, ``prepare("online-retail")`` there kept the 132,186 rows without a
customer id as the user ``"<NA>"``; now both pandas versions keep the same 392,692 rows, and
``--prepared`` only saves preparing the data twice.

Writes ``bench/results/backtest.json`` and prints the per-period tables (Markdown) for
``docs/backtests.md``; ``docs/benchmarks.md`` renders them from the JSON.
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

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the accuracy benchmark
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "accuracy"))

import numpy as np
import pandas as pd

from tailor.data.io import read_interactions
from tailor.data.prepare import prepare
from tailor.training.backtest import BacktestPlan, BacktestResult, compare_backtests

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "backtest.json"
ACCURACY = ROOT / "bench" / "results" / "accuracy.json"
SEED = 42
CHOSEN = "tailor recency-ease"
METRICS = ("ndcg@10", "recall@20", "precision@10")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def tuned() -> dict[str, dict[str, Any]]:
    """Online Retail's tuned settings from the side-by-side benchmark."""
    rows = json.loads(ACCURACY.read_text())["retail"]["models"]
    return {row["model"]: dict(row["params"]) for row in rows}


def peer_lists(key: str, params: dict[str, Any]) -> Any:
    """A backtest list maker over the benchmark's adapter of peer ``key``."""
    from spaces import TOPN

    from models import TrainData

    spec = {s.key: s for s in TOPN}[key]

    def lists(period: Any, users: np.ndarray, n: int) -> pd.DataFrame:
        data = TrainData.from_frame(period.train)
        model = spec.make()
        model.fit(data, params, SEED)
        known = users[np.isin(users, data.users)]
        return model.recommend(known, n, exclude_seen=True)

    return lists


def have_peers() -> bool:
    try:
        import implicit  # noqa: F401
        import lenskit  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--periods", type=int, default=6)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--prepared",
        type=Path,
        help="read DIR/interactions.parquet (from `tailor data prepare online-retail`) instead "
        "of preparing here",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = tuned()
    if args.prepared is not None:
        frame = read_interactions(args.prepared / "interactions.parquet")
    else:
        frame = prepare("online-retail")[0].interactions
    log(f"{len(frame):,} interactions, {frame['user_id'].nunique():,} users")
    plan = BacktestPlan.build(frame, n_periods=args.periods, k=(10, 20))
    log(f"origins: {', '.join(f'{o:%Y-%m-%d}' for o in plan.origins)}")
    results: dict[str, BacktestResult] = {}

    def record(result: BacktestResult) -> None:
        results[result.model] = result
        shown = ", ".join(f"{v:.4f}" for v in result.values())
        log(f"{result.model}: ndcg@10 by period {shown}; mean {result.mean:.4f}")

    record(plan.run("recency-ease", settings[CHOSEN], seed=SEED, label=CHOSEN))
    record(
        plan.run("popularity", settings["tailor popularity"], seed=SEED, label="tailor popularity")
    )
    als = {**settings["implicit ALS"], "binary": True}
    record(plan.run("als", als, seed=SEED, label="tailor als (implicit ALS's settings)"))
    peers = have_peers() and not args.no_peers
    if peers:
        for key in ("implicit ALS", "LensKit ImplicitMF"):
            record(plan.run_lists(key, peer_lists(key, settings[key]), settings[key]))
        peer = "implicit ALS"
        note = "peers run through the benchmark's adapters in bench/.venv-peers"
    else:
        peer = "tailor als (implicit ALS's settings)"
        note = (
            "the peers' environment was not available: the peer is tailor's ALS with implicit "
            "ALS's tuned settings (tailor's ALS wraps implicit's, and scored the same in the "
            "side-by-side benchmark)"
        )
    comparisons = {
        name: compare_backtests(results[name], results[CHOSEN]).to_dict()
        for name in results
        if name != CHOSEN
    }
    for metric in METRICS[1:]:
        comparisons[f"{peer} ({metric})"] = compare_backtests(
            results[peer], results[CHOSEN], metric
        ).to_dict()
    out = {
        "data": "prepare('online-retail'), novel purchases of users with history at the origin",
        "rows": len(frame),
        "pandas": pd.__version__,
        "origins": [o.isoformat() for o in plan.origins],
        "horizon": "1 calendar month",
        "chosen": CHOSEN,
        "peer": peer,
        "peers_available": peers,
        "note": note,
        "results": {name: r.to_dict() for name, r in results.items()},
        "comparisons": comparisons,
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "total_s": time.perf_counter() - started,
    }
    out["markdown"] = render(out)  # docs/benchmarks.md's backtest section (report.py)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(out["markdown"])
    log(f"wrote {args.out} in {out['total_s']:.0f} s")
    return 0


def render(out: dict[str, Any]) -> str:
    """Markdown tables: NDCG@10 per period and model, then the chosen model vs the peer."""
    results = out["results"]
    names = list(results)
    origins = [o[:7] for o in out["origins"]]
    lines = [
        "| model | " + " | ".join(origins) + " | mean | 95 % CI (t) | sd |",
        "| --- | " + " | ".join("---:" for _ in origins) + " | ---: | --- | ---: |",
    ]
    for name in names:
        r = results[name]
        cells = [f"{p['metrics']['ndcg@10']:.4f}" for p in r["periods"]]
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {r['mean']:.4f} | "
            f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}] | {r['std']:.4f} |"
        )
    peer = out["peer"]
    cmp = out["comparisons"][peer]
    chosen = results[out["chosen"]]
    lines += [
        "",
        f"{out['chosen']} vs {peer} (NDCG@10), period by period:",
        "",
        "| period | users | train rows | " + f"{out['chosen']} | {peer} | gain | 95 % CI of the "
        "difference (users) | p (t) | p (Wilcoxon) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for row, period in zip(cmp["periods"], chosen["periods"], strict=True):
        lines.append(
            f"| {row['origin'][:7]} | {row['users']:,} | {period['train_rows']:,} | "
            f"{row['b']:.4f} | {row['a']:.4f} | {row['relative']:+.1%} | "
            f"[{_get(row, 'ci_low'):+.4f}, {_get(row, 'ci_high'):+.4f}] | "
            f"{_get(row, 't_pvalue'):.1e} | {_get(row, 'wilcoxon_pvalue'):.1e} |"
        )
    lines += [
        "",
        f"Mean difference over periods {cmp['mean_difference']:+.4f} (95 % t interval over "
        f"periods [{cmp['ci_low']:+.4f}, {cmp['ci_high']:+.4f}]); relative gain "
        f"{cmp['relative']:+.1%} on average, from {cmp['relative_min']:+.1%} to "
        f"{cmp['relative_max']:+.1%} (sd "
        f"{cmp['relative_std']:.1%}); {out['chosen']} higher in {cmp['b_wins']} of "
        f"{len(cmp['periods'])} periods.",
    ]
    for metric in METRICS[1:]:
        other = out["comparisons"].get(f"{peer} ({metric})")
        if other:
            lines.append(
                f"{metric}: relative gain {other['relative']:+.1%} on average, from "
                f"{other['relative_min']:+.1%} to {other['relative_max']:+.1%}, higher in "
                f"{other['b_wins']} of {len(other['periods'])} periods."
            )
    lines.append(f"\nNote: {out['note']}.")
    return "\n".join(lines) + "\n"


def _get(row: dict[str, Any], key: str) -> float:
    value = row.get(key)
    return float("nan") if value is None else float(value)


if __name__ == "__main__":
    raise SystemExit(main())
