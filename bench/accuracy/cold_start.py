"""Cold start: new customers (zero history, then after their first basket) and new items.

Runs in the project's own environment, on the main table's splits (``datasets.py``)::

    .venv/bin/python bench/accuracy/cold_start.py

**New customers** (Online Retail, test from 2011-11-09; relevant = all their test purchases):
the global popular list, the popular list of their country (plain distinct-customer counts, as
tailor's fallback has them), and tailor's cold-start list: per-country popularity decayed with
a half-life and blended with the global trend (``PopularLists`` ``global_weight``), both chosen
on the validation month (new customers of the 30 days before the test, models on the part
before it). Then, *once they act*: their first basket (the rows at their first timestamp) is
revealed and the rest of their test purchases (items not in that basket) is scored, by the
zero-history list and by ``Pipeline.recommend_history`` (EASE, the defaults' best model on
Online Retail, and the content model).

**New items** (item:cold segment: test purchases of items absent from training, users known to
training): EASE through the pipeline without and with cold-item slots from the content model
(``tailor.pipeline.cold``); the content model's settings and the slot ranks are chosen on the
validation month. Significance: paired tests against the lists without slots (whose item:cold
NDCG@10 is 0, as popularity's), and a permutation test: the same slots filled with cold items
drawn at random from the same candidates (items with a content score > 0), 1,000 draws.
MovieLens 100K likewise where its per-user temporal split has cold items.

Writes ``bench/results/cold_start.json``; docs/benchmarks.md ("Cold start") quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import datasets
import metrics
import numpy as np
import pandas as pd

from tailor.data.dataset import Dataset
from tailor.data.sources.movielens import read_movielens
from tailor.models.content import Content
from tailor.models.ease import EASE
from tailor.models.popular import Popularity
from tailor.outputs import output_file
from tailor.pipeline import Pipeline, Query
from tailor.pipeline.cold import DEFAULT_RANKS, ColdItems

RESULTS = datasets.ROOT / "bench" / "results" / "cold_start.json"
SEED = 42
N = 20
HALF_LIVES = (None, 3.0, 7.0, 14.0, 30.0, 60.0)
BLENDS = (0.0, 0.3, 1.0, 3.0)
CONTENT_GRID: dict[str, dict[str, Any]] = {
    "defaults": {},
    "no recency": {"half_life_days": None},
    "half-life 7": {"half_life_days": 7.0},
    "price bucket 0.25": {"price_weight": 0.25},
    "unigrams": {"ngram_max": 1},
    "svd 128": {"svd_components": 128},
}
RANKS_GRID = ((10,), (9, 10), (5, 10), (5,), (1,))
MIN_SCORES = (0.0, 0.3, 0.5, 0.7)
"""A cold item needs a content score above this to take a slot (ColdItems.min_score)."""
DRAWS = 1000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- data --------------------------------------------------------------------------------
def retail_raw() -> pd.DataFrame:
    raw = pd.read_csv(
        datasets.RETAIL,
        dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": float},
        usecols=["StockCode", "Description", "UnitPrice", "CustomerID", "Country", "InvoiceNo"],
    )
    return raw


def retail_catalog(raw: pd.DataFrame) -> pd.DataFrame:
    """Every stock code: its most frequent description and its median positive price (the
    catalogue a shop has for a product from its launch)."""
    rows = raw[raw["UnitPrice"] > 0].assign(item_id=raw["StockCode"].astype(str).str.upper())
    title = rows.dropna(subset=["Description"]).groupby("item_id")["Description"]
    return (
        pd.DataFrame(
            {
                "title": title.agg(lambda s: s.value_counts().index[0]),
                "price": rows.groupby("item_id")["UnitPrice"].median(),
            }
        )
        .rename_axis("item_id")
        .reset_index()
    )


def retail_countries(raw: pd.DataFrame) -> dict[str, str]:
    rows = raw.dropna(subset=["CustomerID"])
    users = rows["CustomerID"].astype(np.int64).astype(str)
    return dict(zip(users, rows["Country"].astype(str), strict=True))


def ndcg_table(recs: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    return metrics.evaluate(recs[["user_id", "item_id", "rank"]], truth)


def summary(table: pd.DataFrame) -> dict[str, Any]:
    return {"users": len(table), **metrics.summary(table)}


# ---- new customers -----------------------------------------------------------------------
def popular_recs(
    train: pd.DataFrame,
    users: np.ndarray,
    countries: dict[str, str] | None,
    half_life: float | None = None,
    blend: float = 0.0,
) -> pd.DataFrame:
    """Every user's zero-history list through the pipeline (global, or per country)."""
    popularity = Popularity(half_life_days=half_life).fit(train)
    pipe = Pipeline.build(None, popularity, segments=countries, segment_blend=blend)
    return pipe.recommend(users, Query(n=N), segments=countries).recs


