"""``tailor train`` with its default config against tuned peers, on the benchmark's protocols.

What a user gets from ``tailor train`` without tuning anything by hand: a config that names only
the data and the protocol (source, split, relevant = novel items), lists the demo's four
candidates (popularity, itemknn, ease, recency-ease) and leaves every other option at its
default (20 Optuna TPE trials per candidate from the model's defaults, seed 42, the default
search spaces, the validation objective, the default validation fraction 0.15). The pipeline
tunes, chooses, refits on train + validation and writes its model folder; this script then
scores that folder's lists (``tailor.pipeline.Pipeline``, what ``tailor recommend`` and the
server give) on the benchmark's test truth with the benchmark's metric code
(``metrics.evaluate``), next to peers tuned with **at least as many trials as the whole
``tailor train`` run used** (the sum over its candidates), each peer by a TPE study as in
``fair.py`` (seed 42, 10 random start-up trials, library defaults first), chosen on the
benchmark's validation split, refitted on train + validation and scored once on the same test
truth. Paired t-test and Wilcoxon over the test users.

The data: the benchmark's own frames (``datasets.load_ml100k`` / ``load_retail``), written to a
temporary CSV outside the project (MovieLens is never copied into it) and read by ``tailor
train`` through a generic source, so tailor and the peers see the same rows; the protocol's split
(ML-100K per-user temporal 80/20; Online Retail test from 2011-11-09) gives both the same
train + validation and test. Run (the peers that import in the running environment; implicit's
come with tailor's ``implicit`` extra, LensKit and LightFM need ``bench/.venv-peers``)::

    .venv/bin/python bench/accuracy/train_vs_peers.py [--only ml100k,retail] [--peers KEY,...]

Writes ``bench/results/train_vs_peers.json`` after each data set, then regenerates
``docs/benchmarks.md`` (``report.render``; ``--render`` only does that).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as run.py
sys.path.insert(0, str(Path(__file__).resolve().parent))

import datasets
import metrics
import numpy as np
import pandas as pd

from models import TrainData

RESULTS = datasets.ROOT / "bench" / "results" / "train_vs_peers.json"
DOC = datasets.ROOT / "docs" / "benchmarks.md"
SEED = 42
CANDIDATES = ("popularity", "itemknn", "ease", "recency-ease")
"""The demo's candidates: the default config's list (every other option at its default)."""
PEERS = ("implicit ALS",)
"""Default peers: the strongest tuned peer by test at every budget of fair.json on both data
sets (15, 50, 150 trials and the grids), and the one that runs without bench/.venv-peers."""

SOURCE_TOML = """
name = "{name}"

[interactions]
path = "{path}"
timestamp_format = "%Y-%m-%d %H:%M:%S"
event_type = "purchase"

