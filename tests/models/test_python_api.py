"""The Python API as users expect it (issue 10): DataFrames in and out, scikit-learn style
hyperparameters, unknown users reported, notebook display, and what a fit records in the
manifest."""

from __future__ import annotations

import inspect
import json
import pydoc
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.data.recs import Recs, RecsFrame
from tailor.errors import ConfigError
from tailor.evaluation import evaluate
from tailor.models import EASE, SGDMF, FitOptions, ItemKNN, ModelDir, create_model, model_class
from tailor.models.artifacts import read_manifest
from tailor.models.base import UnknownUsersWarning
from tailor.models.model_dir import fit_model_dir
from tailor.models.registry import MODELS
from tailor.testing import planted_frame
from tailor.testing.data import random_frame

FAST: dict[str, dict[str, Any]] = {
    "als": {"factors": 4, "iterations": 3},
    "bpr": {"factors": 4, "iterations": 5},
    "mf-sgd": {"embedding_size": 4, "epochs": 3},
}
COLUMNS = ["user_id", "item_id", "rank", "score"]


# ---- fit takes a DataFrame ------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
def test_fit_takes_a_dataframe_like_a_dataset(name: str) -> None:
    frame = planted_frame()
    params = {**FAST.get(name, {}), "seed": 3}
    from_frame = create_model(name, params).fit(frame)
    from_data = create_model(name, params).fit(Dataset.from_frame(frame))
    users = list(from_data.users.ids)
    np.testing.assert_array_equal(
        from_frame.score_rows(np.arange(len(users))), from_data.score_rows(np.arange(len(users)))
    )
    assert from_frame.fit_seconds is not None and from_frame.fit_seconds >= 0.0


def test_a_validation_dataframe_is_put_onto_the_training_vocabularies() -> None:
    frame = random_frame(n=900, seed=1)
    train, val = frame.iloc[:700], frame.iloc[700:]
    val = pd.concat([val, pd.DataFrame({**val.iloc[:1].to_dict("list"), "user_id": ["ghost"]})])
    model = SGDMF(loss="rmse", embedding_size=4, epochs=3, seed=1)
    model.fit(train, FitOptions(validation=val))
    assert len(model.history) == 3 and "validation_rmse" in model.history[-1]
    ranking = SGDMF(embedding_size=4, epochs=2, seed=1).fit(train, FitOptions(validation=val))
    assert "validation_ndcg@10" in ranking.history[-1]


# ---- hyperparameters: keyword arguments, get_params, set_params ------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
def test_keyword_hyperparameters_are_in_the_signature_and_help(name: str) -> None:
    cls = model_class(name)
    fields = cls.config_class.model_fields
    signature = inspect.signature(cls)
    assert list(signature.parameters) == ["config", *fields]
    for key, field in fields.items():
        param = signature.parameters[key]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY
        assert param.default == field.get_default(call_default_factory=True)
    text = pydoc.render_doc(cls)
    for key, field in fields.items():
        assert f"{key}: " in text  # the signature line
        assert field.description and field.description.splitlines()[0].strip() in text


@pytest.mark.parametrize("name", sorted(MODELS))
def test_get_params_is_the_config_and_rebuilds_the_model(name: str) -> None:
    model = create_model(name, FAST.get(name))
    params = model.get_params()
    assert params == model.config.model_dump() == model.get_params(deep=False)
    assert set(params) == set(type(model.config).model_fields)
    clone = type(model)(**params)  # scikit-learn's clone
    assert clone.config == model.config and not clone.is_fitted


def test_set_params_validates_and_returns_self() -> None:
    model = ItemKNN(k=5)
    assert model.set_params(k=7, shrink=2.0) is model
    assert model.get_params()["k"] == 7 and model.config.shrink == 2.0
    with pytest.raises(ConfigError, match=r"kk: Extra inputs .*valid keys: alpha, binary"):
        model.set_params(kk=1)
    with pytest.raises(ConfigError, match="k: Input should be greater than or equal to 1"):
        model.set_params(k=0)
    assert model.config.k == 7  # a refused change leaves the model as it was
    with pytest.raises(ConfigError, match="similarity"):
        ItemKNN(similarity="jaccard")  # the constructor validates the same way


def test_repr_names_the_changed_hyperparameters() -> None:
    assert repr(ItemKNN()) == "ItemKNN()"
    assert repr(ItemKNN(k=5, weighting="tfidf")) == "ItemKNN(k=5, weighting='tfidf')"


def test_a_config_object_still_works_and_not_with_keywords() -> None:
    model = EASE(EASE.config_class(regularization=3.0))
    assert model.get_params()["regularization"] == 3.0
    with pytest.raises(TypeError, match="not both"):
        EASE(EASE.config_class(), regularization=3.0)
    with pytest.raises(TypeError, match="must be a EASEConfig"):
        EASE({"regularization": 3.0})  # type: ignore[arg-type]


