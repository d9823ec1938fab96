"""Wide & Deep's test NDCG@10 next to RecencyEASE and Popularity, all at their defaults, on
the accuracy benchmark's splits (``bench/accuracy/datasets.py``): Online Retail novel purchases
(titles, prices, countries as side features) and ML-100K per-user temporal (titles, first
genre).

Wide & Deep trains on the training part with early stopping on the validation part's NDCG@10,
then is refitted on train + validation for the chosen number of epochs (as the benchmark refits
every model); RecencyEASE and Popularity are fitted on train + validation. All are scored on
test with the benchmark's metrics (top-20 lists, the user's training items excluded).

Run: ``.venv/bin/python bench/deep/accuracy.py [--only retail,ml100k] [--threads 0]``
(writes ``bench/results/deep_accuracy.json``).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import common
import datasets
import metrics
import pandas as pd

from tailor.data.dataset import Dataset
from tailor.models import FitOptions, create_model
from tailor.models.wide_deep import WideDeep

SEED = 42


def _evaluate(model: Any, proto: datasets.Protocol) -> dict[str, float]:
    users = proto.test["user_id"].unique()
    recs = pd.DataFrame(model.recommend(users, n=20, exclude_seen=proto.exclude_seen))
    return metrics.summary(metrics.evaluate(recs, proto.test))


def run(proto: datasets.Protocol, items: pd.DataFrame, users: pd.DataFrame | None,
        threads: int) -> dict[str, Any]:  # fmt: skip
    """Wide & Deep (tuned epochs), RecencyEASE and Popularity on one protocol."""
    stamps: list[float] = []
    first = WideDeep(seed=SEED)
    began = time.perf_counter()
    first.fit(
        common.dataset(proto.fit, items, users),
        FitOptions(threads=threads, validation=proto.validation,
                   on_epoch=lambda e, m: stamps.append(time.perf_counter())),
    )  # fmt: skip
    epochs = first.best_epoch
    final = WideDeep(seed=SEED, epochs=epochs, early_stopping_patience=None)
    final.fit(common.dataset(proto.full_train, items, users), FitOptions(threads=threads))
    ease = create_model("recency-ease", {"seed": SEED}).fit(Dataset.from_frame(proto.full_train))
    popular = create_model("popularity", {"seed": SEED}).fit(Dataset.from_frame(proto.full_train))
    return {
        "protocol": proto.description,
        "wide_deep": {
            "test": _evaluate(final, proto),
            "best_epoch": epochs,
            "history": first.history,
            "tuning_fit_s": stamps[-1] - began if stamps else None,
            "refit_s": final.fit_seconds,
            "config": final.config.model_dump(mode="json"),
        },
        "recency_ease": {"test": _evaluate(ease, proto), "fit_s": ease.fit_seconds},
        "popularity": {"test": _evaluate(popular, proto), "fit_s": popular.fit_seconds},
    }


def main() -> None:
    """Run the protocols and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="retail,ml100k")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    out = common.RESULTS / "deep_accuracy.json"
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    for name in args.only.split(","):
        before = common.machine()
        if name == "retail":
            items, users = common.retail_features()
            row = run(datasets.retail_topn(novel_only=True), items, users, args.threads)
        else:
            row = run(datasets.ml100k_topn(), common.ml100k_features(), None, args.threads)
        results[name] = {**row, "machine_before": before, "machine_after": common.machine()}
        out.write_text(json.dumps(results, indent=2) + "\n")  # each protocol as it finishes
        print(
            name,
            json.dumps({k: row[k]["test"] for k in ("wide_deep", "recency_ease", "popularity")}),
        )


if __name__ == "__main__":
    main()
