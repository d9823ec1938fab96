"""Quick start: fit tailor's default model on the bundled Online Retail data, recommend, evaluate.

    python examples/quickstart.py

Cleans the bundled data (every dropped row counted), holds out the last 30 days (from 2011-11-09)
as the test period, fits RecencyEASE with its defaults on the rest, recommends 10 products to
every customer of the test period (popular products for the new ones) and scores the lists
against what they then bought for the first time. Takes about 10-20 s.
"""

from __future__ import annotations

import warnings

import pandas as pd

from tailor.data.prepare import prepare
from tailor.data.split import temporal_split
from tailor.evaluation import evaluate
from tailor.evaluation.truth import unseen_only
from tailor.models import Popularity
from tailor.models.base import UnknownUsersWarning
from tailor.models.recency_ease import RecencyEASE

# 1. Data: read + clean the bundled Online Retail export, then split it in time.
prepared, report = prepare("online-retail")
print(f"prepared {report.rows_out:,} of {report.rows_in:,} rows")
split = temporal_split(prepared.interactions, cut="2011-11-09")
train, test = split.train, split.test
print(f"train {len(train):,} rows, test {len(test):,} rows from 2011-11-09")

# 2. Fit: a DataFrame goes straight in; hyperparameters are keyword arguments (defaults here).
model = RecencyEASE().fit(train)
print(f"fitted {model!r} in {model.fit_seconds:.1f} s: {model.get_params()}")

# 3. Recommend: a DataFrame (user_id, item_id, rank, score). Customers the model never saw get
#    no rows; they are reported (a warning, and their ids in attrs["unknown_users"]).
customers = test["user_id"].unique()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UnknownUsersWarning)  # handled just below
    recs = model.recommend(customers, n=10)
new = recs.attrs["unknown_users"]
print(f"{recs['user_id'].nunique():,} known customers got lists; {len(new):,} new customers")

# ... and the new customers get the most popular products.
top = Popularity().fit(train).top_items(10)["item_id"].to_list()


def popular_lists(users: list[str]) -> pd.DataFrame:
    """The same popular top 10 for each of ``users``."""
    return pd.DataFrame(
        {
            "user_id": [u for u in users for _ in top],
            "item_id": top * len(users),
            "rank": list(range(1, len(top) + 1)) * len(users),
        }
    )


lists = pd.concat([recs.to_frame(), popular_lists(new)], ignore_index=True)
print(recs.head(5).to_string(index=False))

# 4. Evaluate: relevant = products a customer bought for the first time in the test period.
truth = unseen_only(test, train)
for label, answer in (("RecencyEASE", lists), ("popular products", popular_lists(list(customers)))):
    result = evaluate(answer, truth, k=(10, 20), train=train, ci=False, curve_k=0)
    print(
        f"{label}: NDCG@10 {result.metrics['ndcg@10']:.4f}, "
        f"recall@20 {result.metrics['recall@20']:.4f}"
    )
