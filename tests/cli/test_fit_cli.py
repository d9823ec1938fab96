from __future__ import annotations

from math import sqrt
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest

from tailor.cli.fit import parse_params
from tailor.data.dataset import Dataset
from tailor.models.artifacts import load_model
from tailor.models.model_dir import validation_dataset
from tailor.testing.cli import run_cli

# the 4-user toy matrix of tests/models/conftest.py: A: a b, B: a b c, C: b c, D: c d
PAIRS = [("A", "a"), ("A", "b"), ("B", "a"), ("B", "b"), ("B", "c"), ("C", "b"), ("C", "c")]
PAIRS += [("D", "c"), ("D", "d")]


def _train(folder: Path, *, fmt: str = "csv", items: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        {
            "user_id": [u for u, _ in PAIRS],
            "item_id": [i for _, i in PAIRS],
            "timestamp": pd.date_range("2024-01-01", periods=len(PAIRS), freq="D"),
        }
    )
    path = folder / f"train.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path, index=False)
    if items:
        catalog = pd.DataFrame({"item_id": list("abcde"), "category": list("xxyyz")})
        catalog.to_parquet(folder / "items.parquet", index=False)
    return path


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


PLAIN_KNN = ["--param", "k=100", "--param", "shrink=0", "--param", "weighting=none"]
"""Plain cosine, for the hand-worked scores (the defaults keep 16 BM25-weighted neighbours)."""


def test_fit_then_recommend_exact_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    train = _train(tmp_path / "split", items=True)
    model_dir = tmp_path / "model"
    args = ["fit", "--train", train, "--model", "itemknn", *PLAIN_KNN, "--out", model_dir]
    assert run_cli(*args) == 0
    assert "itemknn" in capsys.readouterr().out
    assert (model_dir / "manifest.json").is_file()
    assert load_model(model_dir / "popularity").name == "popularity"
    assert pd.read_parquet(model_dir / "items.parquet")["item_id"].tolist() == list("abcde")

    pd.DataFrame({"user_id": ["C", "Z", "D", "C"]}).to_csv(tmp_path / "users.csv", index=False)
    out = tmp_path / "recs.parquet"
    args = ["recommend", "--model-dir", model_dir, "--users", tmp_path / "users.csv", "--k", "2"]
    assert run_cli(*args, "--out", out) == 0
    recs = pd.read_parquet(out)
    assert list(recs.columns) == ["user_id", "item_id", "rank", "score", "source"]
    # cosine: C (b, c) -> a = 2/sqrt(6) + 1/sqrt(6), d = 1/sqrt(3); D (c, d) -> b = 2/3,
    # a = 1/sqrt(6); the unknown Z gets the most popular items (b and c, 3 users each)
    assert recs[["user_id", "item_id", "rank", "source"]].values.tolist() == [
        ["C", "a", 1, "model"],
        ["C", "d", 2, "model"],
        ["Z", "b", 1, "cold_start"],
        ["Z", "c", 2, "cold_start"],
        ["D", "b", 1, "model"],
        ["D", "a", 2, "model"],
    ]
    expected = [3 / sqrt(6), 1 / sqrt(3), 3.0, 3.0, 2 / 3, 1 / sqrt(6)]
    assert recs["score"].tolist() == pytest.approx(expected, abs=1e-6)


def test_keep_seen_and_all_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train = _train(tmp_path, fmt="parquet")
    args = ["fit", "--train", train, "--model", "itemknn", *PLAIN_KNN, "--out", tmp_path / "m"]
    assert run_cli(*args) == 0
    out = tmp_path / "recs.csv"
    args = ["recommend", "--model-dir", tmp_path / "m", "--users", "all", "--k", "3"]
    assert run_cli(*args, "--keep-seen", "--out", out) == 0
    recs = pd.read_csv(out, dtype={"user_id": str, "item_id": str})
    assert sorted(recs["user_id"].unique()) == ["A", "B", "C", "D"]
    assert set(recs["source"]) == {"model"}
    # C: a = 1.22, then b and c tie at 2/3 (seen, but kept), b first by catalogue order
    assert recs.loc[recs["user_id"] == "C", "item_id"].tolist() == ["a", "b", "c"]


