"""The benchmark's data sets and splits: MovieLens 100K and cleaned Online Retail purchases.

Splits come from ``tailor.data.split``, so the benchmark measures the protocol that tailor ships.
The data are read from ``../shared/data`` beside the repository and never copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tailor.data.split import random_split, temporal_split, user_temporal_split

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / "../shared/data").resolve()
ML100K = DATA / "ml-100k"
RETAIL = DATA / "online-retail" / "online_retail.csv.gz"
RETAIL_TEST_START = pd.Timestamp("2011-11-09")
"""Online Retail's test period starts here: the last 30 days of the log."""


@dataclass(frozen=True)
class Protocol:
    """One top-N evaluation setting.

    Attributes:
        name: short key used in results.
        fit: what the models are tuned on (training part of ``tune``).
        validation: truth for tuning (never touches ``test``).
        full_train: train + validation, what the final models are fitted on.
        test: truth for the final evaluation; columns user_id, item_id.
        exclude_seen: whether a user's own training items are removed from the candidates.
        description: one line for the report.
        cold_users: test users unknown to ``full_train`` (answered by popularity, reported apart).
    """

    name: str
    fit: pd.DataFrame
    validation: pd.DataFrame
    full_train: pd.DataFrame
    test: pd.DataFrame
    exclude_seen: bool
    description: str
    cold_users: np.ndarray


def load_ml100k() -> pd.DataFrame:
    """u.data as an interaction frame: every rating is a row, value = the rating."""
    frame = pd.read_csv(
        ML100K / "u.data",
        sep="\t",
        names=["user_id", "item_id", "value", "timestamp"],
        dtype={"user_id": str, "item_id": str, "value": float, "timestamp": np.int64},
    )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s")
    return frame


def load_retail() -> pd.DataFrame:
    """Cleaned Online Retail purchases (one row per invoice line).

    Drops rows without a customer, cancellations (invoice numbers starting with ``C``) and rows
    with a non-positive quantity or price; ``value`` is the quantity.
    """
    raw = pd.read_csv(
        RETAIL,
        dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": float},
        parse_dates=["InvoiceDate"],
    )
    keep = (
        raw["CustomerID"].notna()
        & ~raw["InvoiceNo"].str.startswith("C")
        & (raw["Quantity"] > 0)
        & (raw["UnitPrice"] > 0)
    )
    clean = raw[keep]
    return pd.DataFrame(
        {
            "user_id": clean["CustomerID"].astype(np.int64).astype(str),
            "item_id": clean["StockCode"].astype(str).str.upper(),
            "timestamp": clean["InvoiceDate"],
            "value": clean["Quantity"].astype(float),
            "event_type": "purchase",
        }
    ).reset_index(drop=True)


def user_temporal(frame: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user temporal split: each user's last ``fraction`` of interactions (by time) to test.

    ``tailor.data.split.user_temporal_split``: ``round(f c)`` rows (half up) of a user's ``c``
    rows, at most ``c - 1``, ties in time broken by item id.
    """
    split = user_temporal_split(frame, last_fraction=fraction)
    return split.train, split.test


def global_temporal(frame: pd.DataFrame, start: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Everything before ``start`` trains, everything from ``start`` on tests."""
    split = temporal_split(frame, cut=start)
    return split.train, split.test


def seeded_random(
    frame: pd.DataFrame, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded random ``fraction`` of the rows goes to test."""
    split = random_split(frame, test_fraction=fraction, seed=seed)
    return split.train, split.test


def truth(test: pd.DataFrame, train: pd.DataFrame, *, novel_only: bool) -> pd.DataFrame:
    """Relevant (user, item) pairs of ``test``: distinct pairs, optionally only items new to users.

    Only users known to ``train`` are kept (cold users are evaluated apart).
    """
    pairs = test[["user_id", "item_id"]].drop_duplicates()
    pairs = pairs[pairs["user_id"].isin(set(train["user_id"]))]
    if novel_only:
        seen = train[["user_id", "item_id"]].drop_duplicates().assign(_seen=True)
        pairs = pairs.merge(seen, on=["user_id", "item_id"], how="left")
        pairs = pairs[pairs["_seen"].isna()].drop(columns="_seen")
    return pairs.reset_index(drop=True)


def ml100k_topn() -> Protocol:
    """ML-100K top-N: per-user temporal 80/20, validation = last 20 % of each training part."""
    frame = load_ml100k()
    full_train, test = user_temporal(frame, 0.2)
    fit, val = user_temporal(full_train, 0.2)
    return Protocol(
        name="ml100k",
        fit=fit,
        validation=truth(val, fit, novel_only=True),
        full_train=full_train,
        test=truth(test, full_train, novel_only=True),
        exclude_seen=True,
        description=(
            "MovieLens 100K, per-user temporal split (last 20 % of each user's ratings to test, "
            "validation = last 20 % of each user's training part), every rating a positive"
        ),
        cold_users=np.array([], dtype=object),
    )


def retail_topn(*, novel_only: bool) -> Protocol:
    """Online Retail: global temporal split at 2011-11-09, validation = the 30 days before."""
    frame = load_retail()
    full_train, test = global_temporal(frame, RETAIL_TEST_START)
    fit, val = global_temporal(full_train, RETAIL_TEST_START - pd.Timedelta(days=30))
    known = set(full_train["user_id"])
    cold = np.array(sorted(set(test["user_id"]) - known), dtype=object)
    what = "novel purchases" if novel_only else "all purchases (repeats count)"
    return Protocol(
        name="retail" if novel_only else "retail_repeat",
        fit=fit,
        validation=truth(val, fit, novel_only=novel_only),
        full_train=full_train,
        test=truth(test, full_train, novel_only=novel_only),
        exclude_seen=novel_only,
        description=(
            "Online Retail, cleaned purchases, global temporal split (test from 2011-11-09, "
            f"validation = the 30 days before), relevant = {what}"
        ),
        cold_users=cold,
    )


def cold_truth(frame: pd.DataFrame, test_start: pd.Timestamp) -> pd.DataFrame:
    """Test purchases of customers with no purchase before ``test_start``."""
    train, test = global_temporal(frame, test_start)
    pairs = test[["user_id", "item_id"]].drop_duplicates()
    return pairs[~pairs["user_id"].isin(set(train["user_id"]))].reset_index(drop=True)
