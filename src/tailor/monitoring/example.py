"""A planted shop for the worked example of docs/monitoring.md (seeded: the same numbers on
every machine).

``python -m tailor.monitoring.example DIR [--no-drift]`` writes::

    DIR/store/        a model store: EASE fitted on 300 customers' purchases of 40 products
                      (kitchen i0-i19 priced 2-21, garden i20-i39 priced 12-31), active
    DIR/events.db     the embedded event log: 29 days of live events up to END
    DIR/tailor.toml   [serve] (store, log) and [monitoring] (daily window, state file)

Every hour 25 visitors come (a Poisson number; 80 % signed-in customers, 20 % anonymous
sessions): each is shown a list (``exposure``), views two products of the preferred category
(80 %, else the other), clicks a listed one with probability 0.3, adds it to the cart with 0.2
and buys it with 0.1. With drift (the default), on the last day the garden category is out
of stock (visitors view and buy only kitchen products) and ``add_to_cart`` events stop arriving
(a tracking bug).
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

END = pd.Timestamp("2026-11-29T00:00:00Z")
"""The end of the generated events: run the example's checks with ``--now`` = END."""
DAYS = 29
VISITORS_PER_HOUR = 25
N_USERS, N_ITEMS = 300, 40


def catalog() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(N_ITEMS)],
            "category": ["kitchen"] * 20 + ["garden"] * 20,
            "price": [float(k + 2) if k < 20 else float(k - 8) for k in range(N_ITEMS)],
            "available": [True] * N_ITEMS,
        }
    )


def _preferred(user: int) -> int:
    return user % 2  # 0 kitchen, 1 garden


def _item(rng: np.random.Generator, category: int) -> int:
    return int(rng.integers(0, 20)) + 20 * category


def training(seed: int = 0) -> pd.DataFrame:
    """Each customer bought six products, 80 % of them from the preferred category."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(N_USERS):
        for _ in range(6):
            category = _preferred(u) if rng.random() < 0.8 else 1 - _preferred(u)
            when = END - timedelta(days=60 + int(rng.integers(0, 300)))
            rows.append((f"u{u}", f"i{_item(rng, category)}", 1.0, when.tz_convert(None)))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "value", "timestamp"])


def live_events(seed: int = 1, drift: bool = True) -> list[dict[str, object]]:
    """The event JSON of the last ``DAYS`` days and one hour (so that the history's oldest
    window is wholly covered; see the module docstring)."""
    rng = np.random.default_rng(seed)
    drift_from = END - timedelta(days=1)
    events: list[dict[str, object]] = []
    start = END - timedelta(days=DAYS, hours=1)
    for hour in range(DAYS * 24 + 1):
        t0 = start + timedelta(hours=hour)
        for v in range(int(rng.poisson(VISITORS_PER_HOUR))):
            _visit(rng, events, f"r{hour}-{v}", t0, drift and t0 >= drift_from)
    return events


def _visit(
    rng: np.random.Generator,
    events: list[dict[str, object]],
    rec: str,
    t0: pd.Timestamp,
    drifting: bool,
) -> None:
    """One visitor's events (appended to ``events``)."""
    user = int(rng.integers(0, N_USERS))
    who = {"user_id": f"u{user}"} if rng.random() < 0.8 else {"session_id": f"s{rec}"}
    at = t0 + timedelta(seconds=float(rng.uniform(0, 3600)))
    prefer = _preferred(user)

    def pick() -> int:
        category = prefer if rng.random() < 0.8 else 1 - prefer
        return _item(rng, 0 if drifting else category)

    def add(kind: str, item: int, seconds: float, **extra: object) -> None:
        events.append(
            {
                "event_id": f"{rec}-{kind}-{len(events)}",
                **who,
                "item_id": f"i{item}",
                "type": kind,
                "timestamp": (at + timedelta(seconds=seconds)).isoformat(),
                **extra,
            }
        )

    shown = pick()
    add("exposure", shown, 0, recommendation_id=rec)
    add("view", pick(), 5)
    add("view", pick(), 10)
    if rng.random() < 0.3:
        add("click", shown, 15, recommendation_id=rec)
        if rng.random() < 0.2 / 0.3:
            if not drifting:
                add("add_to_cart", shown, 20)
            if rng.random() < 0.5:
                add("purchase", shown, 30, value=1.0)


def write_example(root: Path, drift: bool = True) -> Path:
    """Write the store, the event log and the settings file under ``root``; returns the
    settings file."""
    from tailor.data.dataset import Dataset
    from tailor.models.model_dir import ModelDir
    from tailor.models.popular import Popularity
    from tailor.models.registry import create_model
    from tailor.serving.registry import ModelRegistry
    from tailor.streaming.events import Event
    from tailor.streaming.sqlite_log import SqliteEventLog

    root = root.resolve()
    items = catalog()
    data = Dataset.from_frame(training(), items=items)
    staging = root / "fit"
    ModelDir.write(
        staging,
        create_model("ease", {}).fit(data),
        popularity=Popularity().fit(data),
        catalog=items,
    )
    store = ModelRegistry(root / "store")
    (root / "store").mkdir(parents=True, exist_ok=True)
    store.activate(store.publish(staging))
    log = SqliteEventLog(root / "events.db")
    batch = [Event.model_validate(e) for e in live_events(drift=drift)]
    for k in range(0, len(batch), 10_000):
        log.append(batch[k : k + 10_000])
    log.close()
    settings = root / "tailor.toml"
    settings.write_text(
        "[serve]\n"
        f'model_dir = "{root / "store"}"\n'
        f'event_log_url = "sqlite:///{root / "events.db"}"\n\n'
        "[monitoring]\n"
        'window = "1d"\n'
        f'state_file = "{root / "monitor-state.db"}"\n'
    )
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--no-drift", action="store_true")
    args = parser.parse_args()
    file = write_example(args.root, drift=not args.no_drift)
    print(f"wrote {file}; run: tailor monitor --config {file} --once --now {END.isoformat()}")  # noqa: T201


if __name__ == "__main__":
    main()