# ---- recommend: a DataFrame, unknown users reported ------------------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
def test_recommend_returns_a_frame_and_reports_unknown_users(name: str) -> None:
    model = create_model(name, {**FAST.get(name, {}), "seed": 0}).fit(planted_frame())
    with pytest.warns(UnknownUsersWarning, match=r"2 of 4 requested users are unknown") as got:
        recs = model.recommend(["u0", "ghost", "u7", "nobody", "ghost"], n=3)
    assert "'ghost', 'nobody'" in str(got[0].message)
    assert isinstance(recs, pd.DataFrame) and isinstance(recs, RecsFrame)
    assert list(recs.columns) == COLUMNS
    assert recs["user_id"].tolist() == ["u0"] * 3 + ["u7"] * 3  # request order
    assert recs["rank"].tolist() == [1, 2, 3] * 2
    assert recs.attrs["unknown_users"] == ["ghost", "nobody"] == recs.unknown_users
    assert recs.for_user("u7") == recs["item_id"].tolist()[3:]
    assert recs.to_frame().attrs["unknown_users"] == ["ghost", "nobody"]


def test_known_users_raise_no_warning_and_a_single_id_works() -> None:
    model = EASE(regularization=1.0).fit(planted_frame())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recs = model.recommend("u0", n=2)
    assert recs["user_id"].tolist() == ["u0", "u0"] and recs.attrs["unknown_users"] == []


# ---- notebook display -------------------------------------------------------------------------
def test_models_and_results_display_in_notebooks() -> None:
    model = ItemKNN(k=5)
    page = model._repr_html_()
    assert "<b>ItemKNN</b>" in page and "not fitted" in page and "<b>5</b>" in page
    model.fit(planted_frame())
    page = model._repr_html_()
    assert "fitted: 12 users, 8 items, 36 seen pairs" in page and "<td>shrink</td>" in page
    similar = model.similar_items(["i0", "i4"], n=2)
    assert isinstance(similar, Recs)
    page = similar._repr_html_()
    assert page.startswith("<p><b>Recs</b>: 4 rows for 2 users</p><table")
    assert page.count("<tr") == 5  # header + 4 rows
    long = Recs(*(np.repeat(a, 20) for a in (similar.user_ids, similar.item_ids)),
                np.zeros(80, np.float32), np.ones(80, np.int32))  # fmt: skip
    assert "... 60 more rows" in long._repr_html_()


# ---- the manifest records the fit ------------------------------------------------------------
def test_fit_model_dir_records_time_params_and_validation_ndcg(tmp_path: Path) -> None:
    frame = planted_frame()
    val_mask = frame.groupby("user_id").cumcount(ascending=False) == 0  # each user's last row
    train, val = frame[~val_mask], frame[val_mask]
    summary = fit_model_dir(train, "ease", {"regularization": 1.0}, tmp_path / "m", validation=val)
    manifest = read_manifest(tmp_path / "m")
    assert manifest["params"] == manifest["config"] == EASE(regularization=1.0).get_params()
    assert manifest["fit_seconds"] > 0 and manifest["fit_seconds"] == pytest.approx(
        summary.fit_seconds, abs=1e-5
    )
    # the same number as the evaluation package computes from the model's top-10 lists, over
    # the validation pairs a model can score (items i3 and i7 occur only in validation here)
    model = ModelDir.load(tmp_path / "m").model
    scorable = val[val["item_id"].isin(set(train["item_id"]))]
    assert 0 < len(scorable) < len(val)
    recs = model.recommend(scorable["user_id"].unique(), n=10)
    result = evaluate(recs, scorable, k=10, segments=False, ci=False, curve_k=0)
    expected = result.metrics["ndcg@10"]
    assert manifest["metrics"] == {"validation_ndcg@10": pytest.approx(expected, abs=1e-6)}
    assert summary.metrics == manifest["metrics"]
    assert expected > 0.5  # the planted answer is found


def test_an_iterative_model_records_its_last_epoch(tmp_path: Path) -> None:
    frame = random_frame(n=900, seed=2)
    params = {"loss": "rmse", "embedding_size": 4, "epochs": 4, "seed": 0}
    fit_model_dir(frame.iloc[:700], "mf-sgd", params, tmp_path / "m", validation=frame.iloc[700:])
    metrics = read_manifest(tmp_path / "m")["metrics"]
    model = ModelDir.load(tmp_path / "m").model
    assert metrics["epochs"] == 4
    assert {"train_rmse", "validation_rmse", "validation_ndcg@10"} <= set(metrics)
    assert 0.0 <= metrics["validation_ndcg@10"] <= 1.0 and metrics["validation_rmse"] > 0
    assert isinstance(model, SGDMF)


def test_without_validation_the_manifest_has_no_metrics(tmp_path: Path) -> None:
    fit_model_dir(planted_frame(), "itemknn", {}, tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["metrics"] == {} and manifest["fit_seconds"] > 0
    assert manifest["params"]["k"] == ItemKNN().config.k


def test_save_records_the_fit_time_and_a_loaded_model_has_none(tmp_path: Path) -> None:
    model = EASE(regularization=2.0).fit(planted_frame())
    model.save(tmp_path / "m")
    manifest = read_manifest(tmp_path / "m")
    assert manifest["fit_seconds"] == pytest.approx(model.fit_seconds, abs=1e-5)
    loaded = EASE.load(tmp_path / "m")
    assert loaded.fit_seconds is None and loaded.get_params() == model.get_params()