def new_customers(
    proto: datasets.Protocol, frame: pd.DataFrame, countries: dict[str, str]
) -> dict[str, Any]:
    val_start = datasets.RETAIL_TEST_START - pd.Timedelta(days=30)
    val_truth = datasets.cold_truth(proto.full_train, val_start)
    val_users = val_truth["user_id"].unique()
    grid = []
    for h in HALF_LIVES:
        for blend in BLENDS:
            table = ndcg_table(popular_recs(proto.fit, val_users, countries, h, blend), val_truth)
            grid.append({"half_life_days": h, "global_weight": blend,
                         "validation_ndcg@10": float(table["ndcg@10"].mean())})  # fmt: skip
    best = max(grid, key=lambda g: g["validation_ndcg@10"])
    h, blend = best["half_life_days"], best["global_weight"]
    log(f"new customers: chose half_life_days={h}, global_weight={blend} on validation")
    truth = datasets.cold_truth(frame, datasets.RETAIL_TEST_START)
    users = truth["user_id"].unique()
    train = proto.full_train
    tables = {
        "global popular": ndcg_table(popular_recs(train, users, None), truth),
        "popular by country": ndcg_table(popular_recs(train, users, countries), truth),
        "tailor cold start": ndcg_table(popular_recs(train, users, countries, h, blend), truth),
    }
    ours = tables["tailor cold start"]
    out: dict[str, Any] = {
        "users": len(users),
        "chosen": {"half_life_days": h, "global_weight": blend},
        "validation_grid": grid,
        "validation_users": len(val_users),
        "test": {name: summary(t) for name, t in tables.items()},
        "paired": {
            name: metrics.paired_tests(ours["ndcg@10"], t["ndcg@10"])
            for name, t in tables.items()
            if name != "tailor cold start"
        },
    }
    target = 1.25 * out["test"]["popular by country"]["ndcg@10"]
    out["target"] = {"ndcg@10": max(0.109, target), "met": ours["ndcg@10"].mean() >= 0.109}
    out["first_basket"] = first_basket(proto, frame, countries, h, blend)
    return out


def first_basket(
    proto: datasets.Protocol,
    frame: pd.DataFrame,
    countries: dict[str, str],
    h: float | None,
    blend: float,
) -> dict[str, Any]:
    """New customers after their first basket: the rest of their test purchases."""
    _, test = datasets.global_temporal(frame, datasets.RETAIL_TEST_START)
    new = test[~test["user_id"].isin(set(proto.full_train["user_id"]))]
    first = new.groupby("user_id")["timestamp"].transform("min")
    basket = new[new["timestamp"] == first]
    later = new[new["timestamp"] > first][["user_id", "item_id"]].drop_duplicates()
    in_basket = basket[["user_id", "item_id"]].drop_duplicates().assign(_b=True)
    truth = later.merge(in_basket, on=["user_id", "item_id"], how="left")
    truth = truth[truth["_b"].isna()].drop(columns="_b").reset_index(drop=True)
    users = truth["user_id"].unique()
    baskets = basket.sort_values(["user_id", "timestamp"]).groupby("user_id")["item_id"]
    histories = {u: list(dict.fromkeys(items)) for u, items in baskets}
    popularity = Popularity(half_life_days=h).fit(proto.full_train)
    ease = EASE(seed=SEED).fit(proto.full_train)
    catalog = retail_catalog(retail_raw())
    content = Content(seed=SEED).fit(Dataset.from_frame(proto.full_train, item_features=catalog))
    tables = {
        "zero history (tailor cold start)": ndcg_table(
            popular_recs(proto.full_train, users, countries, h, blend), truth
        )
    }
    for name, model in (("ease session", ease), ("content session", content)):
        pipe = Pipeline.build(model, popularity, segments=countries, segment_blend=blend)
        rows = []
        for user in users:
            items = pipe.recommend_history(user, histories[user], Query(n=N)).items
            rows += [(user, item, r + 1) for r, (item, _) in enumerate(items)]
        recs = pd.DataFrame(rows, columns=["user_id", "item_id", "rank"])
        tables[name] = ndcg_table(recs, truth)
    base = tables["zero history (tailor cold start)"]["ndcg@10"]
    return {
        "users": len(users),
        "basket_items_mean": float(np.mean([len(histories[u]) for u in users])),
        "test": {name: summary(t) for name, t in tables.items()},
        "paired_vs_zero_history": {
            name: metrics.paired_tests(t["ndcg@10"], base)
            for name, t in tables.items()
            if name != "zero history (tailor cold start)"
        },
    }


