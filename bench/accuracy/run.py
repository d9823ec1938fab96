"""Side-by-side accuracy benchmark: tailor's models against implicit, LightFM, Surprise, LensKit.

Run it in the peers environment (``bash bench/accuracy/setup_peers.sh`` creates it)::

    bench/.venv-peers/bin/python bench/accuracy/run.py [--trials 15] [--only ml100k,retail,rating]

For each top-N protocol every model is tuned on the validation split with the same Optuna TPE
budget, refitted on train + validation with the chosen parameters, and evaluated on test.
Writes ``bench/results/accuracy.json`` and regenerates ``docs/benchmarks.md`` from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's advice; EASE is LAPACK-bound too
sys.path.insert(0, str(Path(__file__).resolve().parent))

import datasets
import metrics
import numpy as np
import optuna
import pandas as pd
import rating
import report
from spaces import TOPN, Spec
from tuning import SEED, evaluate_model, tune

from models import TailorModel, TrainData

RESULTS = datasets.ROOT / "bench" / "results" / "accuracy.json"
DOC = datasets.ROOT / "docs" / "benchmarks.md"


def log(message: str) -> None:
    """Progress on stderr with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def final_fit(spec: Spec, params: dict[str, Any], data: TrainData) -> tuple[Any, float, float]:
    """Refit with the chosen parameters; returns the model, fit seconds, top-10-for-all seconds."""
    model = spec.make()
    started = time.perf_counter()
    model.fit(data, params, SEED)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    model.recommend(data.users.to_numpy(), 10, exclude_seen=True)
    return model, fit_s, time.perf_counter() - started


def run_topn(
    proto: datasets.Protocol, trials: int, variants: list[tuple[str, pd.DataFrame, bool]]
) -> dict[str, Any]:
    """Tune, refit and evaluate every model on one protocol (plus extra test variants)."""
    fit_data = TrainData.from_frame(proto.fit)
    full = TrainData.from_frame(proto.full_train)
    rows: list[dict[str, Any]] = []
    per_user: dict[str, dict[str, pd.DataFrame]] = {name: {} for name, _, _ in variants}
    for spec in TOPN:
        log(f"{proto.name}: tuning {spec.key} ({trials} trials)")
        tuned = tune(spec, fit_data, proto.validation, trials, exclude_seen=proto.exclude_seen)
        model, fit_s, rec_s = final_fit(spec, tuned["params"], full)
        row: dict[str, Any] = {
            "model": spec.key,
            "library": spec.library,
            **tuned,
            "fit_s": fit_s,
            "recommend_all_s": rec_s,
            "recommend_all_users": len(full.users),
        }
        for name, truth, exclude_seen in variants:
            table = evaluate_model(model, full, truth, exclude_seen=exclude_seen)
            recs = model.recommend(truth["user_id"].unique(), 10, exclude_seen=exclude_seen)
            row[name] = {
                **metrics.summary(table),
                "coverage@10": metrics.coverage(recs, len(full.items)),
                "users": len(table),
            }
            per_user[name][spec.key] = table
        log(f"{proto.name}: {spec.key} test ndcg@10={row[variants[0][0]]['ndcg@10']:.4f}")
        rows.append(row)
    out: dict[str, Any] = {
        "description": proto.description,
        "sizes": {
            "fit_rows": len(proto.fit),
            "train_rows": len(proto.full_train),
            "train_users": len(full.users),
            "train_items": len(full.items),
        },
        "models": rows,
        "comparisons": {},
    }
    for name, truth, _ in variants:
        out["sizes"][f"{name}_truth_rows"] = len(truth)
        out["comparisons"][name] = compare_best(rows, per_user[name])
    return out


