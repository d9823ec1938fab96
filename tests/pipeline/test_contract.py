"""The contract of the pipeline: what is evaluated is what is served.

On a planted shop (unavailable items, categories, popularity ties, a users table with a country,
users the model does not know, a model that cannot score some items so lists run short, and
new items with titles that only the folder's content model scores, slotted into EASE's lists at
ranks 2 and 4), for every user: the list the server answers (from the warmed cache, from a
write-back miss and from live scoring) == the ``tailor recommend`` list == the list
``evaluate_model`` scores, item for item and in order (ties by lower item number).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tailor.cli import main
from tailor.data.split import Split
from tailor.evaluation import evaluate_model
from tailor.evaluation import fitted as fitted_module
from tailor.models.model_dir import fit_model_dir
from tailor.pipeline import Pipeline
from tailor.serving.app import create_app
from tailor.testing.serving import serve_settings

N_USERS, N_ITEMS = 40, 30
COLD = ["new-fr", "new-uk", "new-nowhere"]
UNAVAILABLE = {f"i{k}" for k in range(N_ITEMS) if k % 5 == 4}  # 20 % out of stock
QUERIES: list[dict[str, Any]] = [
    {"n": 5},
    {"n": 4, "category": "c1"},
    {"n": 6, "category": "c2", "exclude": ["i2", "i8"]},
    {"n": 12},  # more than some users have candidates for: backfill
]
COLOURS, THINGS = ["red", "blue", "green", "white"], ["mug", "scarf", "lamp", "bag", "card"]
NEW_ITEMS = [f"n{j}" for j in range(6)]
"""Catalogue items nobody bought: only the content model scores them."""
NEW_UNAVAILABLE = {"n5"}
SLOTS: dict[str, tuple[int, ...]] = {"ease-cold": (2, 4)}
"""Cold-item slots per fixture (the others: none)."""


def _shop() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Interactions, catalogue and users table of the planted shop."""
    rng = np.random.default_rng(3)
    weights = 1.0 / (1 + np.arange(N_ITEMS)) ** 0.8
    rows = []
    for u in range(N_USERS):
        size = int(rng.integers(3, 18))
        items = rng.choice(N_ITEMS, size=size, replace=False, p=weights / weights.sum())
        rows += [(f"u{u}", f"i{i}", int(rng.integers(0, 10**6))) for i in items]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "t"])
    frame["timestamp"] = pd.to_datetime(frame.pop("t"), unit="s", origin="2024-01-01")
    catalog = pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(N_ITEMS)],
            "category": [f"c{k % 3}" for k in range(N_ITEMS)],
            "available": [f"i{k}" not in UNAVAILABLE for k in range(N_ITEMS)],
            "title": [f"{COLOURS[k % 4]} {THINGS[k % 5]}" for k in range(N_ITEMS)],
        }
    )
    users = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in range(N_USERS)] + COLD,
            "country": ["FR" if u % 3 else "UK" for u in range(N_USERS)] + ["FR", "UK", None],
        }
    )
    return frame, catalog, users


def _nan_for_some(original: Any) -> Any:
    """A scoring hook that cannot score some (user, item) pairs (NaN), so lists run short."""

    def score(self: Any, user_nums: np.ndarray) -> np.ndarray:
        rows = np.array(original(self, user_nums), dtype=np.float32, copy=True)
        cols = np.arange(rows.shape[1])
        for r, u in enumerate(np.asarray(user_nums).tolist()):
            rows[r, (cols + u) % 4 != 0] = np.nan  # three items in four unscorable
        return rows

    return score


def _new_items() -> pd.DataFrame:
    """Catalogue rows of the new items (titles and categories, no interactions)."""
    return pd.DataFrame(
        {
            "item_id": NEW_ITEMS,
            "category": [f"c{j % 3}" for j in range(len(NEW_ITEMS))],
            "available": [i not in NEW_UNAVAILABLE for i in NEW_ITEMS],
            "title": [f"{COLOURS[j % 4]} {THINGS[(j + 1) % 5]}" for j in range(len(NEW_ITEMS))],
        }
    )


