"""Seconds per epoch of Wide & Deep training on Online Retail (the accuracy benchmark's training
part, with titles, prices and countries), default hyperparameters.

Run: ``.venv/bin/python bench/deep/train_speed.py [--device auto|cpu|cuda] [--epochs 2]
[--threads 0]`` (writes ``bench/results/deep_train_speed[_<device>].json``; prints the device).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import common
import datasets

from tailor.models import FitOptions
from tailor.models.wide_deep import WideDeep
from tailor.models.wide_deep.training import pick_device


def main() -> None:
    """Fit ``--epochs`` epochs and record each epoch's wall time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    device = pick_device(args.device)
    print(f"device: {device}", flush=True)
    proto = datasets.retail_topn(novel_only=True)
    items, users = common.retail_features()
    data = common.dataset(proto.fit, items, users)
    stamps = [time.perf_counter()]
    load_before = common.machine()
    model = WideDeep(epochs=args.epochs, device=args.device, seed=42)
    model.fit(
        data,
        FitOptions(threads=args.threads, on_epoch=lambda e, m: stamps.append(time.perf_counter())),
    )
    epochs = [b - a for a, b in itertools.pairwise(stamps)]
    result = {
        "device": device,
        "epochs": len(epochs),
        "seconds_per_epoch": epochs,
        "fit_seconds": model.fit_seconds,
        "positives": int(model.seen.nnz),
        "users": len(model.users),
        "items": len(model.items),
        "config": model.config.model_dump(mode="json"),
        "threads": args.threads,
        "machine_before": load_before,
        "machine_after": common.machine(),
    }
    suffix = "" if device == "cpu" else f"_{device}"
    out = common.RESULTS / f"deep_train_speed{suffix}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"device": device, "seconds_per_epoch": epochs}), flush=True)


if __name__ == "__main__":
    main()
