"""partial_fit (fold-in) of the item-item models: ItemKNN, EASE and RecencyEASE.

The profiles of the users in the batch are rebuilt as a fit on all interactions would build
them. ItemKNN's similarities (and EASE's weights when fitted on summed weights with recency)
stay as fitted, so everybody else's scores do not move; EASE's and RecencyEASE's weights ``B``
move as a fit on all interactions would move them (new items included), so every user scores as
after such a fit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tailor.data.dataset import Dataset
from tailor.models import EASE, ItemKNN, SupportsPartialFit
from tailor.models.recency_ease import RecencyEASE
from tailor.testing.data import planted_frame, random_frame

Factory = Callable[[], Any]
PLAIN_KNN: dict[str, Any] = {"k": 100, "shrink": 0.0, "weighting": "none"}
"""Plain cosine over all neighbours (hand-worked scores below); the defaults are tested too."""

FACTORIES: dict[str, Factory] = {
    "itemknn": lambda: ItemKNN(**PLAIN_KNN),
    "itemknn-weighted-recency": lambda: ItemKNN(
        **PLAIN_KNN, binary=False, recency_half_life_days=200.0
    ),
    "itemknn-binary-recency": lambda: ItemKNN(**PLAIN_KNN, recency_half_life_days=100.0),
    "itemknn-defaults": lambda: ItemKNN(),
    "ease": lambda: EASE(regularization=1.0),
    "ease-weighted-recency": lambda: EASE(
        regularization=1.0, binary=False, recency_half_life_days=200.0
    ),
    "recency-ease": lambda: RecencyEASE(
        regularization=1.0, profile_half_life=None, popularity_weight=0.0
    ),
    "recency-ease-defaults": lambda: RecencyEASE(regularization=1.0),
    "recency-ease-positional": lambda: RecencyEASE(
        regularization=1.0, profile_half_life=2.0, profile_floor=0.1, popularity_weight=0.3
    ),
}
PLAIN = ["itemknn", "ease", "recency-ease", "recency-ease-positional"]
FROZEN = ["itemknn", "itemknn-weighted-recency", "itemknn-binary-recency", "itemknn-defaults"]
FROZEN += ["ease-weighted-recency"]
"""The models whose item-item matrix ``partial_fit`` leaves as fitted."""
MOVING = [name for name in FACTORIES if name not in FROZEN]


def _learned(model: Any) -> np.ndarray:
    """The item-item weights that only ``fit`` may change, as a dense array."""
    weights = model.similarity if isinstance(model, ItemKNN) else model.weights
    return weights.toarray() if sp.issparse(weights) else np.asarray(weights)


def _frames(coarse: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training data and a batch touching old users (u*), new users (n*) and new items (j*).

    The batch's times interleave with the training times; with ``coarse`` times are rounded to
    100 days, so many pairs tie in time (fitted with fitted, batch with fitted).
    """
    train = random_frame(n_users=30, n_items=20, n=300, seed=1)
    batch = random_frame(n_users=30, n_items=20, n=60, seed=2)
    k = np.arange(len(batch))
    batch["user_id"] = np.where(k % 4 == 0, "n" + (k % 3).astype(str), batch["user_id"])
    batch["item_id"] = np.where(k % 7 == 0, "j" + (k % 2).astype(str), batch["item_id"])
    batch = batch[batch["user_id"].isin(["u1", "u2", "u3", "u5", "u8", "n0", "n1", "n2"])]
    if coarse:
        for frame in (train, batch):
            frame["timestamp"] = frame["timestamp"].dt.floor("100D")
    return train, batch.reset_index(drop=True)


