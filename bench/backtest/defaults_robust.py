"""Are the model defaults robust across periods? Read a ``tailor train`` run tuned with the
backtest objective and compare, per candidate, its first trial (the model's defaults) with the
best setting the search found, period by period.

    .venv/bin/tailor train --config configs/train/online-retail-backtest.toml --out RUN
    .venv/bin/python bench/backtest/defaults_robust.py RUN [--ml100k]

Prints a Markdown table (docs/backtests.md) and writes ``bench/results/backtest_defaults.json``.
``--ml100k`` also scores, for each candidate whose search beat its defaults, both settings on
MovieLens 100K (read from ../shared/data, never copied): over its last four monthly periods
(novel items, users with history) and on the per-user temporal validation split the defaults
were chosen on (``bench/accuracy/defaults.py``), and its test part (refitted on train +
validation): a default serves every shop, so a change must
not lose on the other data set.
A default is called robust here when no setting the search found beats it on the mean over the
periods *and* in most periods; a setting that beats the defaults on the mean but not in most
periods is a lead, not evidence.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "results" / "backtest_defaults.json"


def summarise(run: Path) -> dict[str, Any]:
    """Per candidate: the defaults' periods and mean, the best trial's, and how many trials
    beat the defaults on the mean and in how many periods the best beats them."""
    from tailor.training.spaces import default_space, default_start

    selection = json.loads((run / "tuning" / "selection.json").read_text())
    out: dict[str, Any] = {
        "objective": selection.get("objective"),
        "metric": selection.get("metric"),
        "chosen": selection.get("best"),
        "candidates": {},
    }
    for key, cand in selection["candidates"].items():
        trials = [t for t in cand["tuning"]["trials"] if t["state"] == "complete"]
        if not trials:
            continue
        model = cand["model"]
        defaults = default_space(model).resolve(default_start(model, default_space(model)))
        first = min(trials, key=lambda t: t["number"])
        best = max(trials, key=lambda t: (t["value"], -t["number"]))
        d_periods = first["attrs"].get("periods", {})
        b_periods = best["attrs"].get("periods", {})
        out["candidates"][key] = {
            "model": model,
            "trials": len(cand["tuning"]["trials"]),
            "defaults_first_trial": _same(first["params"], defaults),
            "defaults": {"params": first["params"], "mean": first["value"], "periods": d_periods},
            "best": {"params": best["params"], "mean": best["value"], "periods": b_periods},
            "beat_defaults_on_mean": sum(t["value"] > first["value"] for t in trials),
            "best_wins_periods": sum(
                (b_periods[o] or 0.0) > (d_periods[o] or 0.0) for o in d_periods
            ),
            "relative": best["value"] / first["value"] - 1.0 if first["value"] else None,
        }
    return out


def ml100k_check(summary: dict[str, Any]) -> dict[str, Any]:
    """Defaults vs the best setting found, on MovieLens 100K (see the module docstring)."""
    import sys

    sys.path.insert(0, str(ROOT / "bench" / "accuracy"))
    import datasets
    import metrics

    from models import TailorModel, TrainData
    from tailor.training.backtest import BacktestPlan

    frame = datasets.load_ml100k()
    plan = BacktestPlan.build(frame, n_periods=4, horizon="1m", k=(10,), novel_only=True)
    proto = datasets.ml100k_topn()
    fit = TrainData.from_frame(proto.fit)
    full = TrainData.from_frame(proto.full_train)
    out: dict[str, Any] = {"origins": [f"{o:%Y-%m-%d}" for o in plan.origins]}
    for key, cand in summary["candidates"].items():
        if cand["beat_defaults_on_mean"] == 0:
            continue
        rows = {}
        for label in ("defaults", "best"):
            params = dict(cand[label]["params"])
            result = plan.run(cand["model"], params, seed=42, keep_per_user=False)
            model = TailorModel(cand["model"])
            model.fit(fit, params, 42)
            recs = model.recommend(proto.validation["user_id"].unique(), 20, exclude_seen=True)
            validation = float(metrics.evaluate(recs, proto.validation)["ndcg@10"].mean())
            model.fit(full, params, 42)
            recs = model.recommend(proto.test["user_id"].unique(), 20, exclude_seen=True)
            test = float(metrics.evaluate(recs, proto.test)["ndcg@10"].mean())
            rows[label] = {
                "periods": dict(zip(out["origins"], result.values().tolist(), strict=True)),
                "mean": result.mean,
                "validation_ndcg@10": validation,
                "test_ndcg@10": test,
            }
        out[key] = rows
    return out


def held_out(run: Path, summary: dict[str, Any], origins: list[str]) -> dict[str, Any]:
    """Defaults vs the best setting found on periods the search never saw (earlier months of
    the run's prepared data and catalogue; novel purchases), for candidates whose search beat the
    defaults, and every candidate's defaults for reference."""
    import pandas as pd

    from tailor.data.io import read_interactions
    from tailor.training.backtest import BacktestPlan

    frame = read_interactions(run / "prepared" / "interactions.parquet")
    items_file = run / "split" / "items.parquet"
    items = pd.read_parquet(items_file) if items_file.is_file() else None
    metric = summary.get("metric") or "ndcg@10"
    plan = BacktestPlan.build(frame, origins, horizon="1m", k=(10,), items=items, novel_only=True)
    out: dict[str, Any] = {"origins": [f"{o:%Y-%m-%d}" for o in plan.origins]}
    for key, cand in summary["candidates"].items():
        labels = ["defaults"] + (["best"] if cand["beat_defaults_on_mean"] else [])
        for label in labels:
            result = plan.run(cand["model"], dict(cand[label]["params"]), metric=metric, seed=42,
                              keep_per_user=False)  # fmt: skip
            out[f"{key} {label}"] = {
                "periods": dict(zip(out["origins"], result.values().tolist(), strict=True)),
                "mean": result.mean,
            }
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == v for k, v in b.items())


