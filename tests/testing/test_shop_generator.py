"""tailor.testing.shop: the synthetic clickstream export holds what it says it plants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailor.data.sources import load_config
from tailor.testing.shop import (
    DAY_MS,
    EVENT_NAMES,
    MAX_EVENTS_PER_USER_DAY,
    NEVER,
    NOISE_PROPERTY,
    ShopExport,
    generate_shop,
)


@pytest.fixture(scope="module")
def shop() -> ShopExport:
    return generate_shop(seed=7)


def _humans(shop: ShopExport) -> pd.DataFrame:
    return shop.events[~shop.events["visitorid"].isin(shop.bots)]


def test_same_seed_same_export_other_seed_other_export() -> None:
    a, b = generate_shop(n_visitors=300, seed=1), generate_shop(n_visitors=300, seed=1)
    for name in ("events", "properties", "users", "catalogue"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    c = generate_shop(n_visitors=300, seed=2)
    assert not a.events["itemid"].equals(c.events["itemid"])


def test_the_export_has_the_usual_shape(shop: ShopExport) -> None:
    events = shop.events
    assert list(events.columns) == ["timestamp", "visitorid", "event", "itemid", "transactionid"]
    assert set(events["event"].astype(str)) == set(EVENT_NAMES)
    ts = events["timestamp"].to_numpy()
    assert (
        ts.dtype == np.int64 and (ts >= shop.start_ms).all() and (ts < shop.end_ms + DAY_MS).all()
    )
    assert ts.min() > 10**12  # milliseconds, not seconds
    assert (np.diff(ts) >= 0).all()  # sorted by time, as exported
    assert not events.duplicated().any()
    per_visitor = events.sort_values(["visitorid", "timestamp"]).groupby("visitorid")["timestamp"]
    assert (per_visitor.diff().dropna() > 0).all()  # each visitor's times are distinct
    assert list(shop.properties.columns) == ["timestamp", "itemid", "property", "value"]
    assert set(shop.users.columns) == {"visitorid", "country"}
    assert set(shop.users["visitorid"]) == set(events["visitorid"]) | set(shop.bots)
    # a few thousand visitors by default
    assert 2500 <= _humans(shop)["visitorid"].nunique() <= 3000


def test_transaction_ids_mark_purchases_and_group_a_session(shop: ShopExport) -> None:
    events = shop.events
    bought = events["event"] == "transaction"
    assert events.loc[bought, "transactionid"].notna().all()
    assert events.loc[~bought, "transactionid"].isna().all()
    per_txn = events[bought].groupby("transactionid")["visitorid"].nunique()
    assert (per_txn == 1).all() and (events[bought].groupby("transactionid").size() > 1).any()


def test_the_funnel_view_cart_purchase(shop: ShopExport) -> None:
    counts = shop.event_counts()
    assert counts["view"] > counts["add_to_cart"] > counts["purchase"] > 0
    humans = _humans(shop)
    first = humans.groupby(["visitorid", "itemid", "event"], observed=True)["timestamp"].min()
    first = first.unstack("event")
    carts = first[first["addtocart"].notna()]
    assert (carts["view"] < carts["addtocart"]).all()
    buys = first[first["transaction"].notna()]
    assert (buys["addtocart"] < buys["transaction"]).all()


def test_popularity_is_skewed(shop: ShopExport) -> None:
    views = _humans(shop)["itemid"].value_counts()
    top = views.iloc[: len(shop.catalogue) // 10].sum()
    assert top / views.sum() > 0.4  # the top 10 % of items get most views


def test_bots_have_thousands_of_events_a_day_and_humans_far_fewer(shop: ShopExport) -> None:
    events = shop.events.assign(day=shop.events["timestamp"] // DAY_MS)
    per_day = events.groupby(["visitorid", "day"]).size()
    bots = per_day[per_day.index.get_level_values(0).isin(shop.bots)]
    humans = per_day[~per_day.index.get_level_values(0).isin(shop.bots)]
    assert len(shop.bots) == 3 and bots.min() >= 2000 > MAX_EVENTS_PER_USER_DAY
    assert humans.max() < MAX_EVENTS_PER_USER_DAY / 5
    assert shop.bot_rows == len(events[events["visitorid"].isin(shop.bots)])
    assert shop.bot_rows > 0.2 * len(events)


def test_out_of_stock_items_flip_and_are_never_bought_meanwhile(shop: ShopExport) -> None:
    catalogue = shop.catalogue
    assert (catalogue["off_at"] < NEVER).mean() > 0.1
    assert (catalogue["back_at"] < NEVER).any()  # some come back
    latest = shop.available_at()
    assert 0 < (~latest).sum() < len(latest)
    # no cart or purchase while the item is unavailable
    events = shop.events[shop.events["event"] != "view"]
    off = catalogue.set_index("itemid").loc[events["itemid"]]
    at = events["timestamp"].to_numpy()
    down = (at >= off["off_at"].to_numpy()) & (at < off["back_at"].to_numpy())
    assert not down.any()


def test_the_property_log_tells_the_same_story(shop: ShopExport) -> None:
    log = shop.properties
    assert set(log["property"].astype(str)) == {"categoryid", "available", "price", NOISE_PROPERTY}
    assert set(log.loc[log["property"] == "available", "value"]) == {"1", "0"}
    cats = log.loc[log["property"] == "categoryid", "value"]
    assert cats.str.fullmatch(r"\d+").all()  # numeric-looking text, such as "330"
    last = log.sort_values("timestamp", kind="stable").groupby(["itemid", "property"]).tail(1)
    latest = last[last["property"] == "available"].set_index("itemid")["value"] == "1"
    latest.index = latest.index.astype(str)
    pd.testing.assert_series_equal(
        latest.sort_index(), shop.available_at().sort_index(), check_names=False
    )
    mid = shop.start_ms + (shop.end_ms - shop.start_ms) // 2
    before = log[log["timestamp"] < mid].sort_values("timestamp", kind="stable")
    at_mid = before.groupby(["itemid", "property"]).tail(1)
    cat_mid = at_mid[at_mid["property"] == "categoryid"].set_index("itemid")["value"]
    cat_mid.index = cat_mid.index.astype(str)
    pd.testing.assert_series_equal(
        cat_mid.sort_index(), shop.category_at(mid).sort_index(), check_names=False
    )
    assert (shop.category_at(mid) != shop.category_at()).any()  # some items were recategorised


def test_flags_can_be_written_other_ways() -> None:
    shop = generate_shop(n_visitors=200, flag_values=("yes", "no"), seed=3)
    values = shop.properties.loc[shop.properties["property"] == "available", "value"]
    assert set(values) == {"yes", "no"}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_gives_files_and_a_config_that_reads_them(
    tmp_path: Path, shop: ShopExport, fmt: str
) -> None:
    files = shop.write(tmp_path, fmt)  # type: ignore[arg-type]
    config = load_config(files.config)
    assert config.interactions is not None and config.items is not None
    assert config.resolve(config.interactions.path) == files.events
    assert config.items.layout == "long"
    assert config.interactions.event_names == {
        "view": "view",
        "addtocart": "add_to_cart",
        "transaction": "purchase",
    }
    back = pd.read_csv(files.events) if fmt == "csv" else pd.read_parquet(files.events)
    assert len(back) == len(shop.events)
    assert back["timestamp"].tolist() == shop.events["timestamp"].tolist()


def test_sizes_scale_with_the_parameters() -> None:
    small = generate_shop(n_visitors=500, n_items=200, n_bots=1, bot_days=1, seed=4)
    humans = small.events[~small.events["visitorid"].isin(small.bots)]
    assert 500 * 8 < len(humans) < 500 * 20
    assert small.catalogue["itemid"].is_unique and len(small.catalogue) == 200
    assert len(small.bots) == 1
