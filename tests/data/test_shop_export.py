"""A shop's clickstream export (tailor.testing.shop) through the generic reader, cleaning and
``tailor data split``: each thing that used to go wrong quietly, checked on such an export."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from tailor.cli import main
from tailor.data.features import scale_side_features
from tailor.data.prepare import prepare
from tailor.data.prepared import PROPERTIES_FILE, Prepared
from tailor.data.properties import pivot_latest
from tailor.errors import DataError
from tailor.pipeline.catalog import Catalog
from tailor.testing.shop import ShopExport, ShopFiles, generate_shop


class _Main(click.Command):
    def main(self, args: object = None, prog_name: str | None = None, **extra: object) -> None:
        main([str(a) for a in args or ()])  # type: ignore[attr-defined]


def tailor(*args: object) -> Result:
    """``tailor ARGS`` in-process through tailor's entry point (one-line errors, exit 2)."""
    return CliRunner().invoke(_Main("tailor"), [str(a) for a in args])


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[ShopExport, ShopFiles]:
    shop = generate_shop(seed=11)
    return shop, shop.write(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def prepared(export: tuple[ShopExport, ShopFiles]) -> tuple[Prepared, dict[str, object]]:
    _, files = export
    data, report = prepare("generic", config=files.config)
    return data, report.to_dict()


def _config(files: ShopFiles, old: str, new: str) -> Path:
    """A copy of the export's config with one edit, next to the data."""
    text = files.config.read_text()
    assert old in text
    path = files.config.with_name(f"edited-{abs(hash((old, new)))}.toml")
    path.write_text(text.replace(old, new))
    return path


EVENT_NAMES = (
    '[interactions.event_names]\nview = "view"\naddtocart = "add_to_cart"\n'
    'transaction = "purchase"\n'
)


def test_event_names_are_mapped_and_carts_and_purchases_kept(
    export: tuple[ShopExport, ShopFiles], prepared: tuple[Prepared, dict[str, object]]
) -> None:
    shop, _ = export
    data, _ = prepared
    counts = data.interactions["event_type"].value_counts().to_dict()
    assert counts == shop.event_counts()  # the humans' views, carts and purchases, all kept
    assert counts["add_to_cart"] > 0 and counts["purchase"] > 0


def test_unmapped_event_names_are_an_error_naming_them_and_their_counts(
    export: tuple[ShopExport, ShopFiles], tmp_path: Path
) -> None:
    shop, files = export
    config = _config(files, EVENT_NAMES, "")
    result = tailor("data", "prepare", "generic", "--config", config, "--out", tmp_path / "o")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    n = shop.events["event"].value_counts()
    line = result.stderr.strip()
    assert f"'addtocart' ({n['addtocart']:,} rows)" in line
    assert f"'transaction' ({n['transaction']:,} rows)" in line
    assert "[interactions.event_names]" in line and not (tmp_path / "o").exists()


def test_dropping_unknown_event_types_is_a_counted_rule(
    export: tuple[ShopExport, ShopFiles],
) -> None:
    shop, files = export
    config = _config(files, EVENT_NAMES, "")
    config.write_text(config.read_text() + 'unknown_event_types = "drop"\n')
    data, report = prepare("generic", config=config)
    n = shop.events["event"].value_counts()
    assert report.dropped["unknown_event_type"] == n["addtocart"] + n["transaction"]
    assert set(data.interactions["event_type"]) == {"view"}


def test_bots_are_removed_by_the_daily_cap(
    export: tuple[ShopExport, ShopFiles], prepared: tuple[Prepared, dict[str, object]]
) -> None:
    shop, files = export
    data, report = prepared
    assert report["dropped"]["bots"] == shop.bot_rows  # type: ignore[index]
    bots = {str(b) for b in shop.bots}
    assert not data.interactions["user_id"].isin(bots).any()
    assert report["rows_out"] == len(shop.events) - shop.bot_rows
    # with the rule off, the bots stay and the report says so
    config = _config(files, "max_events_per_user_day = 1000", "max_events_per_user_day = 0")
    kept, report_off = prepare("generic", config=config)
    assert kept.interactions["user_id"].isin(bots).sum() == shop.bot_rows
    assert len(report_off.warnings) == 1 and "max_events_per_user_day" in report_off.warnings[0]
    assert report_off.warnings[0].split()[1] in bots


def test_millisecond_timestamps_are_read_by_name(
    export: tuple[ShopExport, ShopFiles], prepared: tuple[Prepared, dict[str, object]]
) -> None:
    shop, files = export
    data, _ = prepared
    humans = shop.events[~shop.events["visitorid"].isin(shop.bots)]
    expected = pd.to_datetime(humans["timestamp"], unit="ms").astype("datetime64[ns]")
    assert sorted(data.interactions["timestamp"]) == sorted(expected)
    assert data.interactions["timestamp"].min() >= pd.Timestamp("2024-01-01")
    config = _config(files, 'timestamp_format = "unix_ms"\n\n[interactions.columns]',
                     'timestamp_format = "unix"\n\n[interactions.columns]')  # fmt: skip
    with pytest.raises(DataError) as caught:
        prepare("generic", config=config)
    message = str(caught.value)
    assert f"file {files.events}, column 'timestamp', row 1" in message
    assert 'looks like milliseconds: set timestamp_format = "unix_ms"' in message


def test_sessions_are_the_transaction_ids(
    export: tuple[ShopExport, ShopFiles], prepared: tuple[Prepared, dict[str, object]]
) -> None:
    shop, _ = export
    data, _ = prepared
    inter = data.interactions
    bought = inter["event_type"] == "purchase"
    assert inter.loc[~bought, "session_id"].isna().all()
    expected = shop.events.loc[shop.events["event"] == "transaction", "transactionid"]
    assert sorted(inter.loc[bought, "session_id"]) == sorted(str(t) for t in expected)


def test_categories_stay_text_and_availability_is_a_real_boolean(
    export: tuple[ShopExport, ShopFiles],
    prepared: tuple[Prepared, dict[str, object]],
    tmp_path: Path,
) -> None:
    shop, _ = export
    data, _ = prepared
    data.save(tmp_path)
    items = pd.read_parquet(tmp_path / "items.parquet").set_index("item_id")
    assert items["available"].dtype == bool
    assert pd.api.types.is_string_dtype(items["category"])
    assert not items["category"].str.contains(".", regex=False).any()
    latest_cat = shop.category_at()
    assert (items["category"] == latest_cat.reindex(items.index)).all()  # "330", not "330.0"
    latest = shop.available_at()
    assert (items["available"] == latest.reindex(items.index)).all()
    out_of_stock = set(latest.index[~latest])
    assert len(out_of_stock) > 50
    # every reader of items.parquet agrees: the serving/pipeline catalogue filters them all
    catalog = Catalog.read(tmp_path / "items.parquet")
    assert set(catalog.unavailable) == out_of_stock


def test_the_prepared_folder_keeps_the_property_log(
    prepared: tuple[Prepared, dict[str, object]], tmp_path: Path
) -> None:
    data, _ = prepared
    data.save(tmp_path)
    assert (tmp_path / PROPERTIES_FILE).is_file()
    back = Prepared.load(tmp_path)
    assert back.item_properties is not None
    assert set(back.item_properties["property"]) == {"category", "available", "price"}
    latest = pivot_latest(back.item_properties).set_index("item_id")
    items = back.items.set_index("item_id")
    assert (latest["available"].astype(bool) == items["available"].reindex(latest.index)).all()


def test_flags_written_yes_no_in_any_case(tmp_path: Path) -> None:
    shop = generate_shop(n_visitors=300, n_items=200, flag_values=("Yes", "NO"), seed=5)
    files = shop.write(tmp_path)
    data, _ = prepare("generic", config=files.config)
    items = data.items.set_index("item_id")
    assert items["available"].dtype == bool
    assert (items["available"] == shop.available_at().reindex(items.index)).all()
    assert (~items["available"]).sum() > 0


def test_a_value_that_is_no_flag_names_file_column_and_row(tmp_path: Path) -> None:
    shop = generate_shop(n_visitors=100, n_items=50, seed=6)
    shop.properties["value"] = shop.properties["value"].astype(object)
    where = np.flatnonzero((shop.properties["property"] == "available").to_numpy())[3]
    shop.properties.loc[where, "value"] = "in stock"
    files = shop.write(tmp_path)
    with pytest.raises(DataError) as caught:
        prepare("generic", config=files.config)
    assert str(caught.value) == (
        f"file {files.properties}, column 'value', row {where + 1}: value 'in stock' is not a "
        "flag: write 1/0, true/false or yes/no"
    )


def test_split_sees_the_catalogue_as_it_was_at_the_cut(
    export: tuple[ShopExport, ShopFiles],
    prepared: tuple[Prepared, dict[str, object]],
    tmp_path: Path,
) -> None:
    shop, _ = export
    data, _ = prepared
    data.save(tmp_path / "prepared")
    cut = "2024-02-10"
    result = tailor(
        "data", "split", tmp_path / "prepared", "--strategy", "temporal", "--cut", cut,
        "--out", tmp_path / "split",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cut_ms = int(pd.Timestamp(cut).value // 1_000_000)
    items = pd.read_parquet(tmp_path / "split" / "items.parquet").set_index("item_id")
    assert items["available"].dtype == bool
    then = shop.available_at(cut_ms).reindex(items.index)
    assert (items["available"] == then).all()
    assert (items["category"] == shop.category_at(cut_ms).reindex(items.index)).all()
    assert (then != shop.available_at().reindex(items.index)).any()  # it did change since
    info = json.loads((tmp_path / "split" / "split.json").read_text())["catalogue"]
    assert info["as_of"] == "2024-02-10T00:00:00" and info["rule"] == "the test cut"
    assert info["unavailable"] == {"latest": int((~shop.available_at()).sum()),
                                   "as_of": int((~then).sum())}  # fmt: skip
    # ids, categories and flags are never scaled; the price is
    assert "price_scaled" in items.columns
    assert not {"category_scaled", "available_scaled", "item_id_scaled"} & set(items.columns)


def test_numbers_that_are_ids_or_flags_are_never_scaled() -> None:
    """A catalogue from an older tailor or written by hand holds them as numbers."""
    table = pd.DataFrame(
        {
            "item_id": ["a", "b", "c"],
            "category": [330, 12, 330],
            "available": [1, 0, 1],
            "brand_id": [7, 8, 9],
            "price": [1.0, 2.0, 3.0],
        }
    )
    scaled, scaler = scale_side_features(table, "item_id", ["a", "b", "c"])
    assert scaler is not None and list(scaler.methods) == ["price"]
    assert [c for c in scaled.columns if c.endswith("_scaled")] == ["price_scaled"]


def test_wide_catalogue_types_from_csv(tmp_path: Path) -> None:
    """A wide items.csv: a numeric-looking category with blanks stays text, flags parse in any
    spelling, and a bad flag names its row."""
    (tmp_path / "e.csv").write_text("u,i,t\n1,a,2024-01-01\n2,b,2024-01-02\n")
    (tmp_path / "items.csv").write_text(
        "sku,cat,stock\na,330,Yes\nb,,0\nc,12.0,TRUE\nd,330,false\n"
    )
    config = tmp_path / "shop.toml"
    config.write_text(
        '[interactions]\npath = "e.csv"\nevent_type = "view"\n[interactions.columns]\n'
        'user_id = "u"\nitem_id = "i"\ntimestamp = "t"\n'
        '[items]\npath = "items.csv"\n[items.columns]\nitem_id = "sku"\ncategory = "cat"\n'
        'available = "stock"\n'
    )
    data, _ = prepare("generic", config=config)
    items = data.items.set_index("item_id")
    assert items["category"].tolist() == ["330", "unknown", "12", "330"]
    assert items["available"].tolist() == [True, False, True, False]
    assert items["available"].dtype == bool
    (tmp_path / "items.csv").write_text("sku,cat,stock\na,330,1\nb,1,maybe\n")
    with pytest.raises(DataError, match=r"items.csv, column 'stock', row 2: value 'maybe' is not"):
        prepare("generic", config=config)


def test_the_example_clickstream_config_reads_such_an_export(
    export: tuple[ShopExport, ShopFiles], prepared: tuple[Prepared, dict[str, object]]
) -> None:
    _, files = export
    example = Path(__file__).parents[2] / "configs" / "sources" / "example-clickstream.toml"
    config = files.config.with_name("example-clickstream.toml")
    config.write_text(example.read_text())
    data, report = prepare("generic", config=config)
    expected, expected_report = prepared
    pd.testing.assert_frame_equal(data.interactions, expected.interactions)
    pd.testing.assert_frame_equal(data.items, expected.items)
    assert report.dropped == expected_report["dropped"]
