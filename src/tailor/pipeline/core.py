"""The recommendation pipeline: one object from a model folder to the lists users get.

user history -> candidates (the model's score rows, or an ANN index's candidates above a
catalogue size) -> business filters (seen, exclude list, availability, category, a caller's
predicate) -> top-n (:func:`~tailor.models._topn.masked_top_n`) -> backfill from the popular
lists (global, per category, per user segment) with the same filters -> an optional explanation
hook. ``tailor recommend``, ``evaluate_model``, the server's precompute and its live scoring all
call this object, so what is evaluated is what is served.

Two paths give identical lists (``tests/pipeline/test_contract.py``): :meth:`Pipeline.recommend`
(batch: blocks of users, one score matrix and one kernel pass per block) and
:meth:`Pipeline.recommend_user` (one user: the server's hot path, with per-version index arrays).
Ties are ordered by lower item number. Models scored through BLAS (factor models) may differ in
the last bits between a block and a single row, so two almost equal scores can swap places
between the paths; models scored row by row (popularity, ItemKNN, EASE) are bit-identical.

Every requested user is in the result: a known user gets ``source=model`` (the model's list,
backfilled from the popular lists when the filters leave fewer than ``n`` items), an unknown user
``source=cold_start`` (popular items), and without a model every user gets ``source=fallback``.
A user whose list stays empty (no fallback, or filters that remove everything) is reported in
:attr:`PipelineResult.users` with ``n_items = 0``, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.errors import ConfigError
from tailor.models.base import Recommender, SupportsHistory
from tailor.models.explain import Explanation
from tailor.pipeline.ann import AnnIndex, AnnSettings, build_ann
from tailor.pipeline.catalog import Catalog
from tailor.pipeline.cold import ColdItems, slot_in
from tailor.pipeline.explanations import DEFAULT_TOP, explain_items, scored_history
from tailor.pipeline.filters import ItemFilter, ItemList, ItemPredicate, apply_filters, backfill
from tailor.pipeline.popular import PopularLists
from tailor.pipeline.scoring import (
    ModelIndex,
    no_evidence,
    score_block,
    score_history,
    score_user,
    seen_nums,
)

SOURCE_MODEL = "model"
"""The model's list (backfilled from the popular lists when short)."""
SOURCE_COLD_START = "cold_start"
"""A user the model does not know: popular items."""
SOURCE_FALLBACK = "fallback"
"""No model (or it failed): popular items."""
SOURCE_SESSION = "session"
"""A history without a row in the model (a session's recent items, a request's context):
scored through ``score_history`` (:meth:`Pipeline.recommend_history`)."""
POPULARITY_DIR = "popularity"
"""The fallback's folder inside a model folder (``ModelDir.POPULARITY``)."""
CONTENT_DIR = "content"
"""The content model of a model folder, the source of cold-item slots (``ModelDir.CONTENT``)."""
CATALOG_FILE = "items.parquet"
"""The catalogue inside a model folder (``ModelDir.CATALOG``)."""
USERS_FILE = "users.parquet"
"""Optional users table of a model folder (``user_id`` + attributes such as ``country``)."""
FALLBACK_SIZE = 200
"""Items per popular list (global, each category, each segment): the most any fallback or
backfill can add. The server's ``fallback_size`` setting has the same default."""
BLOCK_USERS = 2048
"""Users scored per block by the batch path: bounds memory at BLOCK_USERS x n_items floats."""
EXPLANATION = "explanation"
DEFAULT_ANN = AnnSettings()
"""The server's default ANN settings (``ann_min_items`` 50,000...)."""


@dataclass(frozen=True)
class Query:
    """What a caller asks for; the same options for one user or many.

    Attributes:
        n: list length.
        category: only items of this catalogue category.
        exclude: item ids never to return.
        exclude_seen: leave out the items each user interacted with in training.
        segment: the user segment (e.g. a country) whose popular list fills cold-start and
            short lists; None: the users table's segment of the user, if any.
        predicate: a caller's rule, item_id -> may be recommended.
    """

    n: int = 10
    category: str | None = None
    exclude: frozenset[str] = frozenset()
    exclude_seen: bool = True
    segment: str | None = None
    predicate: ItemPredicate | None = None


