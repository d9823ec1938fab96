"""ModelDir: the one owner of a model folder's layout (model, popularity/, items.parquet)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tailor.data.dataset import Dataset
from tailor.errors import ArtifactError, ConfigError
from tailor.models import EASE, ModelDir, Popularity
from tailor.models.content import Content
from tailor.models.model_dir import fit_model_dir, has_content, load_model_dir
from tailor.testing import planted_frame

CATALOG = pd.DataFrame({"item_id": [f"i{k}" for k in range(9)], "category": ["x"] * 9})
TITLED = pd.DataFrame(
    {
        "item_id": [f"i{k}" for k in range(10)],  # i8 and i9: nobody bought them
        "title": [f"{('red', 'blue')[k % 2]} {('mug', 'lamp', 'scarf')[k % 3]}" for k in range(10)],
    }
)


def test_write_then_load_the_whole_folder(tmp_path: Path) -> None:
    data = Dataset.from_frame(planted_frame(), item_features=CATALOG)
    model = EASE(regularization=10.0).fit(data)
    manifest = ModelDir.write(
        tmp_path / "m", model, popularity=Popularity().fit(data), catalog=CATALOG
    )
    folder = ModelDir.load(tmp_path / "m")
    assert folder.manifest == manifest and folder.version == manifest["version"]
    assert isinstance(folder.model, EASE) and isinstance(folder.popularity, Popularity)
    assert folder.catalog_file == tmp_path / "m" / "items.parquet"
    pd.testing.assert_frame_equal(folder.read_catalog(), CATALOG)
    pd.testing.assert_frame_equal(
        folder.model.recommend(["u0"], n=3).to_frame(), model.recommend(["u0"], n=3).to_frame()
    )
    assert ModelDir.validate(tmp_path / "m") == manifest
    assert ModelDir.is_model_dir(tmp_path / "m")
    assert load_model_dir(tmp_path / "m")[1] is not None  # the older spelling still works


def test_a_plain_saved_model_is_a_folder_without_fallback(tmp_path: Path) -> None:
    EASE().fit(Dataset.from_frame(planted_frame())).save(tmp_path / "m")
    folder = ModelDir.load(tmp_path / "m")
    assert folder.popularity is None and folder.catalog_file is None
    assert folder.read_catalog() is None and folder.content is None


def test_fit_model_dir_writes_through_model_dir(tmp_path: Path) -> None:
    summary = fit_model_dir(planted_frame(), "itemknn", {"k": 5}, tmp_path / "m", items=CATALOG)
    folder = ModelDir.load(tmp_path / "m")
    assert folder.manifest["model"] == "itemknn" and summary.n_items == 9
    assert folder.popularity is not None and len(folder.popularity.items) == 9


def test_users_table_is_written_into_the_folder(tmp_path: Path) -> None:
    users = pd.DataFrame({"user_id": ["u0", "u1"], "country": ["FR", "UK"]})
    fit_model_dir(planted_frame(), "popularity", {}, tmp_path / "m", users=users)
    folder = ModelDir.load(tmp_path / "m")
    assert (
        folder.users_file == ModelDir.users_path(tmp_path / "m") == tmp_path / "m" / "users.parquet"
    )
    pd.testing.assert_frame_equal(pd.read_parquet(folder.users_file), users)
    fit_model_dir(planted_frame(), "popularity", {}, tmp_path / "plain")
    assert ModelDir.load(tmp_path / "plain").users_file is None
    assert not (tmp_path / "plain" / "users.parquet").exists()


def test_load_refuses_broken_folders(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no such folder"):
        ModelDir.load(tmp_path / "nothing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtifactError, match="a file, not a folder"):
        ModelDir.load(tmp_path / "file")
    data = Dataset.from_frame(planted_frame())
    ModelDir.write(tmp_path / "m", EASE().fit(data), popularity=None)
    EASE().fit(data).save(tmp_path / "m" / "popularity")  # a fallback of the wrong kind
    with pytest.raises(ArtifactError, match="must be a popularity model"):
        ModelDir.load(tmp_path / "m")


def test_content_model_is_fitted_with_catalogue_text_and_loaded(tmp_path: Path) -> None:
    summary = fit_model_dir(planted_frame(), "ease", {}, tmp_path / "m", items=TITLED)
    folder = ModelDir.load(tmp_path / "m")
    assert summary.content and isinstance(folder.content, Content)
    assert folder.content_path(tmp_path / "m") == tmp_path / "m" / "content"
    assert folder.content.items.ids.tolist() == folder.model.items.ids.tolist()
    assert "i9" in folder.content.items.ids.tolist()  # a catalogue item without interactions
    data = Dataset.from_frame(planted_frame(), item_features=TITLED)
    direct = Content().fit(data)  # the same data and parameters as the folder's
    users = list(range(len(data.users)))
    assert (folder.content.score_rows(users) == direct.score_rows(users)).all()


def test_content_switch(tmp_path: Path) -> None:
    plain = pd.DataFrame({"item_id": TITLED["item_id"], "available": True})
    assert has_content(TITLED) and has_content(CATALOG) and not has_content(plain)
    assert not has_content(None) and not has_content(TITLED.assign(title=None))
    assert has_content(plain.assign(genre_drama=plain["available"]))  # a boolean flag
    for name, items, content in (("plain", plain, None), ("off", TITLED, False)):
        summary = fit_model_dir(planted_frame(), "ease", {}, tmp_path / name, items=items,
                                content=content)  # fmt: skip
        assert not summary.content and ModelDir.load(tmp_path / name).content is None
        assert not (tmp_path / name / "content").exists()
    with pytest.raises(ConfigError, match="title, description or category"):
        fit_model_dir(planted_frame(), "ease", {}, tmp_path / "x", items=plain, content=True)
    assert not (tmp_path / "x").exists()


def test_fallback_half_life(tmp_path: Path) -> None:
    fit_model_dir(planted_frame(), "ease", {}, tmp_path / "m", fallback_half_life=7.0)
    popularity = ModelDir.load(tmp_path / "m").popularity
    assert popularity is not None and popularity.config.half_life_days == 7.0
    fit_model_dir(planted_frame(), "ease", {}, tmp_path / "plain")
    plain = ModelDir.load(tmp_path / "plain").popularity
    assert plain is not None and plain.config.half_life_days is None
    with pytest.raises(ConfigError, match="half-life must be > 0"):
        fit_model_dir(planted_frame(), "ease", {}, tmp_path / "bad", fallback_half_life=0.0)


def test_load_refuses_a_content_folder_of_the_wrong_kind(tmp_path: Path) -> None:
    data = Dataset.from_frame(planted_frame())
    ModelDir.write(tmp_path / "m", EASE().fit(data), popularity=None)
    EASE().fit(data).save(tmp_path / "m" / "content")
    with pytest.raises(ArtifactError, match="must be a content model, not 'ease'"):
        ModelDir.load(tmp_path / "m")