def _entries(model: Any, mat: sp.csr_array) -> dict[tuple[str, str], float]:
    coo = mat.tocoo()
    users, items = model.users.id_of(coo.row), model.items.id_of(coo.col)
    return {(u, i): float(v) for u, i, v in zip(users, items, coo.data, strict=True)}


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("coarse", [False, True])
def test_profiles_equal_a_fit_on_all_interactions(name: str, coarse: bool) -> None:
    train, batch = _frames(coarse)
    folded = FACTORIES[name]().fit(Dataset.from_frame(train))
    weights = _learned(folded)
    assert folded.partial_fit(batch) is folded
    full = FACTORIES[name]().fit(Dataset.from_frame(pd.concat([train, batch], ignore_index=True)))
    got, want = _entries(folded, folded.profiles), _entries(full, full.profiles)
    assert got.keys() == want.keys()
    assert got == pytest.approx(want, rel=1e-5, abs=1e-7)
    assert _entries(folded, folded.seen) == _entries(full, full.seen)
    if name in FROZEN:
        np.testing.assert_array_equal(_learned(folded), weights)  # never refitted
    else:  # B of a fit on the union, new items included
        order = full.items.numbers(folded.items.ids)
        want_b = _learned(full)[np.ix_(order, order)]
        np.testing.assert_allclose(_learned(folded), want_b, atol=2e-6)
    if isinstance(folded, RecencyEASE):
        assert _entries(folded, folded.profile_times) == _entries(full, full.profile_times)
    else:
        newest = dict(zip(full.users.ids, full.profile_newest, strict=True))
        assert dict(zip(folded.users.ids, folded.profile_newest, strict=True)) == newest


@pytest.mark.parametrize("name", MOVING)
def test_every_user_scores_as_after_a_fit_on_the_union(name: str) -> None:
    train, batch = _frames(coarse=False)
    model = FACTORIES[name]().fit(Dataset.from_frame(train))
    n_users, n_items = len(model.users), len(model.items)
    before = model.score_rows(np.arange(n_users)).copy()
    model.partial_fit(batch)
    full = FACTORIES[name]().fit(Dataset.from_frame(pd.concat([train, batch], ignore_index=True)))
    rows, cols = full.users.numbers(model.users.ids), full.items.numbers(model.items.ids)
    after = model.score_rows(np.arange(len(model.users)))
    assert len(model.items) == n_items + 2  # j0, j1: scored now, from their co-occurrences
    np.testing.assert_allclose(after, full.score_rows(rows)[:, cols], atol=2e-5)
    untouched = np.setdiff1d(np.arange(n_users), model.users.numbers(batch["user_id"].unique()))
    assert not np.allclose(after[untouched, :n_items], before[untouched], atol=1e-4)


@pytest.mark.parametrize("name", FROZEN)
def test_untouched_users_keep_their_own_scores(name: str) -> None:
    train, batch = _frames(coarse=False)
    model = FACTORIES[name]().fit(Dataset.from_frame(train))
    n_users, n_items = len(model.users), len(model.items)
    before = model.score_rows(np.arange(n_users)).copy()
    touched_ids = batch["user_id"].unique()
    model.partial_fit(batch)
    touched = model.users.numbers(touched_ids)
    untouched = np.setdiff1d(np.arange(n_users), touched)
    after = model.score_rows(np.arange(len(model.users)))
    assert len(model.items) == n_items + 2  # j0, j1
    np.testing.assert_array_equal(after[untouched, :n_items], before[untouched])
    old_touched = touched[touched < n_users]
    assert not np.array_equal(after[old_touched, :n_items], before[old_touched])
    assert np.isnan(after[:, n_items:]).all()  # new items have no weights until the next fit


