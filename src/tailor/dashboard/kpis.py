"""KPIs over time per placement and variant, from exposure, click and purchase events.

The join is the A/B analysis's (``tailor.experiments.analysis``, docs/experiments.md):

* A **list** is one ``recommendation_id`` with at least one ``exposure`` event; its time is its
  earliest exposure, its visitor the exposure's user id, else its session id. The experiment
  and the variant are the id's suffix ``HEX:EXPERIMENT:VARIANT`` (``-`` outside experiments).
* Its **placement** (the page slot: ``home-banner``, ``product-similar``...) is the
  ``placement`` field of its first exposure that has one (``-`` when none has).
* A ``click``, ``add_to_cart`` or ``purchase`` carrying the list's ``recommendation_id`` within
  ``[0, attribution_s]`` seconds after the list is **attributed** to it (one purchase = one
  order, ``value`` = its revenue).

Per group (a time bucket of the lists' times, a placement, a variant): CTR = attributed clicks
/ lists; conversion = share of the group's visitors with an attributed purchase; AOV =
attributed revenue / attributed orders (None without orders); revenue = attributed revenue.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from tailor.data.columns import EXPOSURE
from tailor.experiments.assignment import RECOMMENDATION_ID
from tailor.streaming.events import EVENT_FIELDS

NONE_LABEL = "-"
"""Placement or variant of a list that has none."""
_REC_ID = RECOMMENDATION_ID
COLUMNS = EVENT_FIELDS
LIST_COLUMNS = (
    "time",
    "placement",
    "experiment",
    "variant",
    "visitor",
    "clicks",
    "add_to_carts",
    "orders",
    "revenue",
)


def events_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Event dicts (the API's fields) as a frame, normalised as the A/B analysis reads them
    (:func:`tailor.experiments.analysis.normalise_events`: ids as strings, ``type`` lower-case,
    ``timestamp`` UTC, ``value`` float, repeats of an ``event_id`` dropped)."""
    from tailor.experiments.analysis import normalise_events  # statistics: loaded on first use

    return normalise_events(pd.DataFrame(list(rows), columns=list(COLUMNS)))


def list_table(events: pd.DataFrame, attribution_s: float) -> pd.DataFrame:
    """One row per shown list (index ``recommendation_id``): ``LIST_COLUMNS``."""
    shown = events[(events["type"] == EXPOSURE) & events["recommendation_id"].notna()]
    if shown.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LIST_COLUMNS}).rename_axis(
            "recommendation_id"
        )
    shown = shown.sort_values("timestamp", kind="stable")
    # a list's placement: the first exposure that names one (the server's own exposures of a
    # list name none; the page's do)
    named = shown["placement"]
    visitor = shown["user_id"].fillna(shown["session_id"])
    grouped = shown.assign(placement=named, visitor=visitor).groupby("recommendation_id")
    lists = grouped.agg(
        time=("timestamp", "min"), placement=("placement", "first"), visitor=("visitor", "first")
    )
    lists["placement"] = lists["placement"].fillna(NONE_LABEL).astype(str)
    parts = lists.index.to_series().str.extract(_REC_ID)
    lists["experiment"] = parts["experiment"].fillna(NONE_LABEL).astype(str)
    lists["variant"] = parts["variant"].fillna(NONE_LABEL).astype(str)
    from tailor.experiments.analysis import OUTCOMES

    outcomes = events[events["type"].isin(OUTCOMES) & events["recommendation_id"].notna()]
    joined = outcomes.join(lists[["time"]], on="recommendation_id", how="inner")
    lag = (joined["timestamp"] - joined["time"]).dt.total_seconds()
    joined = joined[(lag >= 0) & (lag <= attribution_s)]
    counts = joined.groupby(["recommendation_id", "type"]).size().unstack(fill_value=0)
    for kind, column in (
        ("click", "clicks"),
        ("add_to_cart", "add_to_carts"),
        ("purchase", "orders"),
    ):
        lists[column] = counts[kind] if kind in counts.columns else 0
    bought = joined[joined["type"] == "purchase"]
    lists["revenue"] = bought.groupby("recommendation_id")["value"].sum()
    numeric = ["clicks", "add_to_carts", "orders", "revenue"]
    lists[numeric] = lists[numeric].fillna(0)
    lists[["clicks", "add_to_carts", "orders"]] = lists[
        ["clicks", "add_to_carts", "orders"]
    ].astype(int)
    lists["revenue"] = lists["revenue"].astype(float)
    return lists.loc[:, list(LIST_COLUMNS)]


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def _row(
    lists: int, visitors: int, buyers: int, clicks: int, carts: int, orders: int, revenue: float
) -> dict[str, Any]:
    return {
        "lists": int(lists),
        "visitors": int(visitors),
        "clicks": int(clicks),
        "add_to_carts": int(carts),
        "orders": int(orders),
        "revenue": _round(float(revenue)),
        "ctr": _round(_ratio(clicks, lists)),
        "conversion": _round(_ratio(buyers, visitors)),
        "aov": _round(_ratio(revenue, orders)),
    }