def test_params_reach_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train = _train(tmp_path)
    args = ["fit", "--train", train, "--model", "als", "--out", tmp_path / "m"]
    params = ["--param", "factors=3", "--param", "regularization=0.5", "--param", "binary=true"]
    assert run_cli(*args, *params, "--param", "seed=4") == 0
    model = load_model(tmp_path / "m")
    assert (model.config.factors, model.config.regularization) == (3, 0.5)
    assert model.config.binary is True and model.config.seed == 4
    assert model.item_factors.shape == (4, 3)


def test_validation_file_is_mapped_to_training_vocabularies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    train = _train(tmp_path)
    val = pd.DataFrame(
        {
            "user_id": ["D", "A", "new", "C"],
            "item_id": ["a", "d", "a", "zzz"],
            "timestamp": pd.to_datetime(["2024-02-01"] * 4),
        }
    )
    val.to_csv(tmp_path / "val.csv", index=False)
    data = Dataset.from_frame(pd.read_csv(train, dtype=str).assign(timestamp=0))
    mapped = validation_dataset(val, data)
    assert mapped.users is data.users and mapped.items is data.items
    pairs = list(
        zip(
            data.users.id_of(mapped.interactions.user_nums),
            data.items.id_of(mapped.interactions.item_nums),
            strict=True,
        )
    )
    assert pairs == [("D", "a"), ("A", "d")]
    args = ["fit", "--train", train, "--model", "ease", "--validation", tmp_path / "val.csv"]
    assert run_cli(*args, "--out", tmp_path / "m") == 0
    assert "2 rows (2 cold rows left out)" in capsys.readouterr().out


def test_parse_params() -> None:
    got = parse_params(("k=5", "alpha=0.25", "binary=false", "half=null", "w=cosine", "l=[1]"))
    assert got == {"k": 5, "alpha": 0.25, "binary": False, "half": None, "w": "cosine", "l": "[1]"}
    with pytest.raises(click.BadParameter):
        parse_params(("k",))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "nope"], "unknown model 'nope'; choose one of"),
        (["--model", "itemknn", "--param", "kk=3"], "valid keys: alpha, binary, bm25_b"),
        (["--model", "itemknn", "--param", "k=-1"], "invalid parameters for model 'itemknn': k"),
        (["--model", "ease", "--items", "missing.parquet"], "missing.parquet: file not found"),
    ],
)
def test_fit_bad_inputs_give_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    train = _train(tmp_path)
    code = run_cli("fit", "--train", train, *extra, "--out", tmp_path / "m")
    assert code == 2
    assert message in _error_line(capsys)
    assert not (tmp_path / "m").exists()


def test_bad_training_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id\n1,2\n")
    assert run_cli("fit", "--train", bad, "--model", "ease", "--out", tmp_path / "m") == 2
    assert "column 'timestamp': required column is missing" in _error_line(capsys)
    bad.write_text("user_id,item_id,timestamp\n1,2,yesterday\n")
    assert run_cli("fit", "--train", bad, "--model", "ease", "--out", tmp_path / "m") == 2
    assert "row 1: cannot parse timestamp 'yesterday'" in _error_line(capsys)


def test_recommend_bad_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["recommend", "--users", "all"]
    assert run_cli(*base, "--model-dir", tmp_path / "none", "--out", tmp_path / "r.csv") == 2
    assert "is not a tailor model directory" in _error_line(capsys)
    train = _train(tmp_path)
    assert run_cli("fit", "--train", train, "--model", "ease", "--out", tmp_path / "m") == 0
    capsys.readouterr()
    assert run_cli(*base, "--model-dir", tmp_path / "m", "--out", tmp_path / "r.txt") == 2
    assert "unsupported output format" in _error_line(capsys)
    pd.DataFrame({"customer": ["A"]}).to_csv(tmp_path / "u.csv", index=False)
    args = ["recommend", "--model-dir", tmp_path / "m", "--users", tmp_path / "u.csv"]
    assert run_cli(*args, "--out", tmp_path / "r.csv") == 2
    assert "column 'user_id': required column is missing" in _error_line(capsys)
    assert not np.any([p.name == "r.csv" for p in tmp_path.iterdir()])


