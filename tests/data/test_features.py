"""Imputer and Scaler: exact values on planted data, fitted on train only, JSON round trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailor.data.features import (
    Imputer,
    Scaler,
    default_strategies,
    load_json,
    save_json,
    write_side_tables,
)
from tailor.errors import ConfigError, DataError, NotFittedError


def _train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "country": ["UK", "FR", "UK", None, "FR", "UK"],
            "age": [20.0, np.nan, 40.0, 30.0, 35.0, 25.0],
            "member": pd.array([True, None, False, True, True, None], dtype="boolean"),
            "genre": ["a", "b", None, "b", "a", "c"],
        }
    )


def _test() -> pd.DataFrame:
    # test rows whose own statistics differ from train's: the fit must not see them
    return pd.DataFrame(
        {
            "country": [None, "DE", "DE", "DE"],
            "age": [np.nan, 90.0, 95.0, 99.0],
            "member": pd.array([None, False, False, False], dtype="boolean"),
            "genre": [None, "z", "z", "z"],
        }
    )


STRATEGIES = {
    "country": "most_frequent",
    "age": "median",
    "member": "most_frequent",
    "genre": "constant",
}


def test_default_strategies_by_type() -> None:
    assert default_strategies(_train()) == STRATEGIES | {"country": "constant"}
    assert default_strategies(_train(), ["age"]) == {"age": "median"}


def test_imputer_learns_exact_values_from_train_only() -> None:
    imputer = Imputer(STRATEGIES).fit(_train())
    assert imputer.values == {"country": "UK", "age": 30.0, "member": True, "genre": "unknown"}
    filled = imputer.transform(_test())
    assert filled.iloc[0].tolist() == ["UK", 30.0, True, "unknown"]
    assert filled.iloc[1:].equals(_test().iloc[1:])  # present values are left alone
    # fitting on train + test would have learned DE / 37.5 / False: the test rows changed nothing
    both = Imputer(STRATEGIES).fit(pd.concat([_train(), _test()], ignore_index=True))
    assert both.values["country"] == "DE" and both.values["age"] == 37.5
    assert _test()["country"].isna().sum() == 1  # transform returned a copy


def test_imputer_tie_goes_to_smallest_value_and_constant_is_configurable() -> None:
    frame = pd.DataFrame({"c": ["b", "a", "b", "a", None]})
    assert Imputer({"c": "most_frequent"}).fit(frame).values == {"c": "a"}
    custom = Imputer({"c": "constant"}, fill_value="n/a").fit(frame)
    assert custom.transform(frame)["c"].tolist() == ["b", "a", "b", "a", "n/a"]


def test_imputer_fills_categorical_columns() -> None:
    frame = pd.DataFrame({"c": pd.Categorical(["x", None, "y"])})
    out = Imputer({"c": "constant"}).fit(frame).transform(frame)
    assert out["c"].tolist() == ["x", "unknown", "y"]
    assert "unknown" in out["c"].cat.categories


def test_imputer_round_trip(tmp_path: Path) -> None:
    imputer = Imputer(STRATEGIES).fit(_train())
    again = Imputer.from_dict(json.loads(json.dumps(imputer.to_dict())))
    assert again == imputer
    pd.testing.assert_frame_equal(again.transform(_test()), imputer.transform(_test()))
    save_json(imputer, tmp_path / "imputer.json")
    assert load_json(tmp_path / "imputer.json") == imputer


def test_imputer_errors() -> None:
    with pytest.raises(ConfigError, match="unknown imputation strategy 'mean' for column 'age'"):
        Imputer({"age": "mean"})
    with pytest.raises(DataError, match="column 'height': unknown column"):
        Imputer({"height": "median"}).fit(_train())
    fitted = Imputer({"age": "median"}).fit(_train())
    with pytest.raises(DataError, match="column 'age': unknown column"):
        fitted.transform(_train().drop(columns="age"))
    with pytest.raises(NotFittedError):
        Imputer({"age": "median"}).transform(_train())
    with pytest.raises(DataError, match="column 'country': the median needs a numeric column"):
        Imputer({"country": "median"}).fit(_train())
    with pytest.raises(DataError, match="column 'age': the constant 'unknown' does not fit"):
        Imputer({"age": "constant"}).fit(_train())
    with pytest.raises(DataError, match="all missing"):
        Imputer({"x": "most_frequent"}).fit(pd.DataFrame({"x": [None, None]}))
    with pytest.raises(ConfigError, match="not a saved imputer"):
        Imputer.from_dict({"kind": "scaler", "columns": {}})


def test_scaler_exact_values() -> None:
    train = pd.DataFrame({"price": [1.0, 2.0, 3.0, 4.0], "qty": [1, 2, 3, 4]})
    scaler = Scaler({"price": "minmax", "qty": "zscore"}).fit(train)
    mean, std = 2.5, math.sqrt(1.25)  # population std of 1, 2, 3, 4
    assert scaler.params == {"price": (1.0, 3.0), "qty": (mean, std)}
    out = scaler.transform(train)
    assert out["price"].tolist() == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    assert out["qty"].tolist() == pytest.approx([(x - mean) / std for x in (1, 2, 3, 4)])
    back = scaler.inverse_transform(out)
    assert back["price"].tolist() == pytest.approx([1.0, 2.0, 3.0, 4.0])


def test_scaler_is_fitted_on_train_only() -> None:
    train = pd.DataFrame({"price": [1.0, 2.0, 3.0, 4.0]})
    test = pd.DataFrame({"price": [100.0, np.nan, -2.0]})
    scaler = Scaler({"price": "minmax"}).fit(train)
    out = scaler.transform(test)["price"].tolist()
    assert out[0] == pytest.approx(33.0) and math.isnan(out[1]) and out[2] == pytest.approx(-1.0)
    assert Scaler({"price": "minmax"}).fit(pd.concat([train, test])).params["price"] == (
        -2.0,
        102.0,
    )
    assert scaler.params["price"] == (1.0, 3.0)


def test_scaler_constant_column_has_unit_scale() -> None:
    train = pd.DataFrame({"a": [5.0, 5.0, 5.0], "b": [5.0, 5.0, 5.0]})
    scaler = Scaler({"a": "minmax", "b": "zscore"}).fit(train)
    assert scaler.params == {"a": (5.0, 1.0), "b": (5.0, 1.0)}
    out = scaler.transform(pd.DataFrame({"a": [5.0, 7.0], "b": [5.0, 3.0]}))
    assert out["a"].tolist() == [0.0, 2.0]
    assert out["b"].tolist() == [0.0, -2.0]


def test_scaler_round_trip(tmp_path: Path) -> None:
    train = pd.DataFrame({"price": [1.0, 2.5, 9.0], "qty": [3, 1, 2]})
    scaler = Scaler({"price": "zscore", "qty": "minmax"}).fit(train)
    again = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert again == scaler
    pd.testing.assert_frame_equal(again.transform(train), scaler.transform(train))
    save_json(scaler, tmp_path / "scaler.json")
    assert load_json(tmp_path / "scaler.json") == scaler


def test_scaler_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown scaling method 'log'"):
        Scaler({"price": "log"})
    with pytest.raises(DataError, match="column 'price': unknown column"):
        Scaler({"price": "minmax"}).fit(pd.DataFrame({"qty": [1.0]}))
    with pytest.raises(DataError, match="column 'name': scaling needs a numeric column"):
        Scaler({"name": "minmax"}).fit(pd.DataFrame({"name": ["a", "b"]}))
    with pytest.raises(DataError, match="all missing"):
        Scaler({"x": "zscore"}).fit(pd.DataFrame({"x": [np.nan, np.nan]}))
    with pytest.raises(NotFittedError):
        Scaler({"x": "zscore"}).transform(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ConfigError, match="invalid scale"):
        Scaler.from_dict(
            {"kind": "scaler", "columns": {"x": {"method": "minmax", "offset": 0, "scale": 0}}}
        )
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataError, match="not a saved imputer or scaler"):
        load_json(tmp_path / "x.json")


# ---- write_side_tables: what a split carries through (tailor data split) ----


def _prepared_side_tables(folder: Path) -> None:
    folder.mkdir()
    pd.DataFrame({"item_id": list("abcd"), "price": [10.0, 20.0, 30.0, 100.0]}).to_parquet(
        folder / "items.parquet", index=False
    )
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "age": [20.0, 40.0, 90.0]})
    users.assign(country=["UK", "FR", "UK"]).to_parquet(folder / "users.parquet", index=False)


TRAIN = pd.DataFrame({"user_id": ["u1", "u2", "u1"], "item_id": ["a", "b", "c"]})


def test_side_tables_are_scaled_with_the_training_rows_statistics(tmp_path: Path) -> None:
    _prepared_side_tables(tmp_path / "prepared")
    out = tmp_path / "split"
    out.mkdir()
    written = write_side_tables(tmp_path / "prepared", out, TRAIN, "minmax")
    assert written == ["items.parquet", "users.parquet"]
    items = pd.read_parquet(out / "items.parquet")
    assert items["price"].tolist() == [10.0, 20.0, 30.0, 100.0]
    assert items["price_scaled"].tolist() == pytest.approx([0.0, 0.5, 1.0, 4.5])  # train: a-c
    users = pd.read_parquet(out / "users.parquet")
    assert users["age_scaled"].tolist() == pytest.approx([0.0, 1.0, 3.5])  # train: u1, u2
    assert "country_scaled" not in users.columns
    assert isinstance(load_json(out / "items_scaler.json"), Scaler)
    assert (
        load_json(out / "users_scaler.json").to_dict()
        == Scaler({"age": "minmax"}, {"age": (20.0, 20.0)}).to_dict()
    )


def test_side_tables_unscaled_and_the_catalogue_as_of_the_cut(tmp_path: Path) -> None:
    prepared = tmp_path / "prepared"
    _prepared_side_tables(prepared)
    out = tmp_path / "split"
    out.mkdir()
    catalogue = pd.DataFrame({"item_id": ["a", "b"], "price": [11.0, 21.0]})
    assert write_side_tables(prepared, out, TRAIN, None, catalogue) == [
        "items.parquet",
        "users.parquet",
    ]
    assert pd.read_parquet(out / "items.parquet").equals(catalogue)
    assert (out / "users.parquet").read_bytes() == (prepared / "users.parquet").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["items.parquet", "users.parquet"]
    (prepared / "users.parquet").unlink()
    again = tmp_path / "again"
    again.mkdir()
    assert write_side_tables(prepared, again, TRAIN, "zscore") == ["items.parquet"]
    assert sorted(p.name for p in again.iterdir()) == ["items.parquet", "items_scaler.json"]