class Explainer(Protocol):
    """The explanation hook: reasons for one user's list (one entry per item, None: none)."""

    def __call__(
        self, user_id: str, user_num: int | None, items: ItemList
    ) -> Sequence[str | None]: ...


@dataclass(frozen=True)
class UserList:
    """One user's answer.

    Attributes:
        items: (item_id, score), best first.
        source: ``model``, ``cold_start`` or ``fallback``.
        backfilled: how many of ``items`` (the last ones) came from the popular lists to fill a
            short model list.
        explanations: one entry per item when the pipeline has an explainer.
    """

    items: ItemList
    source: str
    backfilled: int = 0
    explanations: Sequence[str | None] | None = None


@dataclass(frozen=True)
class PipelineResult:
    """Lists for many users.

    Attributes:
        recs: one row per (user, item): user_id, item_id, rank (from 1), score, source (and
            explanation with an explainer); users in request order.
        users: one row per requested user, in request order: user_id, source, n_items,
            backfilled. Users with ``n_items == 0`` got nothing (reported, not dropped).
    """

    recs: pd.DataFrame
    users: pd.DataFrame

    @property
    def empty_users(self) -> np.ndarray:
        """Requested users whose list is empty."""
        empty: np.ndarray = self.users.loc[self.users["n_items"] == 0, Columns.USER_ID].to_numpy()
        return empty

    def lists(self) -> dict[str, ItemList]:
        """user_id -> (item_id, score) list, for every requested user (empty ones included)."""
        out: dict[str, ItemList] = {u: [] for u in self.users[Columns.USER_ID].tolist()}
        frame = self.recs
        for user, item, score in zip(
            frame[Columns.USER_ID].tolist(),
            frame[Columns.ITEM_ID].tolist(),
            frame[Columns.SCORE].tolist(),
            strict=True,
        ):
            out[user].append((item, score))
        return out