@pytest.fixture(params=["popularity", "itemknn", "ease", "ease-nan", "ease-cold"])
def shop(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    frame, catalog, users = _shop()
    name = request.param.removesuffix("-nan").removesuffix("-cold")
    path = tmp_path / "model"
    if request.param.endswith("-cold"):
        catalog = pd.concat([catalog, _new_items()], ignore_index=True)
    fit_model_dir(frame, name, {}, path, items=catalog)
    users.to_parquet(path / "users.parquet", index=False)
    if request.param.endswith("-nan"):
        from tailor.models.ease import EASE

        monkeypatch.setattr(EASE, "_score", _nan_for_some(EASE._score))
    yield path, request.param


@pytest.fixture
def shop_dir(shop: tuple[Path, str]) -> Path:
    return shop[0]


def _requested() -> list[str]:
    return [f"u{u}" for u in range(N_USERS)] + COLD


def _cli_lists(
    path: Path, tmp: Path, query: dict[str, Any], monkeypatch: Any, slots: tuple[int, ...] = ()
) -> dict[str, Any]:
    users = tmp / "users.csv"
    pd.DataFrame({"user_id": _requested()}).to_csv(users, index=False)
    out = tmp / f"recs-{len(list(tmp.glob('recs-*')))}.parquet"
    args = ["recommend", "--model-dir", path, "--users", users, "--k", query["n"]]
    args += ["--segment", "country", "--out", out]
    if "category" in query:
        args += ["--category", query["category"]]
    for item in query.get("exclude", []):
        args += ["--exclude", item]
    if slots:
        args += ["--cold-item-slots", ",".join(map(str, slots))]
    monkeypatch.setattr(sys, "argv", ["tailor", *map(str, args)])
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None)
    recs = pd.read_parquet(out)
    return _by_user(recs)


