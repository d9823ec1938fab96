"""``tailor data split`` on a small prepared directory."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from tailor.cli.data_split import split
from tailor.errors import DataError


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    """A prepared directory: 10 interactions on days 0-9, a catalog and user profiles."""
    directory = tmp_path / "prepared"
    directory.mkdir()
    users = ["u1", "u2", "u1", "u2", "u3", "u1", "u2", "u4", "u3", "u1"]
    items = ["a", "b", "b", "a", "a", "c", "c", "d", "b", "a"]
    pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "timestamp": pd.to_datetime(list(range(10)), unit="D", origin="2024-01-01"),
            "event_type": "purchase",
            "value": [float(k) for k in range(10)],
        }
    ).to_parquet(directory / "interactions.parquet", index=False)
    pd.DataFrame({"item_id": ["a", "b", "c", "d"], "category": ["x", "x", "y", "y"]}).to_parquet(
        directory / "items.parquet", index=False
    )
    pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "country": ["UK"] * 4}).to_parquet(
        directory / "users.parquet", index=False
    )
    return directory


def test_temporal_split_writes_parts_stats_and_copies(prepared: Path, tmp_path: Path) -> None:
    out = tmp_path / "split"
    result = CliRunner().invoke(
        split,
        [str(prepared), "--strategy", "temporal", "--cut", "2024-01-08", "--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        ".tailor-output.json",
        "items.parquet",
        "split.json",
        "test.parquet",
        "train.parquet",
        "users.parquet",
        "validation.parquet",
    ]
    train = pd.read_parquet(out / "train.parquet")
    validation = pd.read_parquet(out / "validation.parquet")
    test = pd.read_parquet(out / "test.parquet")
    # days 0-6 before the cut; validation = the last 15 %: t_(floor(0.85 * 7)) = day 5 onwards
    assert train["value"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert validation["value"].tolist() == [5.0, 6.0]
    assert test["value"].tolist() == [7.0, 8.0, 9.0]
    # test rows (u4, d), (u3, b), (u1, a) against train + validation
    assert test["user_segment"].tolist() == ["cold", "warm", "warm"]
    assert test["item_segment"].tolist() == ["cold", "warm", "warm"]
    assert validation["item_segment"].tolist() == ["cold", "cold"]  # c appears first on day 5
    info = json.loads((out / "split.json").read_text())
    assert info["strategy"] == "temporal"
    assert info["parameters"] == {"cut": "2024-01-08T00:00:00", "quantile": None}
    assert info["validation"] == {
        "strategy": "temporal",
        "fraction": 0.15,
        "cut": "2024-01-06T00:00:00",
    }
    assert info["parts"]["test"]["segments"]["user"]["cold"] == {"rows": 1, "users": 1, "items": 1}
    assert "cold users" in result.output
    assert "wrote" in result.output and "test 3" in result.output
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "items.parquet"), pd.read_parquet(prepared / "items.parquet")
    )


def test_validation_zero_disables_it(prepared: Path, tmp_path: Path) -> None:
    out = tmp_path / "split"
    args = ["--strategy", "user-temporal", "--last-n", "1", "--validation-fraction", "0"]
    result = CliRunner().invoke(split, [str(prepared), *args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not (out / "validation.parquet").exists()
    info = json.loads((out / "split.json").read_text())
    assert info["validation"] is None
    # each user's last row, except u4 who has only one
    assert pd.read_parquet(out / "test.parquet")["value"].tolist() == [6.0, 8.0, 9.0]


def test_defaults_per_strategy(prepared: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        split, [str(prepared), "--strategy", "temporal", "--out", str(tmp_path / "t")]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "t" / "split.json").read_text())["parameters"]["cut"] == (
        "2024-01-09T00:00:00"  # quantile 0.8: t_8
    )
    outs = []
    for name in ("r1", "r2"):
        result = CliRunner().invoke(
            split,
            [str(prepared), "--strategy", "random", "--seed", "5", "--out", str(tmp_path / name)],
        )
        assert result.exit_code == 0, result.output
        outs.append(pd.read_parquet(tmp_path / name / "test.parquet"))
    pd.testing.assert_frame_equal(outs[0], outs[1])
    assert len(outs[0]) == 2  # test_fraction 0.2 of 10 rows


def test_option_of_another_strategy_is_a_usage_error(prepared: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        split,
        [str(prepared), "--strategy", "random", "--cut", "2024-01-08", "--out", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "--cut applies to --strategy temporal only" in result.output


def test_missing_interactions_is_a_data_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        split, [str(tmp_path), "--strategy", "temporal", "--out", str(tmp_path / "o")]
    )
    assert isinstance(result.exception, DataError)
    assert "interactions.parquet" in str(result.exception)
    assert "no prepared interactions here" in str(result.exception)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        # training items a, b, c: mean 20, population std sqrt(200 / 3)
        ("zscore", [-(1.5**0.5), 0.0, 1.5**0.5, 80 / (200 / 3) ** 0.5]),
        ("minmax", [0.0, 0.5, 1.0, 4.5]),  # (x - 10) / (30 - 10)
    ],
)
def test_numeric_attributes_are_scaled_with_training_statistics(
    prepared: Path, tmp_path: Path, method: str, expected: list[float]
) -> None:
    catalog = pd.DataFrame({"item_id": list("abcd"), "price": [10.0, 20.0, 30.0, 100.0]})
    catalog.to_parquet(prepared / "items.parquet", index=False)
    out = tmp_path / "split"
    args = [str(prepared), "--strategy", "temporal", "--cut", "2024-01-08", "--out", str(out)]
    result = CliRunner().invoke(split, [*args, "--validation-fraction", "0", "--scale", method])
    assert result.exit_code == 0, result.output
    # train holds days 0-6 (items a, b, c); d is only in test, yet scaled with train statistics
    items = pd.read_parquet(out / "items.parquet")
    assert items["price"].tolist() == [10.0, 20.0, 30.0, 100.0]
    assert items["price_scaled"].tolist() == pytest.approx(expected)
    stored = json.loads((out / "items_scaler.json").read_text())
    assert "price" in json.dumps(stored)
    assert not (out / "users_scaler.json").exists()  # users have no numeric attribute


def test_scale_none_copies_tables_unchanged(prepared: Path, tmp_path: Path) -> None:
    pd.DataFrame({"item_id": list("abcd"), "price": [1.0, 2.0, 3.0, 4.0]}).to_parquet(
        prepared / "items.parquet", index=False
    )
    out = tmp_path / "split"
    args = [str(prepared), "--strategy", "random", "--scale", "none", "--out", str(out)]
    assert CliRunner().invoke(split, args).exit_code == 0
    assert list(pd.read_parquet(out / "items.parquet").columns) == ["item_id", "price"]
