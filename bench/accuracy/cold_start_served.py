"""Cold start as served: the lists of ``bench/accuracy/cold_start.py``'s chosen settings, made
through a model folder the way ``tailor fit`` writes it and ``Pipeline.from_model_dir`` (the
object ``tailor recommend`` and ``tailor serve`` build) reads it, on the same splits and truth.

    .venv/bin/python bench/accuracy/cold_start_served.py

New customers (Online Retail, test from 2011-11-09): a folder fitted with
``fallback_half_life=7`` and the customers' countries as ``users.parquet``, read with
``segment_column="country"`` and the default blend. New items: EASE with the folder's
``content/`` model and ``cold_item_slots=(5, 10)``. Writes
``bench/results/cold_start_served.json`` next to cold_start.json's numbers for the same
settings, so a difference between evaluated and served lists would show.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cold_start
import datasets
import pandas as pd

from tailor.models.model_dir import fit_model_dir
from tailor.outputs import output_file
from tailor.pipeline import Pipeline, Query

RESULTS = datasets.ROOT / "bench" / "results" / "cold_start_served.json"
SLOTS = (5, 10)


def main() -> int:
    started, load_before = time.perf_counter(), os.getloadavg()
    raw = cold_start.retail_raw()
    frame = datasets.load_retail()
    proto = datasets.retail_topn(novel_only=True)
    countries = cold_start.retail_countries(raw)
    catalog = cold_start.retail_catalog(raw)
    users_table = pd.DataFrame({"user_id": list(countries), "country": list(countries.values())})
    recorded = json.loads(cold_start.RESULTS.read_text())
    out: dict[str, Any] = {"load_average_before": load_before}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        fit_model_dir(proto.full_train, "ease", {"seed": cold_start.SEED}, folder,
                      items=catalog, users=users_table, fallback_half_life=7.0)  # fmt: skip
        truth = datasets.cold_truth(frame, datasets.RETAIL_TEST_START)
        users = truth["user_id"].unique()
        served = Pipeline.from_model_dir(folder, segment_column="country")
        recs = served.recommend(users, Query(n=cold_start.N)).recs
        out["new_customers"] = {
            "served": cold_start.summary(cold_start.ndcg_table(recs, truth)),
            "recorded": recorded["new_customers"]["test"]["tailor cold start"],
        }
        slotted = Pipeline.from_model_dir(folder, cold_item_slots=SLOTS)
        test_cold = cold_start.cold_truth(proto.test, proto.full_train)
        item_users = proto.test["user_id"].unique()
        query = Query(n=cold_start.N, exclude_seen=proto.exclude_seen)
        recs = slotted.recommend(item_users, query).recs
        rule = "best item:cold NDCG@10, whole list within 1 %"
        out["retail_items"] = {
            "slots": list(SLOTS),
            "served": {
                "all": cold_start.summary(cold_start.ndcg_table(recs, proto.test)),
                "item:cold": cold_start.summary(cold_start.ndcg_table(recs, test_cold)),
            },
            "recorded": recorded["retail_items"]["choices"][rule]["test"],
        }
    out["wall_s"] = time.perf_counter() - started
    out["load_average_after"] = os.getloadavg()
    out["command"] = ".venv/bin/python bench/accuracy/cold_start_served.py"
    with output_file(RESULTS) as tmp_file:
        tmp_file.write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(json.dumps(out, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
