"""Scoring 1,000 candidates for one user with Wide & Deep: torch eager vs onnxruntime, CPU.

A model is fitted for one epoch on Online Retail's training part with side features (weights
do not change the cost; the tables have the real sizes: users, items, TF-IDF vocabulary). Each
call scores one random user against 1,000 distinct random items. The two backends alternate in
rounds (so both see the same machine load), after a warm-up; per-call latency percentiles and
throughput (candidates scored per second, 1,000 / mean latency) are recorded, with the largest
score difference between the backends on the same calls. ``--threads`` sets both torch's and
onnxruntime's intra-op threads (default 1: the server scores one request per thread).

Run: ``.venv/bin/python bench/deep/inference.py [--calls 400] [--threads 1]``
(writes ``bench/results/deep_inference.json``).
"""

from __future__ import annotations

import argparse
import json
import time

import common
import datasets
import numpy as np
import torch

from tailor.models.wide_deep import WideDeep
from tailor.models.wide_deep.scorers import OnnxScorer, TorchScorer

CANDIDATES = 1000
ROUNDS = 8
WARMUP = 20


def _model() -> WideDeep:
    proto = datasets.retail_topn(novel_only=True)
    items, users = common.retail_features()
    data = common.dataset(proto.fit, items, users)
    return WideDeep(epochs=1, batch_size=16384, seed=42).fit(data)  # weights: any


def _summary(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000.0
    return {
        "calls": len(ms),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "candidates_per_s": float(CANDIDATES / (ms.mean() / 1000.0)),
    }


def main() -> None:
    """Measure both backends and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = _model()
    net = model.network()
    scorers = {"torch": TorchScorer(net), "onnxruntime": OnnxScorer.from_net(net, args.threads)}
    rng = np.random.default_rng(0)
    calls = [
        (rng.integers(0, len(model.users), 1), rng.choice(len(model.items), CANDIDATES, False))
        for _ in range(args.calls)
    ]
    for users, items in calls[:WARMUP]:
        for scorer in scorers.values():
            scorer(users, items)
    times: dict[str, list[float]] = {name: [] for name in scorers}
    diff = 0.0
    before = common.machine()
    per_round = -(-len(calls) // ROUNDS)
    for start in range(0, len(calls), per_round):
        chunk = calls[start : start + per_round]
        outputs: dict[str, list[np.ndarray]] = {}
        for name, scorer in scorers.items():
            outputs[name] = []
            for users, items in chunk:
                began = time.perf_counter()
                outputs[name].append(scorer(users, items))
                times[name].append(time.perf_counter() - began)
        for a, b in zip(outputs["torch"], outputs["onnxruntime"], strict=True):
            diff = max(diff, float(np.abs(a - b).max()))
    result = {
        "candidates": CANDIDATES,
        "threads": args.threads,
        "model": {"users": len(model.users), "items": len(model.items),
                  "vocab": len(model.text_vocab), "config": model.config.model_dump(mode="json")},
        "torch_eager": _summary(times["torch"]),
        "onnxruntime": _summary(times["onnxruntime"]),
        "max_abs_score_difference": diff,
        "machine_before": before,
        "machine_after": common.machine(),
    }  # fmt: skip
    result["speedup_p50"] = result["torch_eager"]["p50_ms"] / result["onnxruntime"]["p50_ms"]
    (common.RESULTS / "deep_inference.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("torch_eager", "onnxruntime", "speedup_p50")}))


if __name__ == "__main__":
    main()
