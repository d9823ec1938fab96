"""Are the model defaults robust across periods? Read a ``tailor train`` run tuned with the
backtest objective and compare, per candidate, its first trial (the model's defaults) with the
best setting the search found, period by period.

    .venv/bin/tailor train --config configs/train/online-retail-backtest.toml --out RUN
    .venv/bin/python bench/backtest/defaults_robust.py RUN

Prints a Markdown table (docs/backtests.md) and writes ``bench/results/backtest_defaults.json``.
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
    args = parser.parse_args()
    summary = summarise(args.run)
    summary["markdown"] = markdown(summary)
    summary["load_average"] = [round(x, 2) for x in os.getloadavg()]
    stages = json.loads((args.run / "stages.json").read_text())
    summary["stages"] = stages
    args.out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(summary["markdown"])


if __name__ == "__main__":
    main()
