"""A shop's own clickstream export end to end, through the commands alone (no pandas step):
``tailor data prepare generic --config`` -> ``data split`` -> ``fit`` -> ``recommend`` ->
``evaluate``, on the export of :mod:`tailor.testing.shop`."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from tailor.cli import main
from tailor.testing.shop import ShopExport, ShopFiles, generate_shop

CUT = "2024-02-12"
CUT_MS = int(pd.Timestamp(CUT).value // 1_000_000)


class _Main(click.Command):
    def main(self, args: object = None, prog_name: str | None = None, **extra: object) -> None:
        main([str(a) for a in args or ()])  # type: ignore[attr-defined]


def tailor(*args: object) -> Result:
    """``tailor ARGS`` in-process through tailor's entry point; fails the test unless exit 0."""
    result = CliRunner().invoke(_Main("tailor"), [str(a) for a in args])
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[ShopExport, ShopFiles, Path]:
    """The export, written as CSV files + shop.toml, and every command run on it once."""
    shop = generate_shop(seed=21)
    root = tmp_path_factory.mktemp("e2e")
    files = shop.write(root / "export")
    tailor("data", "prepare", "generic", "--config", files.config, "--out", root / "prepared")
    tailor(
        "data", "split", root / "prepared", "--strategy", "temporal", "--cut", CUT,
        "--out", root / "split",
    )  # fmt: skip
    split = root / "split"
    tailor(
        "fit", "--train", split / "train.parquet", "--validation", split / "validation.parquet",
        "--model", "ease", "--out", root / "model",
    )  # fmt: skip
    tailor(
        "recommend", "--model-dir", root / "model", "--users", split / "test.parquet",
        "--k", "20", "--out", root / "recs.parquet",
    )  # fmt: skip
    tailor(
        "evaluate", "--recs", root / "recs.parquet", "--truth", split / "test.parquet",
        "--split", split, "--k", "10,20", "--out", root / "eval",
    )  # fmt: skip
    return shop, files, root


def test_event_types_are_mapped_and_every_cart_and_purchase_kept(
    run: tuple[ShopExport, ShopFiles, Path],
) -> None:
    shop, _, root = run
    inter = pd.read_parquet(root / "prepared" / "interactions.parquet")
    assert inter["event_type"].value_counts().to_dict() == shop.event_counts()
    parts = [pd.read_parquet(root / "split" / f"{p}.parquet") for p in ("train", "validation")]
    parts.append(pd.read_parquet(root / "split" / "test.parquet"))
    assert pd.concat(parts)["event_type"].value_counts().to_dict() == shop.event_counts()


def test_bots_are_removed(run: tuple[ShopExport, ShopFiles, Path]) -> None:
    shop, _, root = run
    report = json.loads((root / "prepared" / "report.json").read_text())
    assert report["dropped"]["bots"] == shop.bot_rows > 0
    inter = pd.read_parquet(root / "prepared" / "interactions.parquet")
    assert not inter["user_id"].isin({str(b) for b in shop.bots}).any()


def test_out_of_stock_items_are_never_recommended(
    run: tuple[ShopExport, ShopFiles, Path],
) -> None:
    """The model fitted on the split serves with the catalogue as of the cut (what it would have
    been served with then): no item out of stock at the cut is recommended."""
    shop, _, root = run
    recs = pd.read_parquet(root / "recs.parquet")
    assert len(recs) > 0 and (recs["source"] == "model").any()
    at_cut = shop.available_at(CUT_MS)
    out_of_stock = set(at_cut.index[~at_cut])
    assert len(out_of_stock) > 50
    catalogue = pd.read_parquet(root / "model" / "items.parquet")
    assert set(catalogue.loc[~catalogue["available"], "item_id"]) == out_of_stock
    assert not recs["item_id"].isin(out_of_stock).any()
    # without the filter some of them would be there: they are popular enough to be listed
    views = pd.read_parquet(root / "split" / "train.parquet")["item_id"].value_counts()
    assert views.head(100).index.isin(out_of_stock).any()


def test_a_production_model_serves_with_the_latest_catalogue(
    run: tuple[ShopExport, ShopFiles, Path],
) -> None:
    """Fitted on all prepared data, the model folder holds the latest values: nothing out of
    stock at the end of the export is recommended."""
    shop, _, root = run
    prepared = root / "prepared"
    tailor("fit", "--train", prepared / "interactions.parquet", "--model", "ease",
           "--out", root / "production")  # fmt: skip
    tailor("recommend", "--model-dir", root / "production", "--users", "all", "--k", "20",
           "--out", root / "production.parquet")  # fmt: skip
    recs = pd.read_parquet(root / "production.parquet")
    latest = shop.available_at()
    out_of_stock = set(latest.index[~latest])
    assert len(recs) > 0 and not recs["item_id"].isin(out_of_stock).any()


def test_category_ids_stay_text_everywhere(run: tuple[ShopExport, ShopFiles, Path]) -> None:
    shop, _, root = run
    for folder in ("prepared", "split", "model"):
        cats = pd.read_parquet(root / folder / "items.parquet").set_index("item_id")["category"]
        assert cats.str.fullmatch(r"\d+").all(), folder  # "330", never "330.0"
    model_cats = pd.read_parquet(root / "model" / "items.parquet").set_index("item_id")["category"]
    assert (model_cats == shop.category_at(CUT_MS).reindex(model_cats.index)).all()
    # the category filter of `tailor recommend` takes the shop's category id as written
    category = str(model_cats.value_counts().index[0])
    tailor("recommend", "--model-dir", root / "model", "--users", root / "split" / "test.parquet",
           "--k", "5", "--category", category, "--out", root / "in_category.parquet")  # fmt: skip
    recs = pd.read_parquet(root / "in_category.parquet")
    assert len(recs) > 0 and (recs["item_id"].map(model_cats) == category).all()


def test_a_users_file_with_float_ids_gets_the_model_s_answers(
    run: tuple[ShopExport, ShopFiles, Path],
) -> None:
    """Ids loaded as floats (a column with blanks in pandas) are the same users: 17850.0 is
    "17850" for `tailor recommend` as for `tailor fit`."""
    _, _, root = run
    test = pd.read_parquet(root / "split" / "test.parquet")
    users = pd.unique(test["user_id"])[:200]
    floats = pd.DataFrame({"user_id": np.append(users.astype(np.float64), np.nan)})
    floats.to_parquet(root / "float_users.parquet")
    floats.to_csv(root / "float_users.csv", index=False)  # written as 17850.0
    assert f"{users[0]}.0" in (root / "float_users.csv").read_text()
    as_text = pd.DataFrame({"user_id": users})
    as_text.to_parquet(root / "text_users.parquet")
    outs = {}
    for name in ("float_users.parquet", "float_users.csv", "text_users.parquet"):
        out = root / f"recs_{name.replace('.', '_')}.parquet"
        tailor("recommend", "--model-dir", root / "model", "--users", root / name, "--k", "10",
               "--out", out)  # fmt: skip
        outs[name] = pd.read_parquet(out)
    expected = outs["text_users.parquet"]
    assert (expected["source"] == "model").sum() > 0
    for name in ("float_users.parquet", "float_users.csv"):
        pd.testing.assert_frame_equal(outs[name], expected)


def test_evaluate_grades_the_lists(run: tuple[ShopExport, ShopFiles, Path]) -> None:
    _, _, root = run
    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    text = json.dumps(metrics)
    assert "ndcg" in text.lower()
    assert (root / "eval" / "report.html").is_file()
