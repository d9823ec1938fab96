"""A synthetic shop clickstream export, shaped like the ones shops really hand over.

:func:`generate_shop` builds, from a seed, what a shop's data scientist typically exports
(the shape of e.g. the Retailrocket data set):

- ``events``: ``timestamp`` (Unix **milliseconds**), ``visitorid``, ``event`` in ``{view,
  addtocart, transaction}``, ``itemid``, ``transactionid`` (blank except on transactions);
- ``item_properties``: the catalogue in **long form**, ``timestamp, itemid, property, value``,
  every value as text: ``categoryid`` (numeric-looking text such as ``"330"``), ``available``
  (``"1"``/``"0"``, flipping over time: items go out of stock and some come back; re-recorded
  in weekly snapshots), ``price``, and a noise property nobody maps;
- ``users``: ``visitorid, country``.

What is planted (and kept in :attr:`ShopExport.catalogue` / :attr:`ShopExport.bots` so tests
know the answers):

- popularity skew: item popularity follows a Zipf law (``zipf`` exponent) and every visitor has
  a favourite category most of their views come from (``taste``);
- sessions: visits of a few views a few seconds to minutes apart, at daytime-weighted hours;
- a funnel: a view of an available item leads to ``addtocart`` with ``cart_rate``, a cart to a
  ``transaction`` with ``purchase_rate`` (if the item is still available at checkout); the
  items bought in one session share a ``transactionid``;
- bots: ``n_bots`` visitors with about ``bot_events_per_day`` views (uniform over the catalogue)
  on each of ``bot_days`` days;
- out-of-stock items: ``out_of_stock`` of the items become unavailable at some time, ``restock``
  of those come back later; no cart or purchase happens while an item is unavailable;
- recategorised items: ``recategorised`` of the items move to another category mid-way.

Every visitor's events have distinct timestamps, so the export holds no exact duplicate rows.
Everything is vectorised with numpy: 10^6 event rows take about a second to generate.
:meth:`ShopExport.write` writes the three files (CSV or Parquet) and a matching source config
(``shop.toml``) for ``tailor data prepare generic --config``.

Stability: experimental (used by tests and scale benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

SECOND_MS = 1_000
HOUR_MS = 3_600 * SECOND_MS
DAY_MS = 24 * HOUR_MS
NEVER = np.iinfo(np.int64).max
"""An ``off_at``/``back_at`` that never comes."""

EVENT_NAMES = ("view", "addtocart", "transaction")
"""The shop's event names, in code order (0, 1, 2)."""
TAILOR_EVENTS = {"view": "view", "addtocart": "add_to_cart", "transaction": "purchase"}
"""The mapping from the shop's event names to tailor's, as written into ``shop.toml``."""
NOISE_PROPERTY = "888"
"""A property nobody maps (hashed-looking text values); readers must ignore it."""
COUNTRIES = ("DE", "GB", "FR", "NL", "US", "PL", "IT", "ES", "SE", "AT")
_COUNTRY_WEIGHTS = np.array([30, 20, 12, 8, 8, 6, 6, 5, 3, 2], dtype=np.float64)
# visits start mostly in the day and evening (UTC hours 0..23)
_HOUR_WEIGHTS = np.array(
    [1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 8, 8, 9, 9, 8, 8, 8, 9, 10, 11, 11, 9, 5, 2], dtype=np.float64
)
MAX_EVENTS_PER_USER_DAY = 1000
"""The cap written into ``shop.toml``: above every planted human's busiest day, below every
bot's quietest (bots have at least 0.8 x ``bot_events_per_day`` views on each active day)."""

FileKind = Literal["csv", "parquet"]


@dataclass(frozen=True)
class ShopFiles:
    """Paths written by :meth:`ShopExport.write`."""

    config: Path
    events: Path
    properties: Path
    users: Path