# ---- new items ---------------------------------------------------------------------------
def cold_lists(
    train: pd.DataFrame,
    catalog: pd.DataFrame,
    users: np.ndarray,
    content_params: dict[str, Any],
    ranks: tuple[int, ...] | None,
    exclude_seen: bool = True,
    min_score: float = 0.0,
) -> tuple[pd.DataFrame, ColdItems]:
    """EASE lists through the pipeline, with cold-item slots when ``ranks`` is given."""
    ease = EASE(seed=SEED).fit(train)
    popularity = Popularity().fit(train)
    content = Content(seed=SEED, **content_params)
    content.fit(Dataset.from_frame(train, item_features=catalog))
    cold = ColdItems.build(content, ease, ranks=ranks or (1,), min_score=min_score)
    pipe = Pipeline.build(ease, popularity, cold_items=cold if ranks else None)
    recs = pipe.recommend(users, Query(n=N, exclude_seen=exclude_seen)).recs
    return recs, cold


def share_with_cold(recs: pd.DataFrame, cold: ColdItems, k: int = 10) -> float:
    """Share of the users' top-``k`` lists that hold at least one cold item."""
    top = recs[recs["rank"] <= k]
    holds = top["item_id"].isin(set(cold.item_ids.tolist())).groupby(top["user_id"]).any()
    return float(holds.mean()) if len(holds) else 0.0


