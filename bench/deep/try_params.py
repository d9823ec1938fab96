"""One Wide & Deep fit on ML-100K's training part with validation NDCG@10 after every epoch:
the quick experiments behind the defaults (docs/models.md "Wide & Deep").

Run: ``.venv/bin/python bench/deep/try_params.py '{"epochs": 8, "learning_rate": 0.01}'``
(prints epoch, train loss, validation NDCG@10 and seconds so far; writes nothing).
"""

from __future__ import annotations

import json
import sys
import time

import common
import datasets

from tailor.models import FitOptions
from tailor.models.wide_deep import WideDeep


def main() -> None:
    """Fit with the JSON object of parameters given (none: the defaults)."""
    params = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    proto = datasets.ml100k_topn()
    model = WideDeep(seed=42, **params)
    began = time.perf_counter()

    def show(epoch: int, metrics: dict[str, float]) -> None:
        ndcg = metrics.get("validation_ndcg@10", float("nan"))
        took = time.perf_counter() - began
        print(epoch, f"{metrics['train_loss']:.4f}", f"{ndcg:.4f}", f"{took:.1f}", flush=True)

    data = common.dataset(proto.fit, common.ml100k_features(), None)
    model.fit(data, FitOptions(validation=proto.validation, on_epoch=show))
    print("best epoch", model.best_epoch, params)


if __name__ == "__main__":
    main()