@dataclass(frozen=True, eq=False)
class ShopExport:
    """A generated export and the answers planted in it.

    Attributes:
        events: ``timestamp`` (int64 ms), ``visitorid`` (int64), ``event`` (str), ``itemid``
            (int64), ``transactionid`` (nullable Int64), sorted by timestamp.
        properties: ``timestamp`` (int64 ms), ``itemid`` (int64), ``property`` (str), ``value``
            (str), sorted by timestamp.
        users: ``visitorid`` (int64), ``country`` (str).
        catalogue: the truth per item: ``itemid``, ``category`` (text, as first listed),
            ``new_category`` and ``recategorised_at`` (ms; ``NEVER`` when it keeps its
            category), ``off_at`` / ``back_at`` (ms: unavailable in ``[off_at, back_at)``;
            ``NEVER`` when it does not happen before the export ends), ``price``.
        bots: the bots' visitor ids.
        start_ms: the first instant of the events' period; end_ms: the first after it.
        flag_values: how ``available`` is written (true, false).
    """

    events: pd.DataFrame
    properties: pd.DataFrame
    users: pd.DataFrame
    catalogue: pd.DataFrame
    bots: np.ndarray
    start_ms: int
    end_ms: int
    flag_values: tuple[str, str] = ("1", "0")

    @property
    def bot_rows(self) -> int:
        """Event rows of the bots."""
        return int(self.events["visitorid"].isin(self.bots).sum())

    def event_counts(self, *, bots: bool = False) -> dict[str, int]:
        """Rows per event type in tailor's names (``view``, ``add_to_cart``, ``purchase``), of the
        human visitors only unless ``bots``."""
        events = self.events
        if not bots:
            events = events[~events["visitorid"].isin(self.bots)]
        counts = events["event"].map(TAILOR_EVENTS).value_counts()
        return {name: int(counts.get(name, 0)) for name in TAILOR_EVENTS.values()}

    def available_at(self, time_ms: int | None = None) -> pd.Series:
        """Whether each item (index: item id as text) is available at ``time_ms`` (latest when
        None: the state after the last property row, i.e. at the end of the export)."""
        at = self.end_ms if time_ms is None else time_ms
        cat = self.catalogue
        off = cat["off_at"].to_numpy()
        back = cat["back_at"].to_numpy()
        flags = ~((at >= off) & (at < back))
        return pd.Series(flags, index=cat["itemid"].astype(str).to_numpy(), name="available")

    def category_at(self, time_ms: int | None = None) -> pd.Series:
        """Each item's category (index: item id as text) at ``time_ms`` (latest when None)."""
        at = self.end_ms if time_ms is None else time_ms
        cat = self.catalogue
        moved = cat["recategorised_at"].to_numpy() <= at
        values = np.where(moved, cat["new_category"].to_numpy(), cat["category"].to_numpy())
        return pd.Series(values, index=cat["itemid"].astype(str).to_numpy(), name="category")

    def write(self, folder: Path | str, fmt: FileKind = "csv", *, name: str = "shop") -> ShopFiles:
        """Write ``events``, ``item_properties`` and ``users`` (``.csv`` or ``.parquet``) and a
        matching source config ``shop.toml`` into ``folder`` (created)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        suffix = ".csv" if fmt == "csv" else ".parquet"
        files = ShopFiles(
            config=out / "shop.toml",
            events=out / f"events{suffix}",
            properties=out / f"item_properties{suffix}",
            users=out / f"users{suffix}",
        )
        for frame, path in (
            (self.events, files.events),
            (self.properties, files.properties),
            (self.users, files.users),
        ):
            _write(frame, path, fmt)
        files.config.write_text(self.source_config(files, name=name), encoding="utf-8")
        return files

    def source_config(self, files: ShopFiles, *, name: str = "shop") -> str:
        """The source config TOML for files written by :meth:`write`."""
        names = "\n".join(f'{shop} = "{ours}"' for shop, ours in TAILOR_EVENTS.items())
        return f"""# A clickstream export (tailor.testing.shop): events in Unix milliseconds,
# the catalogue as long-form item properties, a users file with a country.
name = "{name}"

[interactions]
path = "{files.events.name}"
timestamp_format = "unix_ms"

