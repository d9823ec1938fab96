"""Data for the Wide & Deep benchmarks: the accuracy benchmark's splits plus side features.

Online Retail (``bench/accuracy/datasets.py``'s cleaned purchases and split): items get a title
(their most frequent description) and a price (median unit price); users their country; the
data set has no category. MovieLens 100K: a movie's title and its first listed genre as its
category; users get no country. Read from ``../shared/data``, never copied.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "accuracy"))

import datasets

from tailor.data.dataset import Dataset

ROOT = datasets.ROOT
RESULTS = ROOT / "bench" / "results"
GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]  # fmt: skip


def retail_features() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(items: item_id, title, price; users: user_id, country) of cleaned Online Retail."""
    raw = pd.read_csv(
        datasets.RETAIL,
        dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": float},
        usecols=["InvoiceNo", "StockCode", "Description", "UnitPrice", "CustomerID", "Country"],
    )
    keep = (
        raw["CustomerID"].notna() & ~raw["InvoiceNo"].str.startswith("C") & (raw["UnitPrice"] > 0)
    )
    raw = raw[keep].assign(item_id=lambda f: f["StockCode"].astype(str).str.upper())
    titles = (
        raw.dropna(subset=["Description"])
        .groupby("item_id")["Description"]
        .agg(lambda s: s.value_counts().index[0])
    )
    items = pd.DataFrame(
        {"title": titles, "price": raw.groupby("item_id")["UnitPrice"].median()}
    ).reset_index(names="item_id")
    users = (
        raw.assign(user_id=raw["CustomerID"].astype(np.int64).astype(str))
        .groupby("user_id")["Country"]
        .agg(lambda s: s.value_counts().index[0])
        .rename("country")
        .reset_index()
    )
    return items, users


def ml100k_features() -> pd.DataFrame:
    """items: item_id, title, category (the first genre flagged)."""
    cols = ["item_id", "title", "date", "video", "url", *GENRES]
    raw = pd.read_csv(datasets.ML100K / "u.item", sep="|", names=cols, encoding="latin-1",
                      dtype={"item_id": str})  # fmt: skip
    flags = raw[GENRES].to_numpy()
    first = np.where(flags.any(1), flags.argmax(1), 0)
    return pd.DataFrame(
        {"item_id": raw["item_id"], "title": raw["title"], "category": np.array(GENRES)[first]}
    )


def dataset(frame: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame | None) -> Dataset:
    """Interactions with side tables limited to their users (the catalogue stays whole only for
    items that occur, so the item vocabulary is the interactions' as in the other benchmarks)."""
    items = items[items["item_id"].isin(set(frame["item_id"]))]
    if users is not None:
        users = users[users["user_id"].isin(set(frame["user_id"]))]
    return Dataset.from_frame(frame, item_features=items, user_features=users)


def machine() -> dict[str, Any]:
    """Where and under what load a measurement ran (others share this machine)."""
    import torch

    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average": list(os.getloadavg()),
    }