[interactions.columns]
user_id = "user_id"
item_id = "item_id"
timestamp = "timestamp"
value = "value"
"""

SPLITS = {
    "ml100k": 'strategy = "user-temporal"\nlast_fraction = 0.2',
    "retail": f'strategy = "temporal"\ncut = "{datasets.RETAIL_TEST_START:%Y-%m-%d}"',
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def train_config(name: str, source: Path, out: Path) -> str:
    """The default config for one data set: data, protocol, candidates; nothing else set."""
    candidates = "\n".join(f'[[candidates]]\nmodel = "{m}"\n' for m in CANDIDATES)
    return (
        f'name = "{name}"\n\n[source]\nname = "generic"\nconfig = "{source}"\n\n'
        f"[split]\n{SPLITS[name]}\n\n{candidates}\n"
        f'[metric]\nrelevant = "novel"\n\n[output]\ndir = "{out}"\n'
    )


def run_tailor_train(name: str, frame: pd.DataFrame, work: Path) -> dict[str, Any]:
    """Write the frame and the config, run ``tailor train``, return its selection and folder."""
    from tailor.training.config import load_config
    from tailor.training.pipeline import train

    data = work / f"{name}.csv"
    out = frame[["user_id", "item_id", "timestamp", "value"]].copy()
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S")
    out.to_csv(data, index=False)
    source = work / f"{name}-source.toml"
    source.write_text(SOURCE_TOML.format(name=name, path=data))
    config_path = work / f"{name}-train.toml"
    text = train_config(name, source, work / f"{name}-run")
    config_path.write_text(text)
    started = time.perf_counter()
    summary = train(load_config(config_path), work / f"{name}-run")
    seconds = time.perf_counter() - started
    run = work / f"{name}-run"
    selection = json.loads((run / "tuning" / "selection.json").read_text())
    trials = {key: len(cand["tuning"]["trials"]) for key, cand in selection["candidates"].items()}
    stages = {s.name: {"status": s.status, "seconds": round(s.seconds, 2)} for s in summary.stages}
    return {
        "config": text.replace(str(work), "$WORK"),
        "run": run,
        "chosen": selection["best"],
        "model": selection["model"],
        "params": selection["params"],
        "validation_ndcg@10": selection["validation"],
        "trials": trials,
        "trials_total": sum(trials.values()),
        "pipeline_test": summary.test,
        "gate": summary.gate.verdict if summary.gate is not None else None,
        "stages": stages,
        "seconds": round(seconds, 1),
    }


def score_model_dir(model_dir: Path, truth: pd.DataFrame) -> pd.DataFrame:
    """The model folder's lists (the pipeline's: what tailor recommend gives) on the truth."""
    from tailor.pipeline import Pipeline, Query

    pipeline = Pipeline.from_model_dir(model_dir)
    users = truth["user_id"].astype(str).unique()
    recs = pipeline.recommend(users, Query(n=20)).recs
    return metrics.evaluate(recs[["user_id", "item_id", "rank", "score"]], truth)


def tune_peer(key: str, proto: datasets.Protocol, trials: int) -> dict[str, Any]:
    """fair.py's TPE study of ``trials`` trials; the best by validation refitted and tested."""
    from fair import best_of, study
    from spaces import TOPN
    from tuning import evaluate_model

    spec = {s.key: s for s in TOPN}[key]
    started = time.perf_counter()
    history = study(spec, TrainData.from_frame(proto.fit), proto.validation, trials,
                    exclude_seen=proto.exclude_seen, deadline=float("inf"))  # fmt: skip
    best = best_of(history)
    model = spec.make()
    full = TrainData.from_frame(proto.full_train)
    model.fit(full, best["params"], SEED)
    table = evaluate_model(model, full, proto.test, exclude_seen=proto.exclude_seen)
    return {
        "library": spec.library,
        "trials": len(history),
        "params": best["params"],
        "validation_ndcg@10": best["validation"],
        "test": metrics.summary(table),
        "table": table,
        "seconds": round(time.perf_counter() - started, 1),
    }


