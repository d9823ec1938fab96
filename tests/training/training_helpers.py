"""Helpers of the training tests: a planted shop (taste groups a personalised model finds and
popularity cannot), a training config over it, PostgreSQL settings."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PG_HOST = os.environ.get("TAILOR_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TAILOR_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TAILOR_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("TAILOR_TEST_PG_DB", "test")

SOURCE_TOML = """
name = "planted-shop"

[interactions]
path = "events.csv"
timestamp_format = "%Y-%m-%d %H:%M:%S"
event_type = "purchase"

[interactions.columns]
user_id = "customer"
item_id = "sku"
timestamp = "time"
"""


def planted_shop(
    n_users: int = 240,
    n_groups: int = 8,
    items_per_group: int = 12,
    per_user: int = 10,
    days: int = 60,
    seed: int = 0,
    shuffled_before: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Purchases of users in taste groups: each user buys ``per_user`` distinct items of their
    own group (a few global best-sellers aside), spread over ``days``. A personalised model
    learns the groups; popularity cannot. ``shuffled_before``: item ids of the rows before that
    time are shuffled across rows (degraded training data; the later rows stay genuine)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    rows = []
    for u in range(n_users):
        g = u % n_groups
        own = [f"g{g}i{k}" for k in range(items_per_group)]
        picks = list(rng.choice(own, size=per_user, replace=False))
        if rng.random() < 0.3:
            picks.append(f"best{rng.integers(0, 3)}")
        times = np.sort(rng.uniform(0, days * 86400, len(picks)))
        for item, t in zip(picks, times, strict=True):
            rows.append((f"c{u}", item, start + pd.Timedelta(seconds=float(t))))
    frame = pd.DataFrame(rows, columns=["customer", "sku", "time"])
    if shuffled_before is not None:
        early = frame["time"] < shuffled_before
        frame.loc[early, "sku"] = rng.permutation(frame.loc[early, "sku"].to_numpy())
    frame["time"] = frame["time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def write_source(folder: Path, frame: pd.DataFrame) -> Path:
    """events.csv + shop.toml (a generic source config) in ``folder``; returns the config."""
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "events.csv", index=False)
    config = folder / "shop.toml"
    config.write_text(SOURCE_TOML)
    return config


def train_toml(
    source: Path,
    *,
    registry: Path | None = None,
    candidates: str | None = None,
    trials: int = 2,
    sampler: str = "tpe",
    gate: str = "popularity_margin = 0.05\nlatency_budget_ms = 200.0",
    extra: str = "",
) -> str:
    """A training config over ``source`` (a generic source config)."""
    cands = candidates or (
        '[[candidates]]\nmodel = "popularity"\nspace = {}\n\n'
        '[[candidates]]\nmodel = "ease"\n'
        "space = { regularization = { low = 10.0, high = 500.0, log = true } }\n"
    )
    publish = f'[publish]\nregistry = "{registry}"\n' if registry is not None else ""
    return f"""
name = "planted"

[source]
name = "generic"
config = "{source}"

[split]
strategy = "temporal"
test_days = 12
validation_fraction = 0.2

{cands}

[tuning]
sampler = "{sampler}"
trials = {trials}
seed = 1

[metric]
name = "ndcg@10"
k = [10, 20]

[gate]
{gate}

{publish}
{extra}
"""


def pg_available() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            pass
        import psycopg2  # noqa: F401
    except (OSError, ImportError):
        return False
    return True


def _admin() -> Any:
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB)
    conn.autocommit = True
    return conn