def markdown(summary: dict[str, Any]) -> str:
    cands = summary["candidates"]
    origins = next(iter(cands.values()))["defaults"]["periods"].keys() if cands else []
    heads = [o[:7] for o in origins]
    lines = [
        "| candidate | setting | " + " | ".join(heads) + " | mean | trials better on the mean |",
        "| --- | --- | " + " | ".join("---:" for _ in heads) + " | ---: | ---: |",
    ]
    for key, c in cands.items():
        for label in ("defaults", "best"):
            row = c[label]
            if label == "best" and row["params"] == c["defaults"]["params"]:
                continue
            cells = " | ".join(f"{v:.4f}" for v in row["periods"].values())
            extra = (
                f"{c['beat_defaults_on_mean']} of {c['trials']}"
                if label == "defaults"
                else f"{c['relative']:+.1%} vs defaults, higher in {c['best_wins_periods']} "
                f"of {len(row['periods'])} periods"
            )
            name = (
                "defaults"
                if label == "defaults"
                else "best found: "
                + ", ".join(f"{k}={_short(v)}" for k, v in row["params"].items())
            )
            lines.append(f"| {key} | {name} | {cells} | {row['mean']:.4f} | {extra} |")
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a tailor train run folder (backtest objective)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--ml100k", action="store_true", help="check changed settings on ML-100K")
    parser.add_argument(
        "--held-out", help="comma-separated origins the search never saw (monthly periods)"
    )
    args = parser.parse_args()
    summary = summarise(args.run)
    summary["markdown"] = markdown(summary)
    if args.held_out:
        summary["held_out"] = held_out(args.run, summary, args.held_out.split(","))
        summary["markdown"] += "\n\nHeld-out periods (never seen by the search):\n"
        for key, row in summary["held_out"].items():
            if key == "origins":
                continue
            cells = ", ".join(f"{o[:7]} {v:.4f}" for o, v in row["periods"].items())
            summary["markdown"] += f"\n{key}: {cells}; mean {row['mean']:.4f}"
    if args.ml100k:
        summary["ml100k"] = ml100k_check(summary)
        for key, rows in summary["ml100k"].items():
            if key == "origins":
                continue
            for label, row in rows.items():
                cells = ", ".join(f"{o[:7]} {v:.4f}" for o, v in row["periods"].items())
                summary["markdown"] += (
                    f"\nML-100K {key} {label}: {cells}; mean {row['mean']:.4f}; per-user "
                    f"temporal validation NDCG@10 {row['validation_ndcg@10']:.4f}, test "
                    f"{row['test_ndcg@10']:.4f}"
                )
    summary["load_average"] = [round(x, 2) for x in os.getloadavg()]
    stages = json.loads((args.run / "stages.json").read_text())
    summary["stages"] = stages
    args.out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(summary["markdown"])


if __name__ == "__main__":
    main()