def test_iterative_fit_with_validation_writes_learning_curve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 30, n).astype(str),
            "item_id": rng.integers(0, 20, n).astype(str),
            "value": rng.integers(1, 6, n).astype(float),
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )
    frame.iloc[:300].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[300:].to_csv(tmp_path / "val.csv", index=False)
    args = ["fit", "--train", tmp_path / "train.csv", "--validation", tmp_path / "val.csv"]
    params = ["--param", "epochs=30", "--param", "regularization=0.0", "--param", "seed=1"]
    params += ["--param", "loss=rmse"]  # the default loss ranks (warp); this is about ratings
    assert run_cli(*args, "--model", "mf-sgd", *params, "--out", tmp_path / "m") == 0
    out = capsys.readouterr().out
    # random ratings: no signal to learn, so validation RMSE gets worse while train improves
    assert "Learning curve (overfitting): Validation rmse was best at epoch" in out
    page = (tmp_path / "m" / "learning_curve.html").read_text()
    assert "Learning curve: overfitting" in page and "plotly" in page


def test_no_learning_curve_without_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["fit", "--train", _train(tmp_path), "--model", "mf-sgd", "--out", tmp_path / "m"]
    assert run_cli(*args) == 0
    assert not (tmp_path / "m" / "learning_curve.html").exists()


# ---------------------------------------------------------------------------------------------
# issue 10: fit --refit + recommend + evaluate reproduce evaluate_model with the same refit
def _planted_split(folder: Path) -> Path:
    """A temporal split (validation carved from train) of a seeded shop with titles."""
    from tailor.data.split import temporal_split, with_validation
    from tailor.testing.data import random_frame

    frame = random_frame(n_users=60, n_items=30, n=1500, seed=3)
    split = with_validation(temporal_split(frame, quantile=0.8))
    split.save(folder)
    items = pd.DataFrame(
        {"item_id": [f"i{k}" for k in range(30)], "title": [f"Item {k}" for k in range(30)]}
    )
    items.to_parquet(folder / "items.parquet", index=False)
    return folder


def test_refit_then_evaluate_equals_evaluate_model_with_the_same_refit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from tailor.data.split import Split
    from tailor.evaluation import evaluate_model
    from tailor.evaluation.truth import unseen_only
    from tailor.models import Popularity, create_model

    split_dir = _planted_split(tmp_path / "split")
    model_dir, recs, out = tmp_path / "model", tmp_path / "recs.parquet", tmp_path / "eval"
    args = ["fit", "--train", split_dir / "train.parquet", "--model", "ease"]
    args += ["--validation", split_dir / "validation.parquet", "--param", "regularization=50"]
    assert run_cli(*args, "--refit", "--out", model_dir) == 0
    assert "Refit: the saved model is fitted on train + validation" in capsys.readouterr().out
    args = ["recommend", "--model-dir", model_dir, "--users", split_dir / "test.parquet"]
    assert run_cli(*args, "--k", "10", "--out", recs) == 0
    args = ["evaluate", "--recs", recs, "--truth", split_dir / "test.parquet"]
    args += ["--split", split_dir, "--novel-only", "--k", "5,10", "--out", out]
    assert run_cli(*args, "--model-dir", model_dir) == 0
    cli = json.loads((out / "metrics.json").read_text())
    assert "refitted on train + validation" in cli["about"]["fitted on"]

    split = Split.load(split_dir)
    fit_frame = split.fit_frame()
    items = pd.read_parquet(split_dir / "items.parquet")
    data = Dataset.from_frame(fit_frame, item_features=items)
    model = create_model("ease", {"regularization": 50}).fit(data)
    expected = evaluate_model(
        model,
        split,
        (5, 10),
        n=10,
        fallback=Popularity().fit(data),
        items=items,
        truth_filter=lambda test: unseen_only(test, fit_frame),
    ).metrics
    keys = [k for k, v in expected.items() if "@" in k or k.startswith("n_users")]
    assert {k: cli[k] for k in keys} == {k: expected[k] for k in keys}  # exact
    assert cli["ci"] == expected["ci"]
    assert json.dumps(cli["segments"]) == json.dumps(expected["segments"])
    assert cli["n_users"] > 20 and cli["ndcg@10"] > 0
    fit_record = json.loads((model_dir / "fit.json").read_text())
    assert fit_record["refit"] is True and fit_record["refit_parameters"] == {"regularization": 50}
    assert fit_record["rows"]["refit"] == len(fit_frame) == len(data.interactions)


