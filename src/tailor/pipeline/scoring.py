"""Candidates, masks and top-n: the model's part of a list, for one user or a block of users.

Both paths compute the same thing: score rows :math:`s = \\text{score\\_rows}(u)`, then
:func:`~tailor.models._topn.masked_top_n` with the allowed mask (availability, category, a
caller's predicate: :meth:`ModelIndex.allowed`) and the banned items (seen, excluded), which
lists the ``n`` best finite scores, ties by lower item number. A score equal to the model's
``no_evidence_score`` (ItemKNN: 0, no neighbour of the history) is not a candidate either: the
list runs short and the pipeline backfills it rather than padding it with ties in item order.
:func:`score_user` is the server's live path: :class:`ModelIndex` converts ids once per model
version, so a request costs one score row and one pass over it. :func:`score_block` is the batch
path (``tailor recommend``, evaluation, precompute): one call scores a block of users. Factor
models over large catalogues score only the candidates of an ANN index (:mod:`.ann`), in both
paths.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from tailor.models.base import Recommender, SupportsHistory
from tailor.pipeline.ann import AnnIndex
from tailor.pipeline.catalog import Catalog
from tailor.pipeline.filters import ItemList, ItemPredicate


@dataclass(frozen=True)
class ModelIndex:
    """Per-version arrays for masks over the model's items.

    Attributes:
        item_ids: item id of each item number (Python str objects).
        available: False for items the catalog marks unavailable (None: all available).
        item_category: catalog category of each item number ('' when unknown).
    """

    item_ids: np.ndarray
    available: np.ndarray | None
    item_category: np.ndarray
    _category_masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, model: Recommender, catalog: Catalog) -> ModelIndex:
        """Index ``model``'s items against ``catalog``."""
        ids = np.asarray(model.items.ids, dtype=object)
        available = None
        if catalog.unavailable:
            available = np.array([i not in catalog.unavailable for i in ids], dtype=bool)
        category = np.array([catalog.category_of.get(i, "") for i in ids], dtype=object)
        return cls(ids, available, category)

    def allowed(
        self, category: str | None, predicate: ItemPredicate | None = None
    ) -> np.ndarray | None:
        """Boolean mask of items that may be recommended (None: every item). Read-only when
        cached; copy it before writing."""
        if category is None:
            mask = self.available
        else:
            mask = self._category_masks.get(category)
            if mask is None:
                mask = self.item_category == category
                if self.available is not None:
                    mask &= self.available
                mask.flags.writeable = False
                self._category_masks[category] = mask  # benign race: same value either way
        if predicate is None:
            return mask
        keep = np.fromiter((bool(predicate(i)) for i in self.item_ids.tolist()), bool)
        return keep if mask is None else keep & mask

    def item_nums(self, model: Recommender, item_ids: Iterable[str]) -> np.ndarray:
        """Item numbers of the ids the model knows (others are ignored)."""
        nums = [model.items.number(i) for i in item_ids]
        return np.array([k for k in nums if k is not None], dtype=np.int64)

    def to_list(self, idx: np.ndarray, vals: np.ndarray) -> ItemList:
        """(item_id, score) pairs of one ``masked_top_n`` row, finite entries only."""
        keep = np.isfinite(vals)
        return list(zip(self.item_ids[idx[keep]].tolist(), vals[keep].tolist(), strict=True))


def no_evidence(model: Recommender) -> float | None:
    """The model's "no evidence" score (``no_evidence_score``; None: every finite score is a
    candidate)."""
    value = getattr(model, "no_evidence_score", None)
    return None if value is None else float(value)


def seen_nums(model: Recommender, user_num: int) -> np.ndarray:
    """Item numbers the user interacted with in training."""
    seen = model.seen
    return np.asarray(seen.indices[seen.indptr[user_num] : seen.indptr[user_num + 1]])


