"""profile(): what a source holds, computed on the data as read (before any cleaning).

Stability: stable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.data.sources.raw import RawData
from tailor.units import SECONDS_PER_DAY

QUANTILES = (0.25, 0.5, 0.75, 0.9, 0.99)


def profile(raw: RawData) -> dict[str, Any]:
    """Summarise raw data.

    Counts (with ``U`` the distinct non-missing user ids and ``I`` the item ids):

    - ``rows``: rows read; ``duplicates``: rows identical to an earlier row in every column;
    - ``users`` = ``|U|``, ``items`` = ``|I|``, ``pairs``: distinct (user, item) pairs among rows
      with both ids; ``density`` = pairs / (``|U|`` x ``|I|``);
    - ``interactions_per_user`` / ``_per_item``: min, quantiles (p25, p50, p75, p90, p99), max
      and mean of the row count per id (rows with a missing id are not counted);
    - ``event_types``: rows per event type as written (missing shown as ``"<missing>"``);
    - ``time_span``: first and last timestamp and the days between;
    - ``events_per_user_day``: the distribution of rows per (user, UTC day) and the busiest
      one (``busiest``: user_id, day, events), to choose ``max_events_per_user_day`` (bots);
    - ``missing``: missing values per column of each table;
    - ``tables``: rows of the items and users tables as read.

    Returns:
        A JSON-ready dict.
    """
    frame = raw.interactions
    users, items = frame[Columns.USER_ID], frame[Columns.ITEM_ID]
    n_users, n_items = int(users.nunique()), int(items.nunique())
    pairs = _distinct_pairs(users, items)
    return {
        "source": raw.name,
        "rows": raw.raw_rows,
        "duplicates": int(frame.duplicated().sum()),
        "users": n_users,
        "items": n_items,
        "pairs": pairs,
        "density": pairs / (n_users * n_items) if n_users and n_items else 0.0,
        "interactions_per_user": _distribution(users.value_counts()),
        "interactions_per_item": _distribution(items.value_counts()),
        "event_types": _event_mix(frame),
        "time_span": _time_span(frame[Columns.TIMESTAMP]),
        "events_per_user_day": _per_user_day(users, frame[Columns.TIMESTAMP]),
        "missing": {
            name: {str(c): int(n) for c, n in table.isna().sum().items()}
            for name, table in (("interactions", frame), ("items", raw.items), ("users", raw.users))
            if table is not None
        },
        "tables": {
            "items": None if raw.items is None else len(raw.items),
            "users": None if raw.users is None else len(raw.users),
        },
        "provenance": raw.provenance,
    }


def _distinct_pairs(users: pd.Series, items: pd.Series) -> int:
    u, _ = pd.factorize(users)
    i, item_ids = pd.factorize(items)
    both = (u >= 0) & (i >= 0)
    return len(pd.unique(u[both].astype(np.int64) * len(item_ids) + i[both]))


def _distribution(counts: pd.Series) -> dict[str, float]:
    if counts.empty:
        return {}
    values = counts.to_numpy(dtype=np.float64)
    stats = {"min": float(values.min())}
    for q, v in zip(QUANTILES, np.quantile(values, QUANTILES), strict=True):
        stats[f"p{round(q * 100)}"] = float(v)
    stats["max"] = float(values.max())
    stats["mean"] = float(values.mean())
    return stats


def _event_mix(frame: pd.DataFrame) -> dict[str, int]:
    if Columns.EVENT_TYPE not in frame:
        return {}
    counts = frame[Columns.EVENT_TYPE].fillna("<missing>").value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def _per_user_day(users: pd.Series, ts: pd.Series) -> dict[str, Any]:
    codes, ids = pd.factorize(users)
    days = ts.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    present = (codes >= 0) & ~np.isnat(days)
    if not present.any():
        return {}
    day = days[present].view(np.int64)
    first = int(day.min())
    width = int(day.max()) - first + 1
    pairs, counts = np.unique(
        codes[present].astype(np.int64) * width + (day - first), return_counts=True
    )
    stats: dict[str, Any] = _distribution(pd.Series(counts))
    top = int(np.argmax(counts))
    stats["busiest"] = {
        "user_id": str(ids[pairs[top] // width]),
        "day": str(np.datetime64(first + int(pairs[top] % width), "D")),
        "events": int(counts[top]),
    }
    return stats


def _time_span(ts: pd.Series) -> dict[str, Any]:
    present = ts.dropna()
    if present.empty:
        return {"start": None, "end": None, "days": 0.0}
    start, end = present.min(), present.max()
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": (end - start).total_seconds() / SECONDS_PER_DAY,
    }