def _by_user(recs: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {u: ([], None) for u in _requested()}
    for user, group in recs.groupby("user_id", sort=False):
        group = group.sort_values("rank")
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        out[str(user)] = (group["item_id"].tolist(), group["source"].iloc[0])
    return out


def _served(client: TestClient, query: dict[str, Any], user: str) -> tuple[list[str], str]:
    params = {k: v for k, v in query.items() if k != "exclude"}
    params["exclude"] = query.get("exclude", [])
    r = client.get(f"/v1/recommendations/{user}", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return [x["item_id"] for x in body["items"]], body["source"]


def _evaluated(
    path: Path, query: dict[str, Any], monkeypatch: Any, slots: tuple[int, ...] = ()
) -> dict[str, Any]:
    """The lists evaluate_model scores (captured where they reach the metrics)."""
    captured: dict[str, pd.DataFrame] = {}
    real = fitted_module.evaluate

    def spy(recs: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
        captured["recs"] = recs
        return real(recs, *args, **kwargs)

    monkeypatch.setattr(fitted_module, "evaluate", spy)
    frame, _, _ = _shop()
    test = pd.DataFrame(
        {
            "user_id": _requested(),
            "item_id": "i0",
            "timestamp": pd.Timestamp("2030-01-01"),
        }
    )
    split = Split(train=frame, validation=None, test=test)
    pipeline = Pipeline.from_model_dir(path, segment_column="country", cold_item_slots=slots)
    evaluate_model(
        pipeline, split, k=(query["n"],), n=query["n"], category=query.get("category"), ci=False
    )
    return _by_user(captured["recs"])


def test_served_equals_recommend_equals_evaluated(
    shop: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop_dir, name = shop
    slots = SLOTS.get(name, ())
    cli = [_cli_lists(shop_dir, tmp_path, q, monkeypatch, slots) for q in QUERIES]
    for q, expected in zip(QUERIES, cli, strict=True):
        assert all(expected[u][0] for u in _requested()[:-1]), "planted users all get items"
        listed = set().union(*(set(items) for items, _ in expected.values()))
        assert not listed & (UNAVAILABLE | NEW_UNAVAILABLE)
        assert bool(listed & set(NEW_ITEMS)) == bool(slots), "new items only through slots"
        if "exclude" not in q:
            assert _evaluated(shop_dir, q, monkeypatch, slots) == expected
    modes = {
        "warm cache": {"warm_on_start": True},
        "write-back": {"write_back": True},
        "live": {"write_back": False},
    }
    for mode, options in modes.items():
        settings = serve_settings(
            shop_dir,
            segment_column="country",
            scoring_budget_ms=2000,
            cold_item_slots=list(slots),
            **options,
        )
        with TestClient(create_app(settings)) as client:
            for q, expected in zip(QUERIES, cli, strict=True):
                for user in _requested():
                    items, source = _served(client, q, user)
                    want_items, want_source = expected[user]
                    assert items == want_items, (mode, q, user)
                    if want_source is not None:  # an empty list has no rows to name it
                        served = {"cache": "model"}.get(source, source)
                        assert served == want_source, (mode, q, user)
                    if mode == "write-back":  # the second answer comes from the cache
                        again, _ = _served(client, q, user)
                        assert again == want_items, (mode, q, user, "hit")


def test_backfill_and_segments_are_exercised(shop: tuple[Path, str]) -> None:
    """The planted data reaches the parts of the contract it is meant to check."""
    shop_dir, name = shop
    pipeline = Pipeline.from_model_dir(shop_dir, segment_column="country")
    assert set(pipeline.popular.by_segment) == {"FR", "UK"}
    assert pipeline.popular.top(segment="FR") != pipeline.popular.top(segment="UK")
    from tailor.pipeline import Query

    result = pipeline.recommend(_requested(), Query(n=12))
    table = result.users.set_index("user_id")
    assert table.loc[COLD, "source"].tolist() == ["cold_start"] * 3
    fr = [i for i, _ in pipeline.popular.top(segment="FR")[:12]]
    assert [i for i, _ in result.lists()["new-fr"]] == fr
    if name.endswith("-nan"):  # the model lists run short: filled from the FR/UK lists
        backfilled = table.loc[table["backfilled"] > 0]
        assert len(backfilled) > 10 and set(backfilled["source"]) == {"model"}
        frame, _, _ = _shop()
        for user, row in backfilled.iterrows():
            seen = set(frame.loc[frame["user_id"] == user, "item_id"])
            left = N_ITEMS - len(seen | UNAVAILABLE)  # every other item is in the popular lists
            assert row["n_items"] == min(12, left)


def test_new_items_take_their_slots(tmp_path: Path) -> None:
    """The ease-cold shop: every known user's list of 5 holds new items at ranks 2 and 4 (the
    best by content score among the available new items of the query's category), and no slot
    without ``cold_item_slots``."""
    frame, catalog, _ = _shop()
    path = tmp_path / "model"
    fit_model_dir(frame, "ease", {}, path, items=pd.concat([catalog, _new_items()]))
    from tailor.pipeline import Query

    plain = Pipeline.from_model_dir(path).recommend(_requested()[:N_USERS], Query(n=5))
    assert not plain.recs["item_id"].isin(NEW_ITEMS).any()
    pipeline = Pipeline.from_model_dir(path, cold_item_slots=(2, 4))
    assert pipeline.cold_items is not None
    assert sorted(pipeline.cold_items.item_ids.tolist()) == NEW_ITEMS
    for query in (Query(n=5), Query(n=5, category="c1")):
        recs = pipeline.recommend(_requested()[:N_USERS], query).recs
        new = recs[recs["item_id"].isin(NEW_ITEMS)]
        assert set(new["rank"]) == {2, 4} and len(new) == 2 * N_USERS
        assert "n5" not in set(new["item_id"])  # unavailable
        if query.category == "c1":  # n1 and n4 are the new items of c1
            assert set(new["item_id"]) == {"n1", "n4"}