def score_user(
    model: Recommender,
    index: ModelIndex,
    user_num: int,
    n: int,
    *,
    category: str | None = None,
    exclude: Iterable[str] = (),
    exclude_seen: bool = True,
    predicate: ItemPredicate | None = None,
    ann: AnnIndex | None = None,
) -> ItemList:
    """The user's top-``n`` (item_id, score) from the model after all filters (at most ``n``;
    fewer when the filters leave fewer finite scores).

    With ``ann`` (a factor model over a large catalogue) only the index's candidates are scored;
    when they cannot fill the list, the whole catalogue is scored as without it.
    """
    from tailor.models._topn import masked_top_n

    allowed = index.allowed(category, predicate)
    banned = index.item_nums(model, exclude)
    if exclude_seen:
        banned = np.concatenate([seen_nums(model, user_num), banned])
    if ann is not None:
        found = ann.top(user_num, n, allowed=allowed, banned=banned)
        if found is not None:
            return list(zip(index.item_ids[found[0]].tolist(), found[1].tolist(), strict=True))
    scores = model.score_rows(np.array([user_num], dtype=np.int64))
    idx, vals = masked_top_n(scores, n, allowed=allowed, banned=banned, missing=no_evidence(model))
    return index.to_list(idx[0], vals[0])


def score_block(
    model: Recommender,
    index: ModelIndex,
    user_nums: np.ndarray,
    n: int,
    *,
    allowed: np.ndarray | None,
    excluded: np.ndarray,
    exclude_seen: bool = True,
    ann: AnnIndex | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`score_user` for a block of users at once (one score matrix, one kernel pass);
    ``allowed`` and ``excluded`` (item numbers) are resolved by the caller once per call.

    Returns:
        ``masked_top_n``'s ``(idx, vals)``: item numbers and scores, one row per user, best
        first; slots past a row's last candidate hold -1 and ``-inf``.
    """
    from tailor.models._topn import masked_top_n

    if ann is not None:
        width = min(n, len(index.item_ids))
        idx = np.full((len(user_nums), width), -1, np.int64)
        vals = np.full((len(user_nums), width), -np.inf, np.float32)
        for r, u in enumerate(user_nums.tolist()):
            banned = np.concatenate([seen_nums(model, u), excluded]) if exclude_seen else excluded
            found = ann.top(u, n, allowed=allowed, banned=banned)
            if found is None:
                scores = model.score_rows(np.array([u], dtype=np.int64))
                row_idx, row_vals = masked_top_n(
                    scores, n, allowed=allowed, banned=banned, missing=no_evidence(model)
                )
                found = (row_idx[0], row_vals[0])
            idx[r, : len(found[0])] = found[0]
            vals[r, : len(found[1])] = found[1]
        return idx, vals
    if len(excluded):
        allowed = np.ones(len(index.item_ids), bool) if allowed is None else allowed.copy()
        allowed[excluded] = False
    scores = model.score_rows(user_nums)
    seen = model.seen[user_nums] if exclude_seen else None
    return masked_top_n(scores, n, allowed=allowed, banned=seen, missing=no_evidence(model))


def score_history(
    model: SupportsHistory,
    index: ModelIndex,
    item_nums: np.ndarray,
    n: int,
    *,
    weights: np.ndarray | None = None,
    category: str | None = None,
    banned: np.ndarray,
    predicate: ItemPredicate | None = None,
    missing: float | None = None,
) -> ItemList:
    """:func:`score_user` for an ad-hoc history (item numbers, oldest first, with optional
    ``weights``): one ``score_history`` row, then ``masked_top_n`` with the allowed mask and
    ``banned`` (item numbers: the history's and the user's items when seen items are excluded,
    the exclude list). Exact scoring: no ANN index knows a folded vector."""
    from tailor.models._topn import masked_top_n

    scores = model.score_history(item_nums, weights)[None, :]
    allowed = index.allowed(category, predicate)
    idx, vals = masked_top_n(scores, n, allowed=allowed, banned=banned, missing=missing)
    return index.to_list(idx[0], vals[0])