@dataclass(frozen=True)
class Pipeline:
    """A model version ready to produce lists: model, catalogue, popular lists, segments.

    Build it with :meth:`from_model_dir` (a ``tailor fit`` folder) or :meth:`build` (objects in
    memory). Immutable: the server swaps whole pipelines on reload.

    Attributes:
        model: the fitted model (None: popular lists only).
        catalog: categories and availability.
        popular: the fallback lists.
        index: the model's items as arrays for masks (None without a model).
        ann: candidate index of a factor model over a large catalogue (None: exact scoring).
        segments: user_id -> segment, from the model folder's users table.
        explainer: the explanation hook (None: no explanations).
        cold_items: new items slotted into model lists from a content model (None: none).
        segment_blend: the requested weight of the global trend in each segment's popular list
            (None: :func:`segment_blend_for`'s default for the popularity artifact); kept so
            the server rebuilds refreshed lists the same way.
    """

    model: Recommender | None = None
    catalog: Catalog = field(default_factory=Catalog)
    popular: PopularLists = field(default_factory=PopularLists)
    index: ModelIndex | None = None
    ann: AnnIndex | None = None
    segments: Mapping[str, str] = field(default_factory=dict)
    explainer: Explainer | None = None
    cold_items: ColdItems | None = None
    segment_blend: float | None = None

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        model: Recommender | None,
        popularity: Any = None,
        *,
        catalog: Catalog | pd.DataFrame | None = None,
        fallback_size: int = FALLBACK_SIZE,
        segments: Mapping[str, str] | None = None,
        ann: AnnSettings | AnnIndex | None = None,
        explainer: Explainer | None = None,
        cold_items: ColdItems | Recommender | None = None,
        segment_blend: float | None = None,
    ) -> Pipeline:
        """A pipeline over objects in memory.

        Args:
            model: a fitted model (``score_rows``, ``users``, ``items``, ``seen``) or None.
            popularity: the fallback (a fitted Popularity); None: no fallback, so unknown users
                get empty lists and short lists stay short.
            catalog: a Catalog, or a catalogue frame (``item_id``, optional ``category``,
                ``available``); without categories, the ones ``popularity`` recorded.
            fallback_size: items per popular list.
            segments: user_id -> segment (e.g. country) for per-segment popular lists.
            ann: settings of an ANN index (built when the model is a factor model with enough
                items), or a built index.
            explainer: the explanation hook.
            cold_items: new items for model lists: a :class:`~tailor.pipeline.cold.ColdItems`,
                or a fitted content model (its items the model cannot score, default slots).
            segment_blend: weight of the global popularity in each segment's list
                (``PopularLists.build``'s ``global_weight``; 0: the segment's own counts;
                None: :func:`segment_blend_for` ``popularity``, the validated default).
        """
        if isinstance(catalog, pd.DataFrame):
            catalog = Catalog.from_frame(catalog)
        catalog = catalog or Catalog()
        if popularity is not None and not catalog.category_of:
            catalog = replace(catalog, category_of=Catalog.from_popularity(popularity).category_of)
        popular = (
            PopularLists.build(
                popularity,
                catalog,
                fallback_size,
                segments,
                global_weight=segment_blend_for(popularity, segment_blend),
            )
            if popularity is not None
            else PopularLists()
        )
        index = ModelIndex.build(model, catalog) if model is not None else None
        ann_index = ann if isinstance(ann, AnnIndex) or ann is None else build_ann(model, ann)
        if cold_items is not None and not isinstance(cold_items, ColdItems):
            if model is None:
                raise ConfigError("cold items need a model whose lists they join")
            cold_items = ColdItems.build(cold_items, model)
        return cls(
            model,
            catalog,
            popular,
            index,
            ann_index,
            dict(segments or {}),
            explainer,
            cold_items,
            segment_blend,
        )

    @classmethod
    def from_model_dir(
        cls,
        path: Path | str,
        *,
        fallback_size: int = FALLBACK_SIZE,
        segment_column: str | None = None,
        users_table: pd.DataFrame | Path | None = None,
        ann: AnnSettings | None = DEFAULT_ANN,
        explainer: Explainer | None = None,
        cold_item_slots: Sequence[int] = (),
        segment_blend: float | None = None,
    ) -> Pipeline:
        """The pipeline of a ``tailor fit`` folder: the model, ``popularity/`` (else the model
        itself when it is a Popularity), ``items.parquet`` and, with ``segment_column``, the
        segments of ``users_table`` (default: the folder's ``users.parquet``).

        ``ann`` defaults to the server's default settings (an HNSW index for factor models of
        at least 50,000 items), so ``tailor recommend`` lists are the ones a default server
        gives; None scores every item exactly.

        ``cold_item_slots``: list ranks (from 1) that each take the user's best new item from
        the folder's ``content/`` model (:mod:`tailor.pipeline.cold`); empty (default): no
        slots, a shop's opt-in (docs/models.md, "Content and cold start"). ``segment_blend``:
        as in :meth:`build` (None: the validated default for the folder's fallback). The server
        (``cold_item_slots``, ``segment_blend`` settings) and ``tailor recommend`` pass the
        same values here, so their lists are the evaluated ones.

        Raises:
            ArtifactError: the folder, its model or its catalogue cannot be read.
            ConfigError: ``segment_column`` is not a column of the users table, or slots are
                asked of a folder without a content model, or they are not distinct ranks >= 1.
        """
        from tailor.models.model_dir import ModelDir

        folder = ModelDir.load(path)
        model: Recommender = folder.model
        popularity: Any = folder.popularity
        if popularity is None and hasattr(model, "top_items"):  # a Popularity model folder
            popularity = model
        catalog = Catalog.read(folder.catalog_file) if folder.catalog_file is not None else None
        segments = None
        if segment_column is not None:
            table = users_table if users_table is not None else Path(path) / USERS_FILE
            segments = read_segments(table, segment_column)
        return cls.build(
            model,
            popularity,
            catalog=catalog,
            fallback_size=fallback_size,
            segments=segments,
            ann=ann,
            explainer=explainer,
            cold_items=cold_items_of(folder.content, model, cold_item_slots, folder.path),
            segment_blend=segment_blend,
        )

    @cached_property
    def _cold_ids(self) -> frozenset[str]:
        """The cold items' ids (empty without slots): left out of the model's part of a list."""
        return frozenset() if self.cold_items is None else frozenset(self.cold_items.item_ids)

    def with_popular(self, popular: PopularLists) -> Pipeline:
        """The same pipeline with fresh popular lists."""
        return replace(self, popular=popular)

    # ---- lookups ------------------------------------------------------------------------
    def user_num(self, user_id: str) -> int | None:
        """The model's number for ``user_id`` (None when unknown or without a model)."""
        return None if self.model is None else self.model.users.number(user_id)

    def seen_items(self, user_num: int | None) -> frozenset[str]:
        """Items the user interacted with in training (empty for None)."""
        if user_num is None or self.index is None or self.model is None:
            return frozenset()
        return frozenset(self.index.item_ids[seen_nums(self.model, user_num)].tolist())

    def segment_of(self, user_id: str, query: Query) -> str | None:
        """The query's segment, else the users table's segment of ``user_id``."""
        return query.segment if query.segment is not None else self.segments.get(user_id)

    def rule(self, query: Query, seen: frozenset[str] = frozenset()) -> ItemFilter:
        """The query's filters as a rule on item ids (``seen``: the user's, when excluded)."""
        return ItemFilter(
            exclude=query.exclude,
            seen=seen,
            category=query.category,
            category_of=self.catalog.category_of,
            unavailable=self.catalog.unavailable,
            predicate=query.predicate,
        )

    def pool(self, user_id: str, query: Query) -> ItemList:
        """The popular list that fills ``user_id``'s list (category, else segment, else
        global)."""
        return self.popular.top(query.category, self.segment_of(user_id, query))

    # ---- one user (the server's path) ---------------------------------------------------
    def model_list(self, user_num: int, query: Query, n: int | None = None) -> ItemList:
        """The model's part of a list: candidates, filters, top-``n`` (default ``query.n``);
        shorter when the filters leave fewer finite scores. No backfill. With cold items, the
        user's best new items take their rank slots (:mod:`tailor.pipeline.cold`) and never
        the model's own places (its score of an item without interactions means nothing), so a
        list of ``n`` is the first ``n`` of any longer one, as the server's cache needs."""
        assert self.index is not None and self.model is not None, "model_list needs a model"
        size = query.n if n is None else n
        items = score_user(
            self.model,
            self.index,
            user_num,
            size,
            category=query.category,
            exclude=query.exclude | self._cold_ids,
            exclude_seen=query.exclude_seen,
            predicate=query.predicate,
            ann=self.ann,
        )
        if self.cold_items is None:
            return items
        user_id = str(self.model.users.id_of(np.array([user_num]))[0])
        return self._slot_cold(user_num, items, query, size, self.cold_items.scores([user_id])[0])

    def _slot_cold(
        self, user_num: int, items: ItemList, query: Query, n: int, scores: np.ndarray
    ) -> ItemList:
        """``items`` with the user's best cold items (content ``scores``) in their slots."""
        cold = self.cold_items
        assert cold is not None
        k = cold.slots(n)
        if not k:
            return items
        seen = self.seen_items(user_num) if query.exclude_seen else frozenset()
        picks = cold.picks(scores, k, self.rule(query, seen), {i for i, _ in items})
        return slot_in(items, picks, cold.ranks, n)

    def finish(self, user_id: str, user_num: int | None, items: ItemList, query: Query) -> UserList:
        """A model list made whole: backfilled from the popular lists (same filters, the
        user's seen items left out when excluded) when shorter than ``query.n``, then
        explained."""
        if len(items) < query.n:
            seen = self.seen_items(user_num) if query.exclude_seen else frozenset()
            full = backfill(items, query.n, self.pool(user_id, query), self.rule(query, seen))
        else:
            full = items[: query.n]
        return self._explained(user_id, user_num, full, SOURCE_MODEL, len(full) - len(items))

    def from_stored(
        self, user_id: str, user_num: int, stored: ItemList, query: Query, *, complete: bool
    ) -> UserList | None:
        """The answer from a stored model list (the cache's: top-N with seen and unavailable
        items left out, no other filter): the request's filters, then backfill when the stored
        list held every candidate (``complete``). None when it is too short and was cut:
        score live instead. With cold-item slots, a query with its own filters (category,
        exclude list, predicate) is scored live too: the slots must hold the best new items that
        pass them, which a filtered stored list cannot give."""
        if self.cold_items is not None and (query.category or query.exclude or query.predicate):
            return None
        items = apply_filters(stored, query.n, self.rule(query))
        if len(items) >= query.n:
            return self._explained(user_id, user_num, items, SOURCE_MODEL, 0)
        if not complete:
            return None
        return self.finish(user_id, user_num, items, query)

    def recommend_user(self, user_id: str, query: Query) -> UserList:
        """One user's whole answer: the model's list (backfilled) for a known user, popular
        items for an unknown one (``cold_start``) or without a model (``fallback``)."""
        user_num = self.user_num(user_id)
        if user_num is None:
            return self.cold_start(user_id, query)
        return self.finish(user_id, user_num, self.model_list(user_num, query), query)

    def cold_start(self, user_id: str, query: Query) -> UserList:
        """Popular items for a user the model does not know (``fallback`` without a model)."""
        source = SOURCE_FALLBACK if self.model is None else SOURCE_COLD_START
        items = apply_filters(self.pool(user_id, query), query.n, self.rule(query))
        return self._explained(user_id, None, items, source, 0)

    def fallback(self, user_id: str, query: Query) -> UserList:
        """Popular items instead of the model's list (it failed or ran out of time), the
        user's seen items left out when excluded."""
        user_num = self.user_num(user_id)
        seen = self.seen_items(user_num) if query.exclude_seen else frozenset()
        items = apply_filters(self.pool(user_id, query), query.n, self.rule(query, seen))
        return UserList(items, SOURCE_FALLBACK)

    def recommend_history(self, key: str, item_ids: Sequence[str], query: Query) -> UserList:
        """The list for a history the model has no row for: an anonymous session's recent
        items, or a known user's training items plus the items of the request's context.

        ``key`` is a user id or a session id; ``item_ids`` are the history's items, oldest
        first (unknown ones are ignored for scoring). The scored history is the user's own
        (``user_history``: their profile, with its weights and order) when ``key`` is known to
        the model, then ``item_ids`` (weight 1 each), through the model's ``score_history``
        (``SupportsHistory``); then the filters of any list: with
        ``exclude_seen``, the user's training items and every item of ``item_ids`` count as
        seen; availability, category, the exclude list, the predicate; top-n; backfill from the
        popular lists (``source=session``). When nothing can be scored (no model, a model
        without ``score_history`` such as Popularity, or no known item in ``item_ids``) the
        answer is the one without a history under the same exclusions: the user's usual list
        for a known user (``model``), the popular list for an unknown key (``cold_start``; or
        ``fallback`` without a model).
        """
        history_ids = [str(i) for i in item_ids]
        if query.exclude_seen and history_ids:
            query = replace(query, exclude=query.exclude | frozenset(history_ids))
        user_num = self.user_num(key)
        model, index = self.model, self.index
        known = [] if model is None else [model.items.number(i) for i in history_ids]
        nums = np.array([k for k in known if k is not None], dtype=np.int64)
        if (
            model is None
            or index is None
            or not isinstance(model, SupportsHistory)
            or not len(nums)
        ):
            if user_num is None:
                return self.cold_start(key, query)
            return self.finish(key, user_num, self.model_list(user_num, query), query)
        trained = seen_nums(model, user_num) if user_num is not None else np.empty(0, np.int64)
        history, weights = scored_history(model, user_num, nums)  # the user's own, then nums
        banned = index.item_nums(model, query.exclude)
        if query.exclude_seen:
            banned = np.concatenate([trained, banned])
        items = score_history(
            model,
            index,
            history,
            query.n,
            weights=weights,
            category=query.category,
            banned=banned,
            predicate=query.predicate,
            missing=no_evidence(model),
        )
        if len(items) < query.n:
            seen = self.seen_items(user_num) if query.exclude_seen else frozenset()
            full = backfill(items, query.n, self.pool(key, query), self.rule(query, seen))
        else:
            full = items
        return self._explained(key, user_num, full, SOURCE_SESSION, len(full) - len(items))

    def explain(
        self,
        user_id: str,
        items: ItemList,
        context_ids: Sequence[str] = (),
        top: int = DEFAULT_TOP,
    ) -> list[Explanation | None]:
        """Structured explanations of a list this pipeline gave ``user_id`` (a user or session
        id), one per item, None where nothing explains it: the ``top`` contributions to each
        item's model score from the history the list was scored with (the user's own, then
        ``context_ids``, the history :meth:`recommend_history` was given). Computed only when
        called; see :mod:`tailor.pipeline.explanations`."""
        item_ids = [item for item, _ in items]
        return explain_items(self.model, self.user_num(user_id), item_ids, context_ids, top)

    def _explained(
        self, user_id: str, user_num: int | None, items: ItemList, source: str, backfilled: int
    ) -> UserList:
        reasons = None if self.explainer is None else self.explainer(user_id, user_num, items)
        return UserList(items, source, backfilled, reasons)

    # ---- many users (tailor recommend, evaluation, precompute) --------------------------
    def recommend(
        self,
        user_ids: Any,
        query: Query = Query(),
        *,
        segments: Mapping[str, str] | None = None,
        backfill_short: bool = True,
        block: int = BLOCK_USERS,
    ) -> PipelineResult:
        """Lists for many users (distinct, request order kept); the same lists as
        :meth:`recommend_user` gives each of them.

        Args:
            user_ids: external ids (duplicates are answered once).
            query: the options, for every user (``query.segment`` for all of them).
            segments: user_id -> segment for this call (e.g. a users file's ``country``),
                before the pipeline's users table.
            backfill_short: False leaves short model lists short (the server's precompute
                stores the model's part only).
            block: users scored at once.
        """
        if query.n < 1:
            raise ConfigError(f"n must be at least 1, got {query.n}")
        ids = np.asarray(
            pd.unique(pd.Series(np.asarray(user_ids, dtype=object)).astype(str)), dtype=str
        )
        nums = (
            self.model.users.numbers(ids)
            if self.model is not None
            else np.full(len(ids), -1, np.int64)
        )
        seg_of = self._segment_lookup(query, segments)
        rows = _Rows()
        sources = np.full(len(ids), SOURCE_MODEL, dtype="<U16")
        filled = np.zeros(len(ids), np.int64)
        known = np.flatnonzero(nums >= 0)
        if len(known):
            self._model_lists(ids, nums, known, query, seg_of, backfill_short, block, rows, filled)
        unknown = np.flatnonzero(nums < 0)
        sources[unknown] = SOURCE_FALLBACK if self.model is None else SOURCE_COLD_START
        rule = self.rule(query)
        by_segment: dict[str | None, list[int]] = {}
        for k in unknown.tolist():
            by_segment.setdefault(seg_of(ids[k]), []).append(k)
        for segment, users in by_segment.items():  # one list per segment, shared
            pool = self.popular.top(query.category, segment)
            rows.add_same(np.array(users, np.int64), apply_filters(pool, query.n, rule))
        return self._result(ids, nums, rows, sources, filled)

    def _segment_lookup(
        self, query: Query, segments: Mapping[str, str] | None
    ) -> Callable[[str], str | None]:
        if query.segment is not None:
            return lambda _user: query.segment
        extra = segments or {}
        table = self.segments
        return lambda user: extra.get(user, table.get(user))

    def _model_lists(
        self,
        ids: np.ndarray,
        nums: np.ndarray,
        known: np.ndarray,
        query: Query,
        seg_of: Callable[[str], str | None],
        backfill_short: bool,
        block: int,
        out: _Rows,
        filled: np.ndarray,
    ) -> None:
        """Score the known users block by block (full lists stay arrays); backfill the short
        lists one by one."""
        assert self.index is not None and self.model is not None
        index, model = self.index, self.model
        allowed = index.allowed(query.category, query.predicate)
        excluded = index.item_nums(model, query.exclude | self._cold_ids)
        item_strs = np.asarray(model.items.ids, dtype=str)
        for start in range(0, len(known), block):
            users = known[start : start + block]
            idx, vals = score_block(
                model,
                index,
                nums[users].astype(np.int64),
                query.n,
                allowed=allowed,
                excluded=excluded,
                exclude_seen=query.exclude_seen,
                ann=self.ann,
            )
            if self.cold_items is not None:
                self._cold_block(ids, nums, users, idx, vals, query, seg_of, backfill_short, out,
                                 filled)  # fmt: skip
                continue
            finite = np.isfinite(vals)  # a prefix of each row: masked_top_n fills best first
            short = finite.sum(axis=1) < query.n if backfill_short else np.zeros(len(users), bool)
            r, c = np.nonzero(finite & ~short[:, None])  # row-major: rank order within a user
            out.add(users[r], item_strs[idx[r, c]], vals[r, c])
            for row in np.flatnonzero(short).tolist():
                k = int(users[row])
                count = int(finite[row].sum())
                items = index.to_list(idx[row, :count], vals[row, :count])
                seen = self.seen_items(int(nums[k])) if query.exclude_seen else frozenset()
                pool = self.popular.top(query.category, seg_of(ids[k]))
                items = backfill(items, query.n, pool, self.rule(query, seen))
                filled[k] = len(items) - count
                out.add_same(np.array([k], np.int64), items)

    def _cold_block(
        self,
        ids: np.ndarray,
        nums: np.ndarray,
        users: np.ndarray,
        idx: np.ndarray,
        vals: np.ndarray,
        query: Query,
        seg_of: Callable[[str], str | None],
        backfill_short: bool,
        out: _Rows,
        filled: np.ndarray,
    ) -> None:
        """A scored block with cold-item slots, user by user (as :meth:`model_list` then
        :meth:`finish` do for one user)."""
        assert self.index is not None and self.cold_items is not None
        scores = self.cold_items.scores(ids[users].tolist())
        for row, k in enumerate(users.tolist()):
            user_num = int(nums[k])
            items = self.index.to_list(idx[row], vals[row])
            items = self._slot_cold(user_num, items, query, query.n, scores[row])
            count = len(items)
            if backfill_short and count < query.n:
                seen = self.seen_items(user_num) if query.exclude_seen else frozenset()
                pool = self.popular.top(query.category, seg_of(ids[k]))
                items = backfill(items, query.n, pool, self.rule(query, seen))
                filled[k] = len(items) - count
            out.add_same(np.array([k], np.int64), items)

    def _result(
        self,
        ids: np.ndarray,
        nums: np.ndarray,
        rows: _Rows,
        sources: np.ndarray,
        filled: np.ndarray,
    ) -> PipelineResult:
        pos, items, scores = rows.collect()
        sizes = np.bincount(pos, minlength=len(ids)).astype(np.int64)
        starts = np.cumsum(sizes) - sizes
        ranks = (np.arange(len(pos), dtype=np.int64) - np.repeat(starts, sizes) + 1).astype(
            np.int32
        )
        recs = pd.DataFrame(
            {
                Columns.USER_ID: ids[pos],
                Columns.ITEM_ID: items,
                Columns.RANK: ranks,
                Columns.SCORE: scores,
                Columns.SOURCE: sources[pos],
            }
        )
        if self.explainer is not None:
            reasons: list[str | None] = []
            for k in range(len(ids)):
                lst = list(
                    zip(
                        items[starts[k] : starts[k] + sizes[k]].tolist(),
                        scores[starts[k] : starts[k] + sizes[k]].tolist(),
                        strict=True,
                    )
                )
                num = int(nums[k]) if nums[k] >= 0 else None
                reasons.extend(self.explainer(str(ids[k]), num, lst))
            recs[EXPLANATION] = pd.Series(reasons, dtype=object)
        table = pd.DataFrame(
            {
                Columns.USER_ID: ids,
                Columns.SOURCE: sources,
                "n_items": sizes,
                "backfilled": filled,
            }
        )
        return PipelineResult(recs, table)


