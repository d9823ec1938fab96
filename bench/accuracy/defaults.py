"""Strong defaults: every tailor model with the hyperparameters it gets when none are given.

Runs in the project's own environment (no peers needed; MovieLens is read from
``../shared/data/ml-100k``, never copied)::

    .venv/bin/python bench/accuracy/defaults.py            # evaluate the defaults (a few minutes)
    .venv/bin/python bench/accuracy/defaults.py --choose   # first rerun the choice (~15 min)

**Choice** (``--choose``, on validation only). For each model the candidates are its settings
tuned in the side-by-side benchmark (``bench/results/accuracy.json``: one per data set), the old
defaults and a small grid around them (:data:`GRIDS`). Each candidate is fitted on the training
part and scored on the validation part of both data sets (ML-100K per-user temporal, Online Retail
novel purchases); its *relative NDCG* on a data set is its validation NDCG@10 divided by the
model's tuned validation NDCG@10 there. The default is the candidate with the best mean relative
NDCG over the two data sets. Test data is never looked at while choosing.

**Evaluation** (always). Every model is built with ``create_model(name)`` (its config defaults,
only the seed fixed), fitted on train + validation and scored once on test, as in the
side-by-side benchmark; ML-100K's best model is compared with the best tuned peer there.

Writes ``bench/results/defaults.json`` and regenerates ``docs/benchmarks.md`` (whose defaults
section reads it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as run.py: implicit's advice, LAPACK-bound
sys.path.insert(0, str(Path(__file__).resolve().parent))

import datasets
import metrics
import pandas as pd
import report

from models import TailorModel, TrainData
from tailor.models.registry import MODELS, create_model, model_class

SEED = 42
RESULTS = datasets.ROOT / "bench" / "results" / "defaults.json"
ACCURACY = datasets.ROOT / "bench" / "results" / "accuracy.json"
FAIR = datasets.ROOT / "bench" / "results" / "fair.json"
DOC = datasets.ROOT / "docs" / "benchmarks.md"
TARGET_GAIN = 0.05
"""With defaults, ML-100K's best tailor model must beat the best tuned peer by this much."""

BENCH_KEYS = {name: f"tailor {name}" for name in MODELS} | {"mf-sgd": "tailor mf-sgd (warp)"}
"""Registry name -> the model's key in accuracy.json."""
FIXED = {"itemknn": {"binary": True}, "ease": {"binary": True}, "als": {"binary": True}}
"""Parameters the side-by-side benchmark fixed (bench/accuracy/spaces.py) besides the tuned ones."""
FIXED_BY_KEY = {"tailor mf-sgd (warp)": {"loss": "warp"}}


KEPT = {
    "popularity": (
        "kept at half_life_days=None: Popularity() is also every fallback (tailor fit's "
        "popularity/, serving, tailor recommend, evaluation), whose behaviour other parts rely on; "
        "set half_life_days=7 for a shop's cold-start list"
    )
}
"""Models whose config default is not the choice, and why."""


def _grid(**axes: list[Any]) -> list[dict[str, Any]]:
    """Every combination of the axes; an axis value that is a dict spreads its keys."""
    out = []
    for values in itertools.product(*axes.values()):
        params: dict[str, Any] = {}
        for key, value in zip(axes, values, strict=True):
            if isinstance(value, dict):
                params.update(value)
            else:
                params[key] = value
        out.append(params)
    return out