def cold_truth(truth: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    return truth[~truth["item_id"].isin(set(train["item_id"]))].reset_index(drop=True)


def permutation_test(
    recs: pd.DataFrame, cold: ColdItems, truth: pd.DataFrame, observed: float
) -> dict[str, Any]:
    """Null: the same slots hold cold items drawn at random (without replacement) from the
    user's candidates (cold items with a content score > 0); p = share of draws whose mean
    item:cold NDCG@10 reaches the observed one (with the +1 correction)."""
    rng = np.random.default_rng(SEED)
    users = truth["user_id"].unique()
    relevant = truth.groupby("user_id")["item_id"].agg(set)
    scores = cold.scores(list(users))
    cold_set = set(cold.item_ids.tolist())
    discounts = 1.0 / np.log2(np.arange(2, 12))
    gains = np.zeros((DRAWS, len(users)))
    for u, user in enumerate(users):
        mine = recs[recs["user_id"] == user]
        slots = mine.loc[mine["item_id"].isin(cold_set) & (mine["rank"] <= 10), "rank"]
        slots = slots.to_numpy()
        candidates = cold.item_ids[np.flatnonzero(scores[u] > cold.min_score)]
        if not len(slots) or not len(candidates):
            continue
        hit = np.isin(candidates, list(relevant[user]))
        ideal = discounts[: min(len(relevant[user]), 10)].sum()
        k = min(len(slots), len(candidates))
        picks = np.argsort(rng.random((DRAWS, len(candidates))), axis=1)[:, :k]
        gains[:, u] = (hit[picks] * discounts[slots[:k] - 1]).sum(axis=1) / ideal
    null = gains.mean(axis=1)
    return {
        "draws": DRAWS,
        "null_mean": float(null.mean()),
        "null_p95": float(np.quantile(null, 0.95)),
        "p_value": float((1 + (null >= observed).sum()) / (DRAWS + 1)),
    }


WHOLE_LOSS = 0.01
"""The primary rule's budget: slots may cost at most 1 % of the whole list's validation NDCG@10."""
RULE_COLD = "best item:cold NDCG@10, whole list within 1 %"
RULE_WHOLE = "best whole-list NDCG@10"


def choose_slots(rank_grid: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The slot settings each rule picks on validation (the primary rule is the code default)."""
    plain = next(g for g in rank_grid if g["ranks"] is None)["validation_ndcg@10"]
    with_slots = [g for g in rank_grid if g["ranks"] is not None]
    cheap = [g for g in with_slots if g["validation_ndcg@10"] >= (1 - WHOLE_LOSS) * plain]
    return {
        RULE_COLD: max(cheap or with_slots, key=lambda g: g["validation_cold_ndcg@10"]),
        RULE_WHOLE: max(with_slots, key=lambda g: g["validation_ndcg@10"]),
    }


def new_items(
    name: str, proto: datasets.Protocol, catalog: pd.DataFrame, tune: bool
) -> dict[str, Any]:
    val_cold = cold_truth(proto.validation, proto.fit)
    out: dict[str, Any] = {"validation_cold_pairs": len(val_cold)}
    params: dict[str, Any] = {}
    choices = {"code defaults": {"ranks": list(DEFAULT_RANKS), "min_score": 0.0}}
    if tune and len(val_cold):
        val_users = proto.validation["user_id"].unique()
        grid = []
        for label, candidate in CONTENT_GRID.items():
            recs, _ = cold_lists(
                proto.fit, catalog, val_users, candidate, RANKS_GRID[0], proto.exclude_seen
            )
            grid.append({"content": label, "params": candidate,
                         "validation_cold_ndcg@10": float(
                             ndcg_table(recs, val_cold)["ndcg@10"].mean())})  # fmt: skip
        params = max(grid, key=lambda g: g["validation_cold_ndcg@10"])["params"]
        rank_grid = []
        settings = [(None, 0.0)] + [(r, m) for r in RANKS_GRID for m in MIN_SCORES]
        for candidate_ranks, candidate_min in settings:
            recs, cold = cold_lists(proto.fit, catalog, val_users, params, candidate_ranks,
                                    proto.exclude_seen, candidate_min)  # fmt: skip
            rank_grid.append({
                "ranks": candidate_ranks,
                "min_score": candidate_min,
                "validation_ndcg@10": float(ndcg_table(recs, proto.validation)["ndcg@10"].mean()),
                "validation_cold_ndcg@10": float(ndcg_table(recs, val_cold)["ndcg@10"].mean()),
                "lists_with_a_cold_item": share_with_cold(recs, cold),
            })  # fmt: skip
        choices = choose_slots(rank_grid)
        out.update(content_grid=grid, ranks_grid=rank_grid)
    test_cold = cold_truth(proto.test, proto.full_train)
    users = proto.test["user_id"].unique()
    plain, cold = cold_lists(proto.full_train, catalog, users, params, None, proto.exclude_seen)
    base = (ndcg_table(plain, proto.test), ndcg_table(plain, test_cold))
    pop_recs = popular_recs(proto.full_train, users, None)
    out.update(
        content_params=params,
        # the full configuration measured (tests/models/test_defaults_record.py checks it)
        content_config=Content(seed=SEED, **params).config.model_dump(mode="json"),
        cold_items_in_test=int(test_cold["item_id"].nunique()),
        cold_items_in_content=len(cold),
        cold_pairs=len(test_cold),
        popularity_item_cold=summary(ndcg_table(pop_recs, test_cold)),
        ease={"all": summary(base[0]), "item:cold": summary(base[1])},
        choices={},
    )
    for rule, chosen in choices.items():
        ranks, min_score = tuple(chosen["ranks"]), float(chosen["min_score"])
        log(f"{name} new items ({rule}): content {params or 'defaults'}, ranks {ranks}, "
            f"min_score {min_score}")  # fmt: skip
        slotted, cold = cold_lists(
            proto.full_train, catalog, users, params, ranks, proto.exclude_seen, min_score
        )
        whole, cold_t = ndcg_table(slotted, proto.test), ndcg_table(slotted, test_cold)
        row: dict[str, Any] = {
            "ranks": list(ranks),
            "min_score": min_score,
            "lists_with_a_cold_item": share_with_cold(slotted, cold, k=10),
            "test": {"all": summary(whole), "item:cold": summary(cold_t)},
        }
        if len(test_cold):
            observed = float(cold_t["ndcg@10"].mean())
            row["paired_item_cold"] = metrics.paired_tests(cold_t["ndcg@10"], base[1]["ndcg@10"])
            row["paired_all"] = metrics.paired_tests(whole["ndcg@10"], base[0]["ndcg@10"])
            row["permutation"] = permutation_test(slotted, cold, test_cold, observed)
        out["choices"][rule] = row
    return out


def ml_catalog() -> pd.DataFrame:
    items = read_movielens(datasets.ML100K).items
    assert items is not None
    return items.drop(columns=["release_date"])


def _p(value: float) -> str:
    return f"{value:.1e}" if value < 1e-3 else f"{value:.3f}"


def _slot_cost(items: dict[str, Any]) -> list[str]:
    """The validation-vs-test cost of the primary slot setting, in words."""
    grid = items.get("ranks_grid")
    row = items["choices"].get(RULE_COLD)
    if not grid or row is None:
        return []
    plain = next(g for g in grid if g["ranks"] is None)["validation_ndcg@10"]
    val = next(g for g in grid if g["ranks"] == row["ranks"] and g["min_score"] == row["min_score"])
    return [
        f"The slots cost more on test than on validation: the whole list's NDCG@10 moved "
        f"{val['validation_ndcg@10'] / plain - 1:+.1%} on the validation month, where the slots "
        f"hit more (item:cold NDCG@10 {val['validation_cold_ndcg@10']:.4f}), and "
        f"{row['paired_all']['relative_gain']:+.1%} on test "
        f"({row['test']['item:cold']['ndcg@10']:.4f}). Exposure of new "
        "items is bought with accuracy on the rest; a shop that weighs the whole list more "
        "raises `ColdItems.min_score` (0.3: a new item only when it resembles the history) or "
        "keeps one slot at rank 10 (the validation grid is in the results file).",
        "",
    ]


def render_section(res: dict[str, Any]) -> str:
    """The "Cold start" section of docs/benchmarks.md from ``cold_start.json``."""
    cust = res["new_customers"]
    chosen = cust["chosen"]
    lines = [
        "## Cold start: new customers and new items",
        "",
        "Generated by `bench/accuracy/cold_start.py` (`bench/results/cold_start.json`; command: "
        f"`{res['command']}`, {res['wall_s'] / 60:.1f} min on 2 CPUs shared with other jobs, "
        f"load average {res['load_average_before'][0]:.1f} before and "
        f"{res['load_average_after'][0]:.1f} after). Splits are the main tables' "
        "(`bench/accuracy/datasets.py`); every choice below was made on the validation month, "
        "never on test.",
        "",
        f"### New customers (Online Retail, {cust['users']} customers first seen in the test "
        "period; relevant = all their test purchases)",
        "",
        "| zero-history list | NDCG@10 | Recall@20 | Precision@10 | vs tailor cold start: "
        "p (t) | p (Wilcoxon) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in cust["test"].items():
        tests = cust["paired"].get(name)
        ps = f"{_p(tests['t_pvalue'])} | {_p(tests['wilcoxon_pvalue'])}" if tests else "- | -"
        lines.append(
            f"| {name} | {row['ndcg@10']:.4f} | {row['recall@20']:.4f} | "
            f"{row['precision@10']:.4f} | {ps} |"
        )
    target = cust["target"]
    ours = cust["test"]["tailor cold start"]["ndcg@10"]
    by_country = cust["test"]["popular by country"]["ndcg@10"]
    lines += [
        "",
        f"tailor cold start = per-country popularity with `Popularity(half_life_days="
        f"{chosen['half_life_days']:g})` and `global_weight={chosen['global_weight']:g}` "
        f"(`Pipeline.build(..., segments=country, segment_blend="
        f"{chosen['global_weight']:g})`), chosen among {len(cust['validation_grid'])} settings "
        f"on the {cust['validation_users']} new customers of the validation month. "
        f"{ours:.4f} = {ours / by_country:.2f} x popular-by-country; target >= 0.109: "
        f"{'met' if target['met'] else '**not met**'}.",
        "",
    ]
    fb = cust["first_basket"]
    lines += [
        f"**Once they act**: the first basket of each new customer revealed (mean "
        f"{fb['basket_items_mean']:.1f} items), the rest of their test purchases scored "
        f"({fb['users']} customers with a later purchase outside their first basket):",
        "",
        "| list | NDCG@10 | Recall@20 | Precision@10 | vs zero history: p (t) | p (Wilcoxon) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in fb["test"].items():
        tests = fb["paired_vs_zero_history"].get(name)
        ps = f"{_p(tests['t_pvalue'])} | {_p(tests['wilcoxon_pvalue'])}" if tests else "- | -"
        lines.append(
            f"| {name} | {row['ndcg@10']:.4f} | {row['recall@20']:.4f} | "
            f"{row['precision@10']:.4f} | {ps} |"
        )
    ease_p = fb["paired_vs_zero_history"]["ease session"]
    lines += [
        "",
        "Sessions go through `Pipeline.recommend_history` (the basket as the history; short "
        f"lists backfilled from the country's list). Only {fb['users']} customers qualify, so "
        "the gain of EASE's session list is suggestive, not established "
        f"(p {_p(ease_p['t_pvalue'])} by the t-test, {_p(ease_p['wilcoxon_pvalue'])} by "
        "Wilcoxon); the content model's profile of a first basket does worse than the "
        "country list.",
        "",
    ]
    for key, title in (("retail_items", "Online Retail"), ("ml100k_items", "MovieLens 100K")):
        items = res.get(key)
        if not items:
            continue
        lines += [
            f"### New items, {title} (item:cold: test pairs of items absent from training, "
            f"{items['cold_pairs']} pairs, {items['cold_items_in_test']} items)",
            "",
        ]
        if not items["cold_pairs"]:
            lines += ["No cold items in this split's test part.", ""]
            continue
        pop, base = items["popularity_item_cold"], items["ease"]
        lines += [
            "| list | slots (ranks, min score) | top-10 lists with a new item | NDCG@10 (all) "
            "| NDCG@10 (item:cold) | Recall@20 (item:cold) | p item:cold (t / Wilcoxon / "
            "permutation) | p all (t) |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
            f"| popularity | - | 0% | - | {pop['ndcg@10']:.4f} | {pop['recall@20']:.4f} | - | - |",
            f"| ease | - | 0% | {base['all']['ndcg@10']:.4f} | "
            f"{base['item:cold']['ndcg@10']:.4f} | {base['item:cold']['recall@20']:.4f} | - | - |",
        ]
        for rule, row in items["choices"].items():
            pair, perm, whole = row["paired_item_cold"], row["permutation"], row["paired_all"]
            lines.append(
                f"| ease + content slots ({rule}) | {row['ranks']}, {row['min_score']:g} | "
                f"{row['lists_with_a_cold_item']:.0%} | {row['test']['all']['ndcg@10']:.4f} "
                f"({whole['relative_gain']:+.1%}) | {row['test']['item:cold']['ndcg@10']:.4f} | "
                f"{row['test']['item:cold']['recall@20']:.4f} | {_p(pair['t_pvalue'])} / "
                f"{_p(pair['wilcoxon_pvalue'])} / {_p(perm['p_value'])} | "
                f"{_p(whole['t_pvalue'])} |"
            )
        lines += [
            "",
            f"{base['item:cold']['users']} users have a new item among their test purchases; "
            f"{items['cold_items_in_content']} catalogue items are new to the model. Content "
            f"settings: {items['content_params'] or 'defaults'}. The permutation test fills the "
            f"same slots with new items drawn at random from the same candidates "
            f"({next(iter(items['choices'].values()))['permutation']['draws']} draws).",
            "",
        ]
        lines += _slot_cost(items)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", action="store_true",
                        help="print the docs section of the recorded results and stop")  # fmt: skip
    if parser.parse_args(argv).section:
        print(render_section(json.loads(RESULTS.read_text())))
        return 0
    started = time.perf_counter()
    load_before = os.getloadavg()
    results: dict[str, Any] = {"seed": SEED, "n": N, "load_average_before": load_before}
    raw = retail_raw()
    frame = datasets.load_retail()
    proto = datasets.retail_topn(novel_only=True)
    countries = retail_countries(raw)
    log("new customers")
    results["new_customers"] = new_customers(proto, frame, countries)
    log("new items: Online Retail")
    results["retail_items"] = new_items("retail", proto, retail_catalog(raw), tune=True)
    log("new items: MovieLens 100K")
    results["ml100k_items"] = new_items("ml100k", datasets.ml100k_topn(), ml_catalog(), tune=False)
    results["wall_s"] = time.perf_counter() - started
    results["load_average_after"] = os.getloadavg()
    results["command"] = ".venv/bin/python bench/accuracy/cold_start.py"
    with output_file(RESULTS) as tmp:  # whole or nothing
        tmp.write_text(json.dumps(results, indent=2, default=float) + "\n")
    log(f"wrote {RESULTS} in {results['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