DEFAULT_SEGMENT_BLEND = 1.0
"""``segment_blend`` when the fallback decays (a popularity artifact with a half-life): on
Online Retail's new customers (validation month before 2011-11-09) the global blend helped at
every half-life from 3 to 30 days and weight 1 won with ``half_life_days=7`` (NDCG@10 0.1025 vs
0.1003 without it; test 0.1227 vs 0.0860 for plain per-country counts); on plain counts it did
not help (0.0913 vs 0.0916). ``bench/accuracy/cold_start.py``, docs/benchmarks.md."""


def segment_blend_for(popularity: Any, requested: float | None) -> float:
    """The global weight of the segments' popular lists: ``requested``, else (None)
    :data:`DEFAULT_SEGMENT_BLEND` for a fallback fitted with a half-life and 0 for plain
    counts (the choices validated on each)."""
    if requested is not None:
        return float(requested)
    config = getattr(popularity, "config", None)
    decays = getattr(config, "half_life_days", None) is not None
    return DEFAULT_SEGMENT_BLEND if decays else 0.0


def cold_items_of(
    content: Recommender | None, model: Recommender, slots: Sequence[int], where: Path | str
) -> ColdItems | None:
    """The cold items of a model folder for ``slots`` (None without slots).

    Raises:
        ConfigError: slots without a content model, or slots that are not distinct ranks >= 1.
    """
    if not slots:
        return None
    if content is None:
        raise ConfigError(
            f"cold-item slots {list(slots)} need a content model, and {where} has no content/ "
            "folder: refit with a catalogue that has titles, descriptions or categories "
            "(tailor fit --items ... --cold-items)"
        )
    try:
        return ColdItems.build(content, model, ranks=slots)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