def run_dataset(name: str, peers: list[str], work: Path) -> dict[str, Any]:
    proto = datasets.ml100k_topn() if name == "ml100k" else datasets.retail_topn(novel_only=True)
    frame = datasets.load_ml100k() if name == "ml100k" else datasets.load_retail()
    log(f"{name}: tailor train with the default config ({', '.join(CANDIDATES)})")
    ours = run_tailor_train(name, frame, work)
    ours_table = score_model_dir(ours.pop("run") / "model", proto.test)
    ours["test"] = metrics.summary(ours_table)
    ours["test_users"] = len(ours_table)
    log(
        f"{name}: tailor train chose {ours['chosen']} {ours['params']}: test ndcg@10 "
        f"{ours['test']['ndcg@10']:.4f} ({ours['trials_total']} trials, {ours['seconds']:.0f} s)"
    )
    budget = ours["trials_total"]
    results: dict[str, Any] = {}
    for key in peers:
        log(f"{name}: {key}: TPE study of {budget} trials")
        results[key] = tune_peer(key, proto, budget)
        log(f"{name}: {key}: test ndcg@10 {results[key]['test']['ndcg@10']:.4f} "
            f"({results[key]['seconds']:.0f} s)")  # fmt: skip
    comparisons: dict[str, Any] = {}
    if results:
        val = {k: r["validation_ndcg@10"] for k, r in results.items()}
        test = {k: r["test"]["ndcg@10"] for k, r in results.items()}
        for how, scores in (("by_validation", val), ("by_test", test)):
            peer = max(scores, key=lambda k: scores[k])
            tests = metrics.paired_tests(ours_table["ndcg@10"], results[peer]["table"]["ndcg@10"])
            comparisons[how] = {"peer": peer, **tests}
    for r in results.values():
        r.pop("table")
    return {
        "description": proto.description,
        "test_users": len(proto.test["user_id"].unique()),
        "tailor_train": ours,
        "peers": results,
        "comparisons": comparisons,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="ml100k,retail", help="ml100k, retail or both")
    parser.add_argument("--peers", default=",".join(PEERS), help="peer keys (spaces.TOPN)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--render", action="store_true", help="only regenerate the doc")
    args = parser.parse_args()
    if args.render:
        render_doc()
        return
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    results: dict[str, Any] = (
        json.loads(args.out.read_text()) if args.out.is_file() else {}
    )  # a run of one data set keeps the other's results
    started = time.time()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="tailor-train-vs-peers-") as tmp:
        for name in [n.strip() for n in args.only.split(",") if n.strip()]:
            t0 = time.time()
            load_before = os.getloadavg()
            results[name] = run_dataset(name, peers, Path(tmp))
            results[name]["wall_clock_min"] = round((time.time() - t0) / 60, 2)
            results[name]["load_average"] = [round(x, 2) for x in os.getloadavg()]
            results[name]["load_average_before"] = [round(x, 2) for x in load_before]
            results[name]["environment"] = environment()
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2, default=_json) + "\n")
    render_doc()
    log(f"done in {(time.time() - started) / 60:.1f} min; load average before "
        f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")  # fmt: skip


def render_doc() -> None:
    """docs/benchmarks.md from the accuracy results (its sections include this script's)."""
    import report

    results = datasets.ROOT / "bench" / "results"
    accuracy, defaults = results / "accuracy.json", results / "defaults.json"
    if not accuracy.is_file():
        log(f"{accuracy} missing: {DOC} not regenerated")
        return
    found = json.loads(defaults.read_text()) if defaults.is_file() else None
    DOC.write_text(report.render(json.loads(accuracy.read_text()), found))
    log(f"wrote {DOC}")


NAMES = {"ml100k": "MovieLens 100K", "retail": "Online Retail (novel purchases)"}


def render_section(res: dict[str, Any]) -> str:
    """Markdown for docs/benchmarks.md (``report.extra_sections``)."""
    out = [
        "## `tailor train` with its default config vs tuned peers\n",
        "Generated by `bench/accuracy/train_vs_peers.py` (`bench/results/train_vs_peers.json`). "
        "`tailor train` runs with a config that names only the data and the protocol (a generic "
        "source over the benchmark's frame, the split above, relevant = novel items) and the "
        f"demo's candidates ({', '.join(CANDIDATES)}); every other option is its default: 20 "
        "TPE trials per candidate from the model's defaults, seed 42, the default spaces, the "
        "validation objective, validation = the last 15 % (0.15) of the training part. Its model "
        "folder (refitted on train + validation) is scored on the benchmark's test truth with "
        "the benchmark's metric code, through `tailor.pipeline.Pipeline` (what `tailor "
        "recommend` gives). Each peer is tuned with **as many TPE trials as the whole `tailor "
        "train` run** (the sum over its candidates; `fair.py`'s study: seed 42, 10 random "
        "start-up trials, library defaults first) on the benchmark's validation split, refitted "
        "on train + validation and scored once on the same test truth; paired tests over the "
        "test users.\n",
        "| data set | `tailor train` chose | trials | test NDCG@10 | peer (trials) | peer test "
        "NDCG@10 | gain | p (t) | p (Wilcoxon) |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    notes = []
    for key, name in NAMES.items():
        if key not in res:
            continue
        ds = res[key]
        env = ds.get("environment", {})
        ours = ds["tailor_train"]
        cmp = ds["comparisons"].get("by_validation") or {}
        peer = cmp.get("peer")
        info = ds["peers"].get(peer, {}) if peer else {}
        out.append(
            f"| {name} | {ours['chosen']} | {ours['trials_total']} | "
            f"**{ours['test']['ndcg@10']:.4f}** | "
            + (
                f"{peer} ({info.get('trials')}) | {cmp['theirs']:.4f} | "
                f"{cmp['relative_gain']:+.1%} | {cmp['t_pvalue']:.1e} | "
                f"{cmp['wilcoxon_pvalue']:.1e} |"
                if peer
                else "– | – | – | – | – |"
            )
        )
        params = ", ".join(f"{k}={_short(v)}" for k, v in ours["params"].items())
        peer_params = ", ".join(f"{k}={_short(v)}" for k, v in info.get("params", {}).items())
        tuning = ours["stages"].get("tune", {}).get("seconds")
        notes.append(
            f"- {name}: `tailor train` chose {ours['chosen']} ({params}; validation NDCG@10 "
            f"{ours['validation_ndcg@10'][ours['chosen']]:.4f}) after "
            + ", ".join(f"{k} {v}" for k, v in ours["trials"].items())
            + f" trials; the run took {ours['seconds']:.0f} s (tuning {tuning} s)"
            + (f"; {peer}: {peer_params} ({info.get('seconds')} s)" if peer else "")
            + f". {ds['test_users']:,} test users. Wall clock {ds['wall_clock_min']:.1f} min on "
            f"{env.get('cpus', '?')} CPUs shared with other jobs (load average "
            f"{ds.get('load_average_before', ['?'])[0]} before, {ds['load_average'][0]:.2f} "
            f"after). Command: `{str(env.get('command', '?')).strip()}` ("
            + ", ".join(f"{k} {v}" for k, v in env.items() if k not in ("command", "cpus"))
            + ")."
        )
    out += ["", *notes, ""]
    recorded = strongest_recorded()
    for key, name in NAMES.items():
        if key in res and key in recorded:
            peer, where, value = recorded[key]
            ours = res[key]["tailor_train"]["test"]["ndcg@10"]
            out.append(
                f"- {name}: the strongest peer test NDCG@10 recorded on this page (the main table "
                f"and every budget of the fair comparisons, other runs, so no paired test): "
                f"{peer} ({where}) {value:.4f}; `tailor train` with its default config "
                f"{ours:.4f} ({ours / value - 1:+.1%})."
            )
    out.append("")
    peers = sorted({p for key in NAMES if key in res for p in res[key]["peers"]})
    out.append(
        f"Peers run: {', '.join(peers) or 'none'}. The default peer is implicit ALS, the "
        "strongest tuned peer by test NDCG@10 at every budget of the fair comparisons above "
        "(15, 50, 150 trials and the grids, on both data sets) and the one that runs without "
        "the peers' environment; `--peers` adds others (LensKit, LightFM: run the script with "
        "`bench/.venv-peers/bin/python`).\n"
    )
    return "\n".join(out)


def strongest_recorded() -> dict[str, tuple[str, str, float]]:
    """Per data set, the highest peer test NDCG@10 in accuracy.json and fair.json."""
    results = datasets.ROOT / "bench" / "results"
    best: dict[str, tuple[str, str, float]] = {}

    def offer(ds: str, peer: str, where: str, value: float) -> None:
        if ds not in best or value > best[ds][2]:
            best[ds] = (peer, where, value)

    accuracy = results / "accuracy.json"
    if accuracy.is_file():
        found = json.loads(accuracy.read_text())
        for ds in NAMES:
            for m in found.get(ds, {}).get("models", []):
                if m.get("library") != "tailor" and "test" in m:
                    offer(ds, m["model"], f"main table, {m['trials']} trials", m["test"]["ndcg@10"])
    fair = results / "fair.json"
    if fair.is_file():
        found = json.loads(fair.read_text())
        for ds in NAMES:
            for model, info in found.get(ds, {}).get("models", {}).items():
                if info.get("library") == "tailor":
                    continue
                for label, choice in info.get("budgets", {}).items():
                    where = "fair comparisons, " + (
                        f"{label} trials" if label.isdigit() else label.replace("_", " ")
                    )
                    offer(ds, model, where, choice["test"]["ndcg@10"])
    return best


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def environment() -> dict[str, Any]:
    import platform

    import tailor

    out: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "tailor": tailor.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "command": " ".join(["python bench/accuracy/train_vs_peers.py", *sys.argv[1:]]),
    }
    for lib in ("implicit", "optuna", "lenskit", "lightfm"):
        try:
            out[lib] = __import__(lib).__version__
        except ImportError:
            pass
    return out


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


if __name__ == "__main__":
    main()