def test_refit_keeps_the_epoch_count_of_early_stopping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from tailor.cli.fit import fit_validated, refit_frame
    from tailor.data.io import read_interactions
    from tailor.models import create_model

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 30, n).astype(str),
            "item_id": rng.integers(0, 20, n).astype(str),
            "value": rng.integers(1, 6, n).astype(float),
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )
    frame.iloc[:300].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[300:].to_csv(tmp_path / "val.csv", index=False)
    params = {"epochs": 40, "early_stopping_patience": 3, "regularization": 0.0, "seed": 1}
    params["loss"] = "rmse"  # the default loss ranks (warp); this is about ratings
    train, val = read_interactions(tmp_path / "train.csv"), read_interactions(tmp_path / "val.csv")
    first, _ = fit_validated(train, "mf-sgd", params, val)
    best = first.best_epoch  # type: ignore[attr-defined]
    assert 1 <= best < 40  # random ratings: validation RMSE stops improving early

    args = ["fit", "--train", tmp_path / "train.csv", "--validation", tmp_path / "val.csv"]
    flags = [x for k, v in params.items() for x in ("--param", f"{k}={v}")]
    assert run_cli(*args, "--model", "mf-sgd", *flags, "--refit", "--out", tmp_path / "m") == 0
    record = json.loads((tmp_path / "m" / "fit.json").read_text())
    refit = {**params, "epochs": best, "early_stopping_patience": None}
    assert record["refit_parameters"] == refit
    saved = load_model(tmp_path / "m")
    assert (saved.config.epochs, saved.config.early_stopping_patience) == (best, None)
    again = create_model("mf-sgd", refit).fit(Dataset.from_frame(refit_frame(train, val)))
    np.testing.assert_array_equal(saved.user_factors, again.user_factors)  # type: ignore[attr-defined]
    # the learning curve is the first fit's (train vs validation)
    assert (tmp_path / "m" / "learning_curve.html").is_file()


def test_refit_needs_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["fit", "--train", _train(tmp_path), "--model", "ease", "--refit"]
    assert run_cli(*args, "--out", tmp_path / "m") == 2
    assert _error_line(capsys) == (
        "error: --refit needs --validation: it refits on train + validation after a fit on train"
    )
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("model", "params", "types", "noted"),
    [
        ("itemknn", (), ("view", "purchase"), True),
        ("itemknn", ("--param", "binary=false"), ("view", "purchase"), False),
        ("bpr", (), ("view", "purchase"), True),
        ("popularity", ("--param", "measure=weight"), ("view", "purchase"), False),
        ("mf-sgd", ("--param", "loss=rmse"), ("view", "purchase"), False),
        ("itemknn", (), ("purchase", "purchase"), False),  # one event type: nothing to ignore
    ],
)
def test_fit_says_when_the_model_ignores_event_weights(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    model: str,
    params: tuple[str, ...],
    types: tuple[str, str],
    noted: bool,
) -> None:
    train = _train(tmp_path / "split")
    frame = pd.read_csv(train)
    frame["event_type"] = [types[k % 2] for k in range(len(frame))]
    frame.to_csv(train, index=False)
    args = ("fit", "--train", train, "--model", model, *params, "--out", tmp_path / "m")
    assert run_cli(*args) == 0
    err = capsys.readouterr().err
    assert ("ignores event weights" in err) is noted, err
    if noted:
        assert "purchase, view events count the same" in err


def _numeric_shop(folder: Path) -> Path:
    """Users 1, 2 (FR) buy a, b and a; users 3, 4 (UK) buy c, d and c."""
    folder.mkdir(parents=True, exist_ok=True)
    pairs = [(1, "a"), (1, "b"), (2, "a"), (3, "c"), (3, "d"), (4, "c")]
    frame = pd.DataFrame(
        {
            "user_id": [u for u, _ in pairs],
            "item_id": [i for _, i in pairs],
            "timestamp": pd.date_range("2024-01-01", periods=len(pairs), freq="D"),
        }
    )
    frame.to_csv(folder / "train.csv", index=False)
    return folder / "train.csv"