class _Rows:
    """The rows of a batch result as array parts: (user position, item id, score), each
    user's rows in rank order within one part."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, positions: np.ndarray, items: np.ndarray, scores: np.ndarray) -> None:
        self._parts.append((np.asarray(positions, np.int64), items, np.asarray(scores, np.float32)))

    def add_same(self, positions: np.ndarray, items: ItemList) -> None:
        """The same list for every user in ``positions``."""
        if not items or not len(positions):
            return
        ids = np.array([i for i, _ in items], dtype=str)
        scores = np.array([v for _, v in items], dtype=np.float32)
        self.add(np.repeat(positions, len(items)), np.tile(ids, len(positions)),
                 np.tile(scores, len(positions)))  # fmt: skip

    def collect(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All rows ordered by user position (rank order kept within a user)."""
        if not self._parts:
            return np.empty(0, np.int64), np.empty(0, str), np.empty(0, np.float32)
        pos = np.concatenate([p for p, _, _ in self._parts])
        items = np.concatenate([i for _, i, _ in self._parts])
        scores = np.concatenate([s for _, _, s in self._parts])
        order = np.argsort(pos, kind="stable")
        return pos[order], items[order], scores[order]


def read_segments(table: pd.DataFrame | Path, column: str) -> dict[str, str]:
    """user_id -> segment from a users table (a frame or a Parquet/CSV file); users without a
    value have no segment. Ids follow the one id rule (``tailor.data.ids.normalise_ids``), so a
    user_id read as ``17850.0`` (or the text ``"17850.0"``) is the user ``"17850"``.

    Raises:
        ConfigError: the table is missing or lacks ``user_id`` or ``column``.
        DataError: a user_id that is a float with a fraction.
    """
    from tailor.data.ids import normalise_ids

    file = None
    if isinstance(table, Path):
        if not table.is_file():
            raise ConfigError(
                f"segment {column!r}: no users table at {table} (a Parquet/CSV file with "
                "user_id and the segment column)"
            )
        from tailor.data.validate import read_table

        file = str(table)
        table = read_table(table, text_columns=(Columns.USER_ID, column))
    for col in (Columns.USER_ID, column):
        if col not in table.columns:
            raise ConfigError(f"segment {column!r}: the users table has no {col!r} column")
    values = table[[Columns.USER_ID, column]].dropna()
    users = normalise_ids(values[Columns.USER_ID], file=file, column=Columns.USER_ID)
    known = users.notna().to_numpy()
    return dict(zip(users[known], values[column].astype(str).to_numpy()[known], strict=True))