@pytest.mark.parametrize("name", PLAIN)
def test_new_user_gets_the_rest_of_their_group(name: str) -> None:
    # planted data: u0..u5 like i0..i3, u6..u11 like i4..i7; a newcomer buys i4, i5 and a brand
    # new item, so i6 and i7 come first; ItemKNN never recommends the new item (no similarities
    # until the next fit), EASE's weights give it a column: its neighbours are i4 and i5
    model = FACTORIES[name]().fit(Dataset.from_frame(planted_frame()))
    assert isinstance(model, SupportsPartialFit)
    days = pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-03"])
    batch = pd.DataFrame({"user_id": "newbie", "item_id": ["i4", "i5", "fresh"], "timestamp": days})
    model.partial_fit(batch)
    recs = model.recommend(["newbie"], n=4).to_frame()
    if name in MOVING:  # as a fit on the union would list them
        union = pd.concat([planted_frame(), batch.assign(value=1.0)], ignore_index=True)
        full = FACTORIES[name]().fit(Dataset.from_frame(union))
        want = full.recommend(["newbie"], n=4).to_frame()  # the same items, i6 and i7 tied
        assert dict(zip(recs["item_id"], recs["score"], strict=True)) == pytest.approx(
            dict(zip(want["item_id"], want["score"], strict=True)), abs=1e-5
        )
    if name != "recency-ease-positional":  # there fresh, the newest item, weighs most, and its
        # weights on i6 and i7 are negative (newbie has fresh without them): i0 (by the trend)
        # and i6 come first, after a fit on the union too
        assert set(recs["item_id"][:2]) == {"i6", "i7"}
        assert recs["score"][1] > recs["score"][2]
    assert not {"i4", "i5", "fresh"} & set(recs["item_id"])
    if name == "itemknn":
        # i4 has all 6 group-B users, i5 i6 i7 four each; i4 and i6 share 4 users, i5 and i6
        # two: score(i6) = 4 / sqrt(6 * 4) + 2 / sqrt(4 * 4)
        assert recs["score"][0] == pytest.approx(4 / np.sqrt(24) + 0.5)
    assert model.seen[[model.users.number("newbie")]].sum() == 3  # "fresh" is remembered as seen
    if name == "itemknn":
        everyone = model.recommend(list(model.users.ids), n=9, exclude_seen=False).to_frame()
        assert "fresh" not in set(everyone["item_id"])
        assert np.isnan(model.score(["newbie", "u0"], ["fresh", "fresh"])).all()
        assert len(model.similar_items(["fresh"], n=3)) == 0
        assert "fresh" not in model.similar_items(["i4"], n=9).for_user("i4")
    else:
        assert np.isfinite(model.score(["newbie", "u0"], ["fresh", "fresh"])).all()
        assert set(model.similar_items(["fresh"], n=2).for_user("fresh")) == {"i4", "i5"}


@pytest.mark.parametrize("name", PLAIN)
def test_existing_user_profile_absorbs_the_batch(name: str) -> None:
    # u0 (group A, has i0 i2 i3) now buys three group-B items: the fourth, i7, becomes a candidate
    model = FACTORIES[name]().fit(Dataset.from_frame(planted_frame()))
    assert "i7" not in model.recommend(["u0"], n=1).for_user("u0")
    days = pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-03"])
    batch = pd.DataFrame({"user_id": "u0", "item_id": ["i4", "i5", "i6"], "timestamp": days})
    recs = model.partial_fit(batch).recommend(["u0"], n=2).for_user("u0")
    assert "i7" in recs


@pytest.mark.parametrize("name", FACTORIES)
def test_save_load_after_partial_fit_round_trips(name: str, tmp_path: Path) -> None:
    train, batch = _frames(coarse=True)
    model = FACTORIES[name]().fit(Dataset.from_frame(train)).partial_fit(batch.iloc[:20])
    model.save(tmp_path / "m")
    loaded = type(model).load(tmp_path / "m")
    users = ["u1", "u4", "n0", "n1"]
    pairs = (np.repeat(users, 3), ["i0", "j0", "j1"] * len(users))
    np.testing.assert_array_equal(loaded.score(*pairs), model.score(*pairs))
    pd.testing.assert_frame_equal(
        loaded.recommend(users, n=5).to_frame(), model.recommend(users, n=5).to_frame()
    )
    # the fold-in state round-trips too: the next batch gives the same profiles, and the same
    # weights (the loaded model rebuilds the inverse EASE keeps from B and the saved profiles)
    again, original = loaded.partial_fit(batch.iloc[20:]), model.partial_fit(batch.iloc[20:])
    assert _entries(again, again.profiles) == _entries(original, original.profiles)
    np.testing.assert_allclose(_learned(again), _learned(original), atol=2e-6)