def summarise(group: pd.DataFrame) -> dict[str, Any]:
    """Counts and KPIs of a group of lists (rows of :func:`list_table`)."""
    buyers = group.loc[group["orders"] > 0, "visitor"].nunique()
    return _row(
        len(group),
        group["visitor"].nunique(),
        buyers,
        group["clicks"].sum(),
        group["add_to_carts"].sum(),
        group["orders"].sum(),
        group["revenue"].sum(),
    )


def summarise_by(lists: pd.DataFrame, keys: list[str]) -> list[dict[str, Any]]:
    """:func:`summarise` of each group of ``lists`` by ``keys`` (one vectorised pass), sorted by
    the keys; each row starts with the keys' values."""
    if lists.empty:
        return []
    grouped = lists.assign(buyer=lists["visitor"].where(lists["orders"] > 0)).groupby(
        keys, sort=True
    )
    table = grouped.agg(
        lists=("visitor", "size"),
        visitors=("visitor", "nunique"),
        buyers=("buyer", "nunique"),
        clicks=("clicks", "sum"),
        carts=("add_to_carts", "sum"),
        orders=("orders", "sum"),
        revenue=("revenue", "sum"),
    )
    rows = []
    for key, r in zip(table.index, table.itertuples(index=False), strict=True):
        values = key if isinstance(key, tuple) else (key,)
        named = dict(zip(keys, values, strict=True))
        rows.append(
            {**named, **_row(r.lists, r.visitors, r.buyers, r.clicks, r.carts, r.orders, r.revenue)}
        )
    return rows


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 6)


def _label(lists: pd.DataFrame) -> pd.Series:
    """``experiment:variant``, or ``-`` for lists outside experiments."""
    inside = lists["experiment"] != NONE_LABEL
    return (lists["experiment"] + ":" + lists["variant"]).where(inside, NONE_LABEL)


def kpis(lists: pd.DataFrame, bucket_s: int, since: pd.Timestamp | None = None) -> dict[str, Any]:
    """The dashboard's KPI document from :func:`list_table` rows with a time at or after
    ``since``: ``series`` (one row per bucket, placement and variant, buckets of ``bucket_s``
    seconds from the epoch, labelled by their start, ISO UTC), ``placements`` and ``variants``
    (totals per placement and per variant over the window) and ``overall``."""
    if since is not None:
        lists = lists[lists["time"] >= since]
    lists = lists.assign(label=_label(lists))
    series = []
    if len(lists):
        bucketed = lists.assign(bucket=lists["time"].dt.floor(f"{bucket_s}s"))  # from the epoch
        for row in summarise_by(bucketed, ["bucket", "placement", "label"]):
            row["bucket"] = pd.Timestamp(row["bucket"]).strftime("%Y-%m-%dT%H:%M:%SZ")
            row["variant"] = row.pop("label")
            series.append(row)
    placements = summarise_by(lists, ["placement"])
    variants = [{"variant": row.pop("label"), **row} for row in summarise_by(lists, ["label"])]
    return {
        "series": series,
        "placements": placements,
        "variants": variants,
        "overall": summarise(lists),
    }