GRIDS: dict[str, list[dict[str, Any]]] = {
    "popularity": _grid(half_life_days=[None, 2.5, 7.0, 14.0, 30.0, 60.0, 120.0]),
    "itemknn": _grid(k=[16, 50, 100, 200], shrink=[0.0, 10.0, 70.0], weighting=["none", "bm25"]),
    "ease": _grid(regularization=[100.0, 200.0, 300.0, 500.0, 1000.0, 2000.0]),
    "recency-ease": _grid(
        regularization=[250.0, 450.0],
        gram_half_life_days=[None, 9.0, 30.0, 120.0],
        profile=[
            {"profile_half_life": None},
            {"profile_half_life": 4.0, "profile_floor": 0.01},
            {"profile_half_life": 10.0, "profile_floor": 0.01},
            {"profile_half_life": 4.0, "profile_floor": 0.1},
        ],
        trend=[
            {"popularity_weight": 0.0},
            {"popularity_weight": 0.02, "popularity_half_life_days": 5.0},
            {"popularity_weight": 0.02, "popularity_half_life_days": 14.0},
            {"popularity_weight": 0.026, "popularity_half_life_days": 55.0},
        ],
    ),
    "als": _grid(
        factors=[32, 64, 128], regularization=[0.01, 0.1], alpha=[1.0, 2.0, 5.0], binary=[True]
    ),
    "bpr": _grid(
        factors=[64, 128],
        learning_rate=[0.005, 0.01, 0.02],
        regularization=[0.003],
        iterations=[100],
    ),
    "mf-sgd": _grid(
        loss=["warp", "bpr"],
        embedding_size=[32, 64],
        learning_rate=[0.03, 0.05],
        regularization=[0.0001, 0.001],
        epochs=[20],
    ),
}
"""The grid around the tuned settings, per model (the tuned settings are added to it)."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def score(
    name: str, params: dict[str, Any], train: TrainData, truth: pd.DataFrame
) -> dict[str, Any]:
    """Fit ``name`` with ``params`` (the rest at their defaults) on ``train``; per-user metrics of
    its top-20 lists for the truth users, and the fit time."""
    model = TailorModel(name)
    started = time.perf_counter()
    model.fit(train, params, SEED)
    fit_s = time.perf_counter() - started
    recs = model.recommend(truth["user_id"].unique(), 20, exclude_seen=True)
    table = metrics.evaluate(recs, truth)
    return {
        **metrics.summary(table),
        "coverage@10": metrics.coverage(recs, len(train.items)),
        "users": len(table),
        "fit_s": fit_s,
    }


def _round(value: Any) -> Any:
    """Floats to two significant digits: defaults are round numbers (the choice scores the
    rounded values, so what it reports is what users get)."""
    if isinstance(value, float):
        return float(f"{value:.2g}")
    return value


def tuned_settings(accuracy: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per model, its tuned parameters (rounded) and validation NDCG@10 on each data set."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for ds in ("ml100k", "retail"):
        for row in accuracy.get(ds, {}).get("models", []):
            name = next((n for n, k in BENCH_KEYS.items() if k == row["model"]), None)
            if name is None:
                continue
            tuned = {k: _round(v) for k, v in row["params"].items()}
            params = {**FIXED.get(name, {}), **FIXED_BY_KEY.get(row["model"], {}), **tuned}
            out.setdefault(name, {})[ds] = {
                "params": params,
                "validation_ndcg@10": row["validation_ndcg@10"],
            }
    return out


def choose(
    protos: dict[str, datasets.Protocol], accuracy: dict[str, Any], only: list[str]
) -> dict[str, Any]:
    """Score every candidate on both validation parts; the best mean relative NDCG wins."""
    tuned = tuned_settings(accuracy)
    fit = {ds: TrainData.from_frame(p.fit) for ds, p in protos.items()}
    out: dict[str, Any] = {}
    for name in only:
        reference = {ds: tuned[name][ds]["validation_ndcg@10"] for ds in protos}
        current = create_model(name).config.model_dump(exclude={"seed"})
        pool = [
            ("current defaults", {}),
            *((f"tuned on {ds}", tuned[name][ds]["params"]) for ds in protos),
            *(("grid", params) for params in GRIDS[name]),
        ]
        seen: set[str] = set()
        rows = []
        started = time.perf_counter()
        for origin, params in pool:
            key = json.dumps({**current, **params}, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            try:
                val = {ds: score(name, params, fit[ds], protos[ds].validation) for ds in protos}
            except Exception as exc:  # e.g. a rating loss diverging on purchase quantities
                log(f"{name} {params}: failed ({type(exc).__name__}: {exc})")
                val = {ds: {"ndcg@10": 0.0} for ds in protos}
            relative = {ds: val[ds]["ndcg@10"] / reference[ds] for ds in protos}
            rows.append(
                {
                    "origin": origin,
                    "params": params,
                    "config": {**current, **params},
                    "validation_ndcg@10": {ds: val[ds]["ndcg@10"] for ds in protos},
                    "relative": relative,
                    "mean_relative": sum(relative.values()) / len(relative),
                }
            )
        best = max(rows, key=lambda r: r["mean_relative"])
        log(
            f"{name}: {len(rows)} candidates in {time.perf_counter() - started:.0f} s; best "
            f"{best['config']} mean relative {best['mean_relative']:.3f}"
        )
        out[name] = {
            "reference_validation_ndcg@10": reference,
            "chosen": best,
            "candidates": sorted(rows, key=lambda r: -r["mean_relative"]),
        }
    return out


def evaluate_defaults(protos: dict[str, datasets.Protocol]) -> dict[str, Any]:
    """Every model at its config defaults: validation (fitted on the training part) and test
    (fitted on train + validation)."""
    out: dict[str, Any] = {}
    fit = {ds: TrainData.from_frame(p.fit) for ds, p in protos.items()}
    full = {ds: TrainData.from_frame(p.full_train) for ds, p in protos.items()}
    for name in MODELS:
        row: dict[str, Any] = {"params": create_model(name).config.model_dump(exclude={"seed"})}
        for ds, proto in protos.items():
            try:
                val = score(name, {}, fit[ds], proto.validation)
                test = score(name, {}, full[ds], proto.test)
            except Exception as exc:  # reported as a failed default, not a crash
                log(f"{name} on {ds}: failed ({type(exc).__name__}: {exc})")
                row[ds] = {"failed": f"{type(exc).__name__}: {exc}", "ndcg@10": 0.0}
                continue
            row[ds] = {**test, "validation_ndcg@10": val["ndcg@10"]}
            log(f"{name} on {ds}: test ndcg@10 {test['ndcg@10']:.4f} (val {val['ndcg@10']:.4f})")
        out[name] = row
    return out


def tuned_peers(accuracy: dict[str, Any], fair: dict[str, Any] | None) -> dict[str, float]:
    """ML-100K test NDCG@10 of every tuned peer setting the benchmarks recorded: the side-by-side
    benchmark's (15 trials) and, when ``bench/results/fair.json`` exists, ``fair.py``'s (larger
    budgets, the peers' own grids)."""
    out = {
        r["model"]: float(r["test"]["ndcg@10"])
        for r in accuracy["ml100k"]["models"]
        if r["library"] != "tailor"
    }
    for key, model in ((fair or {}).get("ml100k", {}).get("models", {})).items():
        if model.get("library") == "tailor":
            continue
        for label, budget in model.get("budgets", {}).items():
            name = f"{key} ({label} trials)" if label.isdigit() else f"{key} ({label})"
            out[name] = float(budget["test"]["ndcg@10"])
    return out


def target(
    defaults: dict[str, Any], accuracy: dict[str, Any], fair: dict[str, Any] | None = None
) -> dict[str, Any]:
    """ML-100K: tailor's best model with its defaults vs the strongest tuned peer any benchmark
    recorded (by test NDCG@10: the opponent in hindsight)."""
    peers = tuned_peers(accuracy, fair)
    peer = max(peers, key=lambda k: peers[k])
    ours = max(defaults, key=lambda n: defaults[n]["ml100k"]["ndcg@10"])
    mine, theirs = defaults[ours]["ml100k"]["ndcg@10"], peers[peer]
    return {
        "data": "ml100k",
        "tailor_best": ours,
        "tailor_ndcg@10": mine,
        "peer_best": peer,
        "peer_ndcg@10": theirs,
        "peers_from": "accuracy.json" + (" + fair.json" if fair else ""),
        "relative_gain": mine / theirs - 1.0,
        "required_gain": TARGET_GAIN,
        "met": mine / theirs - 1.0 >= TARGET_GAIN,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--choose", action="store_true", help="rerun the choice on validation")
    parser.add_argument("--models", default=",".join(MODELS), help="models to choose for")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    for name in MODELS:  # import every model now, not halfway through a long run
        model_class(name)
    started = time.perf_counter()
    accuracy = json.loads(ACCURACY.read_text())
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    protos = {"ml100k": datasets.ml100k_topn(), "retail": datasets.retail_topn(novel_only=True)}
    results["seed"] = SEED
    results["data"] = {ds: p.description for ds, p in protos.items()}
    if args.choose:
        chosen = choose(protos, accuracy, args.models.split(","))
        results["choice"] = {**results.get("choice", {}), **chosen}
        results["choice_s"] = time.perf_counter() - started
        args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    evaluated = time.perf_counter()
    results["defaults"] = evaluate_defaults(protos)
    fair = json.loads(FAIR.read_text()) if FAIR.exists() else None
    results["target"] = target(results["defaults"], accuracy, fair)
    results["kept"] = KEPT
    results["evaluation_s"] = time.perf_counter() - evaluated
    args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    args.doc.write_text(report.render(accuracy, results))
    t = results["target"]
    log(
        f"defaults: {t['tailor_best']} {t['tailor_ndcg@10']:.4f} vs {t['peer_best']} "
        f"{t['peer_ndcg@10']:.4f} ({t['relative_gain']:+.1%}); wrote {args.out} and {args.doc}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
