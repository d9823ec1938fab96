"""Visitors who browse a running tailor through its HTTP API and act on what they are shown.

Each visit: a visitor (a known customer, or with probability ``anonymous_share`` a new session)
asks ``GET /v1/recommendations/{id}`` for a list, then clicks each shown item with the world's
click probability and buys a clicked item with its buy rate, sending the click and purchase
events (with the list's ``recommendation_id``) to ``POST /v1/events``. The server logs the
exposure of each list it serves; with ``send_exposures`` the visitor sends one per list itself
(a page that shows cached lists would). Everything is seeded: the same world, server and seed
give the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tailor.random import derive_rng
from tailor.simulation.world import ShopWorld

EVENT_BATCH = 500
"""Events sent per ``POST /v1/events`` (the API takes at most 1,000)."""


@dataclass
class Visit:
    """One visit's list and what the visitor did with it."""

    t: int
    visitor: str
    user: int
    items: list[str]
    recommendation_id: str
    source: str
    experiment: str | None
    variant: str | None
    clicks: int
    purchases: int
    revenue: float
    expected_clicks: float
    """Sum of the click probabilities of the shown list (the truth's view of its quality)."""


@dataclass
class Visitors:
    """A stream of visits against one server.

    Attributes:
        world: the truth.
        client: an HTTP client on the server with ``get``/``post`` and its base URL set
            (``httpx.Client(base_url=...)``, or FastAPI's TestClient).
        seed: the visits' randomness.
        n: list length asked for.
        anonymous_share: share of visits by new sessions.
        start_s: the simulated time of the first visit (epoch seconds), visits
            ``seconds_per_visit`` apart; None (default): the wall clock, which the server's own
            exposure events carry, so clicks join the lists they follow.
        seconds_per_visit: simulated time between visits (with ``start_s``).
        send_exposures: send an exposure event per list (the server logs its own otherwise).
        headers: sent with every request (an API key).
    """

    world: ShopWorld
    client: Any
    seed: int = 0
    n: int = 10
    anonymous_share: float = 0.0
    start_s: float | None = None
    seconds_per_visit: float = 5.0
    send_exposures: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    stop_types: frozenset[str] = frozenset()
    """Event types not sent any more (an instrumentation break, for the drift checks)."""
    _pending: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)
    _t: int = field(default=0, init=False, repr=False)
    _events: int = field(default=0, init=False, repr=False)

    def run(self, visits: int, on_visit: Callable[[Visit], Any] | None = None) -> pd.DataFrame:
        """Make ``visits`` visits; one row per visit (see :class:`Visit`)."""
        rng = derive_rng(self.seed, "visits", self._t)
        rows = []
        for _ in range(visits):
            visit = self._visit(rng)
            rows.append(visit.__dict__)
            if on_visit is not None:
                on_visit(visit)
        self.flush()
        return pd.DataFrame(rows)

    def _visit(self, rng: np.random.Generator) -> Visit:
        world, t = self.world, self._t
        self._t += 1
        user = int(rng.integers(world.n_users))
        anonymous = rng.random() < self.anonymous_share
        visitor = f"s{self.seed}-{t}" if anonymous else f"u{user}"
        answer = self._get(f"/v1/recommendations/{visitor}", params={"n": self.n})
        items = [entry["item_id"] for entry in answer["items"]]
        nums = np.array([world.item_number(i) for i in items], dtype=np.int64)
        p_click = world.click_probability(user, nums) if len(nums) else np.zeros(0)
        clicked = rng.random(len(nums)) < p_click
        bought = clicked & (rng.random(len(nums)) < world.buy_rate)
        stamp = time.time() if self.start_s is None else self.start_s + t * self.seconds_per_visit
        rec_id = str(answer["recommendation_id"])
        who = {"session_id": visitor} if anonymous else {"user_id": visitor}
        if self.send_exposures and items:
            self._event("exposure", who, items[0], stamp, rec_id)
        for k in np.flatnonzero(clicked):
            self._event("click", who, items[k], stamp + 1, rec_id)
        for k in np.flatnonzero(bought):
            self._event("purchase", who, items[k], stamp + 2, rec_id, float(world.prices[nums[k]]))
        return Visit(
            t=t,
            visitor=visitor,
            user=user,
            items=items,
            recommendation_id=rec_id,
            source=str(answer.get("source")),
            experiment=answer.get("experiment"),
            variant=answer.get("variant"),
            clicks=int(clicked.sum()),
            purchases=int(bought.sum()),
            revenue=float(world.prices[nums[bought]].sum()) if bought.any() else 0.0,
            expected_clicks=float(p_click.sum()),
        )

    def _event(
        self,
        kind: str,
        who: dict[str, str],
        item: str,
        stamp: float,
        rec_id: str,
        value: float | None = None,
    ) -> None:
        if kind in self.stop_types:
            return
        self._events += 1
        event: dict[str, Any] = {
            "event_id": f"sim{self.seed}-{self._events}",
            **who,
            "item_id": item,
            "type": kind,
            "timestamp": stamp,
            "recommendation_id": rec_id,
        }
        if value is not None:
            event["value"] = value
        self._pending.append(event)
        if len(self._pending) >= EVENT_BATCH:
            self.flush()

    def flush(self) -> None:
        """Send the events not sent yet."""
        if not self._pending:
            return
        response = self.client.post(
            "/v1/events", json={"events": self._pending}, headers=self.headers
        )
        if response.status_code != 202:
            raise RuntimeError(f"POST /v1/events answered {response.status_code}: {response.text}")
        self._pending = []

    def _get(self, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.client.get(path, headers=self.headers, **kwargs)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text}")
        body: dict[str, Any] = response.json()
        return body