def compare_best(rows: list[dict[str, Any]], tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Paired tests of tailor's best model against the best peer.

    Both are chosen by validation NDCG@10 (the honest choice); ``vs_best_test_peer`` repeats the
    tests against the peer with the highest *test* NDCG@10, the strongest opponent in hindsight.
    """

    def best(library_is_tailor: bool, key: Any) -> str:
        pool = [r for r in rows if (r["library"] == "tailor") == library_is_tailor]
        return str(max(pool, key=key)["model"])

    ours = best(True, lambda r: r["validation_ndcg@10"])
    out: dict[str, Any] = {"tailor_best": ours, "chosen_by": "validation NDCG@10"}
    by_test = {k: float(t["ndcg@10"].mean()) for k, t in tables.items()}
    for label, theirs in (
        ("", best(False, lambda r: r["validation_ndcg@10"])),
        ("vs_best_test_peer", best(False, lambda r: by_test[r["model"]])),
    ):
        tests = {
            metric: metrics.paired_tests(tables[ours][metric], tables[theirs][metric])
            for metric in metrics.METRICS
        }
        if label:
            out[label] = {"peer_best": theirs, **tests}
        else:
            out.update({"peer_best": theirs, **tests})
    return out


def run_cold(proto: datasets.Protocol, truth: pd.DataFrame) -> dict[str, Any]:
    """Cold (new) customers get tailor's popularity list (fitted on train + validation)."""
    full = TrainData.from_frame(proto.full_train)
    model = TailorModel("popularity")
    model.fit(full, {}, SEED)
    items = model.model.top_items(20)["item_id"].to_numpy()
    users = truth["user_id"].unique()
    recs = pd.DataFrame(
        {
            "user_id": np.repeat(users, len(items)),
            "item_id": np.tile(items, len(users)),
            "rank": np.tile(np.arange(1, len(items) + 1), len(users)),
        }
    )
    table = metrics.evaluate(recs, truth)
    return {"model": "tailor popularity", "users": len(table), **metrics.summary(table)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=15, help="tuning trials per top-N model")
    parser.add_argument("--rating-trials", type=int, default=6, help="trials per rating model")
    parser.add_argument("--only", default="ml100k,retail,rating", help="parts to run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore")
    parts = set(args.only.split(","))
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["environment"] = environment()
    results["budget"] = {"trials": args.trials, "rating_trials": args.rating_trials, "seed": SEED}
    started = time.perf_counter()
    if "ml100k" in parts:
        proto = datasets.ml100k_topn()
        results["ml100k"] = run_topn(proto, args.trials, [("test", proto.test, True)])
        write(results, args.out, args.doc)
    if "retail" in parts:
        proto = datasets.retail_topn(novel_only=True)
        repeat = datasets.retail_topn(novel_only=False)
        results["retail"] = run_topn(
            proto, args.trials, [("test", proto.test, True), ("test_repeat", repeat.test, False)]
        )
        cold = datasets.cold_truth(datasets.load_retail(), datasets.RETAIL_TEST_START)
        results["retail"]["cold"] = run_cold(proto, cold)
        write(results, args.out, args.doc)
    if "rating" in parts:
        results["rating"] = rating.run(args.rating_trials, log)
    results["total_s"] = time.perf_counter() - started
    write(results, args.out, args.doc)
    log(f"wrote {args.out} and {args.doc} in {results['total_s']:.0f} s")
    return 0


def write(results: dict[str, Any], out: Path, doc: Path) -> None:
    """Save the results so far and regenerate the page (after each part)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    defaults_file = out.parent / "defaults.json"  # bench/accuracy/defaults.py
    defaults = json.loads(defaults_file.read_text()) if defaults_file.exists() else None
    doc.write_text(report.render(results, defaults))


def environment() -> dict[str, Any]:
    """Versions of Python and every library under test, and the machine."""
    from importlib.metadata import PackageNotFoundError, version

    libs = {}
    for name in ("tailor", "implicit", "lightfm", "scikit-surprise", "lenskit", "optuna", "numpy"):
        try:
            libs[name] = version(name)
        except PackageNotFoundError:
            libs[name] = None
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "libraries": libs,
    }


if __name__ == "__main__":
    raise SystemExit(main())