@pytest.mark.parametrize("as_text", [False, True])
def test_users_table_with_float_ids_finds_the_segments(tmp_path: Path, as_text: bool) -> None:
    train = _numeric_shop(tmp_path / "split")
    model_dir = tmp_path / "model"
    assert run_cli("fit", "--train", train, "--model", "popularity", "--out", model_dir) == 0
    # a users table whose ids were read as floats (a column with blanks): 17850.0 is "17850"
    ids = [1.0, 2.0, 3.0, 4.0, 17850.0, np.nan]
    table = pd.DataFrame({"user_id": ids, "country": ["FR", "FR", "UK", "UK", "UK", "FR"]})
    if as_text:  # the same ids written as text
        table["user_id"] = ["1.0", "2.0", "3.0", "4.0", "17850.0", None]
    table.to_parquet(tmp_path / "users.parquet", index=False)
    pd.DataFrame({"user_id": ["17850"]}).to_csv(tmp_path / "ask.csv", index=False)
    out = tmp_path / "recs.csv"
    args = ["recommend", "--model-dir", model_dir, "--users", tmp_path / "ask.csv", "--k", "2"]
    args += ["--segment", "country", "--users-table", tmp_path / "users.parquet"]
    assert run_cli(*args, "--out", out) == 0
    recs = pd.read_csv(out, dtype={"user_id": str})
    # UK's own popular list (c: 2 users, d: 1), not the global one (a and c: 2 users each)
    assert recs[["user_id", "item_id", "source"]].values.tolist() == [
        ["17850", "c", "cold_start"],
        ["17850", "d", "cold_start"],
    ]


def test_fit_copies_the_users_table_so_recommend_needs_no_users_table(tmp_path: Path) -> None:
    train = _numeric_shop(tmp_path / "split")
    # beside TRAIN, as `tailor data split` leaves it; ids read as floats are stored as "17850"
    table = pd.DataFrame(
        {"user_id": [1.0, 2.0, 3.0, 4.0, 17850.0], "country": ["FR", "FR", "UK", "UK", "UK"]}
    )
    table.to_parquet(tmp_path / "split" / "users.parquet", index=False)
    model_dir = tmp_path / "model"
    assert run_cli("fit", "--train", train, "--model", "popularity", "--out", model_dir) == 0
    stored = pd.read_parquet(model_dir / "users.parquet")
    assert stored["user_id"].tolist() == ["1", "2", "3", "4", "17850"]
    assert stored["country"].tolist() == ["FR", "FR", "UK", "UK", "UK"]
    pd.DataFrame({"user_id": ["17850", "2"]}).to_csv(tmp_path / "ask.csv", index=False)
    out = tmp_path / "recs.csv"
    args = ["recommend", "--model-dir", model_dir, "--users", tmp_path / "ask.csv", "--k", "2"]
    assert run_cli(*args, "--segment", "country", "--out", out) == 0  # no --users-table
    recs = pd.read_csv(out, dtype={"user_id": str})
    # 17850 (unknown, UK) gets UK's list (c 2 users, d 1), not the global a, c; the model
    # ranks user 2's unseen items by global popularity: c (2 users), then b before d (tie)
    assert recs[["user_id", "item_id", "source"]].values.tolist() == [
        ["17850", "c", "cold_start"],
        ["17850", "d", "cold_start"],
        ["2", "c", "model"],
        ["2", "b", "model"],
    ]


def test_fit_users_table_option_wins_and_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = _numeric_shop(tmp_path / "split")
    pd.DataFrame({"user_id": ["1"], "country": ["FR"]}).to_parquet(
        tmp_path / "split" / "users.parquet", index=False
    )
    other = tmp_path / "people.csv"
    pd.DataFrame({"user_id": ["3", "4"], "tier": ["gold", "basic"]}).to_csv(other, index=False)
    model_dir = tmp_path / "model"
    args = ["fit", "--train", train, "--model", "popularity", "--out", model_dir]
    assert run_cli(*args, "--users-table", other) == 0
    stored = pd.read_parquet(model_dir / "users.parquet")
    assert stored.to_dict("list") == {"user_id": ["3", "4"], "tier": ["gold", "basic"]}
    capsys.readouterr()
    pd.DataFrame({"uid": ["3"]}).to_csv(other, index=False)
    assert run_cli(*args, "--users-table", other) == 2
    assert "column 'user_id'" in _error_line(capsys)