[interactions.columns]
user_id = "visitorid"
item_id = "itemid"
timestamp = "timestamp"
event_type = "event"
session_id = "transactionid"

[interactions.event_names]
{names}

[items]
path = "{files.properties.name}"
layout = "long"
timestamp_format = "unix_ms"

[items.columns]
item_id = "itemid"
timestamp = "timestamp"
property = "property"
value = "value"

[items.properties]
category = "categoryid"
available = "available"
price = "price"

[items.types]
category = "category"
available = "flag"
price = "number"

[users]
path = "{files.users.name}"

[users.columns]
user_id = "visitorid"
country = "country"

[cleaning]
max_events_per_user_day = {MAX_EVENTS_PER_USER_DAY}
"""


def generate_shop(
    *,
    n_visitors: int = 3000,
    n_items: int = 1000,
    n_categories: int = 40,
    days: int = 60,
    sessions_per_visitor: float = 2.5,
    views_per_session: float = 5.0,
    cart_rate: float = 0.08,
    purchase_rate: float = 0.4,
    taste: float = 0.7,
    zipf: float = 1.1,
    n_bots: int = 3,
    bot_days: int = 3,
    bot_events_per_day: int = 2500,
    out_of_stock: float = 0.15,
    restock: float = 0.4,
    recategorised: float = 0.05,
    flag_values: tuple[str, str] = ("1", "0"),
    start: str = "2024-01-01",
    seed: int = 0,
) -> ShopExport:
    """Generate a shop export (see the module docstring for what is planted).

    Sizes: about ``n_visitors * sessions_per_visitor * views_per_session * 1.1`` human event
    rows (13.75 per visitor with the defaults) plus ``n_bots * bot_days * bot_events_per_day``
    bot rows; with the defaults about 41,000 + 22,500. For 10^6 rows use e.g.
    ``n_visitors=70_000, n_items=50_000``.

    Args:
        n_visitors: human visitors (bots come on top).
        n_items: catalogue size (every item has properties; not every item gets events).
        n_categories: categories (each holds at least one item).
        days: length of the events' period.
        sessions_per_visitor: mean visits per visitor (geometric, at least 1).
        views_per_session: mean views per visit (geometric, at least 1).
        cart_rate: P(add to cart | view of an available item).
        purchase_rate: P(purchase | cart), if the item is still available at checkout.
        taste: share of a visitor's views from their favourite category.
        zipf: exponent of the item popularity law (weight of the r-th item ~ 1/r^zipf).
        n_bots: bot visitors.
        bot_days: active days of each bot.
        bot_events_per_day: views of a bot on an active day (+-20 %).
        out_of_stock: share of items going out of stock during the period.
        restock: share of those coming back before the period ends.
        recategorised: share of items moved to another category during the period.
        flag_values: how ``available`` is written: (true, false), e.g. ``("yes", "no")``.
        start: the first day of the period (UTC).
        seed: everything is drawn from ``numpy.random.default_rng(seed)``.
    """
    if n_categories < 1 or n_items < n_categories:
        raise ValueError("need 1 <= n_categories <= n_items")
    rng = np.random.default_rng(seed)
    start_ms = int(pd.Timestamp(start).value // 1_000_000)
    span = days * DAY_MS
    end_ms = start_ms + span

    # catalogue: ids, Zipf popularity, categories, price, availability and category timelines
    item_ids = rng.choice(max(4 * n_items, 1000), size=n_items, replace=False).astype(np.int64)
    weight = 1.0 / (1.0 + rng.permutation(n_items)) ** zipf
    cat_of = np.concatenate(
        [
            rng.permutation(n_categories),
            rng.choice(
                n_categories,
                n_items - n_categories,
                p=_normalised(1.0 / (1.0 + np.arange(n_categories)) ** 0.8),
            ),
        ]
    )
    labels = rng.choice(np.arange(1, 2000), n_categories, replace=False).astype(str)
    price = np.round(rng.lognormal(3.0, 0.8, n_items), 2)
    oos = rng.random(n_items) < out_of_stock
    off_at = np.where(oos, start_ms + rng.integers(span // 10, span, n_items), NEVER)
    back_at = np.where(
        oos & (rng.random(n_items) < restock),
        off_at + rng.integers(DAY_MS, max(span // 3, 2 * DAY_MS), n_items),
        NEVER,
    )
    back_at = np.where(back_at >= end_ms, NEVER, back_at)  # after the export: never seen
    moved = rng.random(n_items) < recategorised
    recat_at = np.where(moved, start_ms + rng.integers(span // 5, span, n_items), NEVER)
    new_cat = np.where(
        moved, (cat_of + rng.integers(1, max(n_categories, 2), n_items)) % n_categories, cat_of
    )
    sampler = _ItemSampler(weight, cat_of, n_categories)

    # human visitors: sessions of views, with a favourite category each
    n_sessions = rng.geometric(1.0 / max(sessions_per_visitor, 1.0), n_visitors)
    fav = rng.choice(n_categories, n_visitors, p=_normalised(sampler.category_weight))
    sess_visitor = np.repeat(np.arange(n_visitors), n_sessions)
    n_sess = len(sess_visitor)
    sess_start = (
        start_ms
        + rng.integers(0, days, n_sess) * DAY_MS
        + rng.choice(24, n_sess, p=_normalised(_HOUR_WEIGHTS)) * HOUR_MS
        + rng.integers(0, HOUR_MS, n_sess)
    )
    n_views = rng.geometric(1.0 / max(views_per_session, 1.0), n_sess)
    view_sess = np.repeat(np.arange(n_sess), n_views)
    gaps = (rng.exponential(45 * SECOND_MS, len(view_sess)) + 2 * SECOND_MS).astype(np.int64)
    clock = np.cumsum(gaps)
    first = np.cumsum(n_views) - n_views
    view_ts = sess_start[view_sess] + clock - clock[first][view_sess]
    view_visitor = sess_visitor[view_sess]
    from_fav = rng.random(len(view_sess)) < taste
    view_item = np.where(
        from_fav,
        sampler.in_category(fav[view_visitor], rng),
        sampler.anywhere(len(view_sess), rng),
    )

    # the funnel: carts of available items, purchases at checkout while still available
    def available(items: np.ndarray, ts: np.ndarray) -> np.ndarray:
        return ~((ts >= off_at[items]) & (ts < back_at[items]))

    cart_delay = rng.integers(3 * SECOND_MS, 120 * SECOND_MS, len(view_ts))
    carted = available(view_item, view_ts + cart_delay) & (rng.random(len(view_ts)) < cart_rate)
    cart_idx = np.flatnonzero(carted)
    cart_ts = view_ts[cart_idx] + cart_delay[cart_idx]
    cart_item, cart_sess = view_item[cart_idx], view_sess[cart_idx]
    session_end = view_ts[first + n_views - 1]
    paid_at = session_end[cart_sess] + rng.integers(150 * SECOND_MS, 750 * SECOND_MS, len(cart_idx))
    bought = (rng.random(len(cart_idx)) < purchase_rate) & available(cart_item, paid_at)
    buy_sess = cart_sess[bought]
    buy_ts = paid_at[bought]
    paying, txn_of_buy = np.unique(buy_sess, return_inverse=True)
    txn_ids = rng.permutation(len(paying) * 3)[: len(paying)].astype(np.int64)

    # bots: thousands of uniform views a day on a few days each
    bot_visitor = n_visitors + np.arange(n_bots)
    bot_day_of = np.concatenate(
        [rng.choice(days, min(bot_days, days), replace=False) for _ in range(n_bots)]
    ).astype(np.int64)
    bot_of_day = np.repeat(bot_visitor, min(bot_days, days))
    per_day = rng.integers(
        int(bot_events_per_day * 0.8), int(bot_events_per_day * 1.2) + 1, len(bot_day_of)
    )
    bot_rows = np.repeat(np.arange(len(bot_day_of)), per_day)
    bot_ts = start_ms + bot_day_of[bot_rows] * DAY_MS + rng.integers(0, DAY_MS, len(bot_rows))
    bot_item = rng.integers(0, n_items, len(bot_rows))

    cart_visitor = view_visitor[cart_idx]
    visitor = np.concatenate(
        [view_visitor, cart_visitor, cart_visitor[bought], bot_of_day[bot_rows]]
    )
    ts = np.concatenate([view_ts, cart_ts, buy_ts, bot_ts])
    item = np.concatenate([view_item, cart_item, cart_item[bought], bot_item])
    event = np.concatenate(
        [
            np.zeros(len(view_ts), np.int8),
            np.ones(len(cart_ts), np.int8),
            np.full(len(buy_ts), 2, np.int8),
            np.zeros(len(bot_ts), np.int8),
        ]
    )
    txn = np.concatenate(
        [np.full(len(view_ts) + len(cart_ts), -1), txn_ids[txn_of_buy], np.full(len(bot_ts), -1)]
    )
    ts = _distinct_per_visitor(visitor, ts)
    # nudged by a few ms, a cart or purchase may have crossed into a stock-out: leave it out
    kept = (event == 0) | available(item, ts)
    visitor, ts, item, event, txn = visitor[kept], ts[kept], item[kept], event[kept], txn[kept]
    order = np.argsort(ts, kind="stable")
    visitor_ids = rng.permutation(4 * (n_visitors + n_bots))[: n_visitors + n_bots]
    visitor_ids = visitor_ids.astype(np.int64)
    events = pd.DataFrame(
        {
            "timestamp": ts[order],
            "visitorid": visitor_ids[visitor[order]],
            "event": pd.Categorical.from_codes(event[order], categories=list(EVENT_NAMES)),
            "itemid": item_ids[item[order]],
            "transactionid": pd.arrays.IntegerArray(np.maximum(txn[order], 0), mask=txn[order] < 0),
        }
    )

    catalogue = pd.DataFrame(
        {
            "itemid": item_ids,
            "category": labels[cat_of],
            "new_category": labels[new_cat],
            "recategorised_at": recat_at,
            "off_at": off_at,
            "back_at": back_at,
            "price": price,
        }
    )
    properties = _properties(catalogue, start_ms, end_ms, flag_values, rng)
    users = pd.DataFrame(
        {
            "visitorid": visitor_ids,
            "country": np.asarray(COUNTRIES)[
                rng.choice(len(COUNTRIES), len(visitor_ids), p=_normalised(_COUNTRY_WEIGHTS))
            ],
        }
    )
    return ShopExport(
        events=events,
        properties=properties,
        users=users,
        catalogue=catalogue,
        bots=visitor_ids[bot_visitor],
        start_ms=start_ms,
        end_ms=end_ms,
        flag_values=flag_values,
    )


class _ItemSampler:
    """Draws item indices by Zipf weight, over the whole catalogue or within one category."""

    def __init__(self, weight: np.ndarray, cat_of: np.ndarray, n_categories: int) -> None:
        self.global_cdf = np.cumsum(weight) / weight.sum()
        self.order = np.argsort(cat_of, kind="stable")
        cats = cat_of[self.order]
        w = weight[self.order]
        self.category_weight = np.bincount(cats, weights=w, minlength=n_categories)
        within = np.cumsum(w)
        before = np.concatenate([[0.0], np.cumsum(self.category_weight)])[cats]
        # category c's items cover keys (c, c + 1]: a draw c + u (0 <= u < 1) lands in c
        self.keys = cats + (within - before) / self.category_weight[cats]

    def anywhere(self, n: int, rng: np.random.Generator) -> np.ndarray:
        idx = np.searchsorted(self.global_cdf, rng.random(n), side="right")
        return np.minimum(idx, len(self.global_cdf) - 1)

    def in_category(self, cats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        pos = np.searchsorted(self.keys, cats + rng.random(len(cats)), side="left")
        return self.order[np.minimum(pos, len(self.order) - 1)]


def _properties(
    catalogue: pd.DataFrame,
    start_ms: int,
    end_ms: int,
    flag_values: tuple[str, str],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The long-form property log: first listing, weekly ``available`` snapshots, stock changes,
    recategorisations and a noise property."""
    yes, no = flag_values
    ids = catalogue["itemid"].to_numpy()
    n = len(ids)
    listed = start_ms - rng.integers(DAY_MS, 30 * DAY_MS, n)
    off = catalogue["off_at"].to_numpy()
    back = catalogue["back_at"].to_numpy()
    recat = catalogue["recategorised_at"].to_numpy()
    parts: list[tuple[np.ndarray, np.ndarray, str, np.ndarray]] = [
        (listed, ids, "categoryid", catalogue["category"].to_numpy(dtype=object)),
        (listed, ids, "available", np.full(n, yes, dtype=object)),
        (listed, ids, "price", catalogue["price"].map("{:.2f}".format).to_numpy(dtype=object)),
        (
            listed,
            ids,
            NOISE_PROPERTY,
            np.char.add("n", (rng.integers(0, 10**6, n)).astype(str)).astype(object),
        ),
    ]
    moved = recat < end_ms
    parts.append(
        (recat[moved], ids[moved], "categoryid", catalogue["new_category"].to_numpy()[moved])
    )
    went = off < end_ms
    parts.append((off[went], ids[went], "available", np.full(int(went.sum()), no, dtype=object)))
    came = back < end_ms
    parts.append((back[came], ids[came], "available", np.full(int(came.sum()), yes, dtype=object)))
    # weekly snapshots re-record the current availability (the latest row is what counts)
    weeks = np.arange(start_ms, end_ms, 7 * DAY_MS, dtype=np.int64)
    snap_t = np.repeat(weeks, n) + np.tile(rng.integers(0, HOUR_MS, n), len(weeks))
    snap_i = np.tile(np.arange(n), len(weeks))
    down = (snap_t >= off[snap_i]) & (snap_t < back[snap_i])
    parts.append((snap_t, ids[snap_i], "available", np.where(down, no, yes).astype(object)))
    ts = np.concatenate([p[0] for p in parts]).astype(np.int64)
    order = np.argsort(ts, kind="stable")
    names = list(dict.fromkeys(p[2] for p in parts))
    return pd.DataFrame(
        {
            "timestamp": ts[order],
            "itemid": np.concatenate([p[1] for p in parts]).astype(np.int64)[order],
            "property": pd.Categorical.from_codes(
                np.concatenate([np.full(len(p[0]), names.index(p[2])) for p in parts])[order],
                categories=names,
            ),
            "value": np.concatenate([p[3] for p in parts])[order],
        }
    )


def _distinct_per_visitor(visitor: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Nudge timestamps (by the fewest milliseconds) so each visitor's are strictly increasing;
    the order of each visitor's events is kept."""
    if len(ts) == 0:
        return ts
    base = int(ts.min())
    order = np.argsort(visitor.astype(np.int64) * (int(ts.max()) - base + 1) + (ts - base))
    v, t = visitor[order], ts[order]
    n = len(t)
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    group = np.cumsum(np.r_[True, v[1:] != v[:-1]]) - 1
    pos = np.arange(n) - starts[group]  # position within the visitor's events
    span = int(t.max() - t.min()) + n + 1
    # strictly increasing t' >= t: t'_i = i + max_{j <= i} (t_j - j), per visitor
    keyed = (t - t.min() - pos) + group.astype(np.int64) * span
    fixed = np.maximum.accumulate(keyed) - group.astype(np.int64) * span + pos + t.min()
    out = np.empty_like(ts)
    out[order] = fixed
    return out


def _normalised(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()


def _write(frame: pd.DataFrame, path: Path, fmt: FileKind) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if fmt == "csv":
        pa_csv.write_csv(table, path, pa_csv.WriteOptions(quoting_style="needed"))
    else:
        pq.write_table(table, path)
