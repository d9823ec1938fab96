"""ItemKNN: item-based nearest neighbours over a sparse top-k item-item similarity matrix."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from typing_extensions import override

from tailor.data.dataset import Dataset
from tailor.data.recs import Recs
from tailor.models._item_item import PROFILE_PARAMS, ItemItemModel
from tailor.models._matrices import (
    bm25_weight,
    fitted_columns,
    interaction_matrix,
    pad_unfitted,
    tfidf_weight,
)
from tailor.models._params import ParamSpec, Sparse
from tailor.models._similar import similar_items_recs
from tailor.models._sparse_kernels import csr_row_top_k, csr_times_csr
from tailor.models.base import FitOptions, ModelConfig

BLOCK_ENTRIES = 1 << 24
"""Similarity rows are computed in blocks of about this many (dense-equivalent) entries."""


class ItemKNNConfig(ModelConfig):
    """Hyperparameters of :class:`ItemKNN`. Defaults: the best on average over the benchmark data
    sets (``bench/accuracy/defaults.py``, docs/benchmarks.md)."""

    k: int = Field(16, ge=1)
    """Neighbours kept per item (the largest similarities of each row)."""
    similarity: Literal["cosine", "asymmetric_cosine", "dot"] = "cosine"
    """``cosine``, Aiolli's ``asymmetric_cosine`` (uses ``alpha``) or the raw ``dot`` product."""
    alpha: float = Field(0.5, ge=0.0, le=1.0)
    """Asymmetry of ``asymmetric_cosine``; 0.5 is plain cosine."""
    shrink: float = Field(70.0, ge=0.0)
    """Added to every similarity's denominator: damps pairs with little support."""
    weighting: Literal["none", "tfidf", "bm25"] = "bm25"
    """Weighting of the user-item matrix before the similarity (users as terms, items as docs).
    Under plain cosine of binary data, BM25's ``k1`` and ``b`` only rescale whole item vectors and
    cancel out; they act with ``dot``, ``asymmetric_cosine`` or ``binary=False``."""
    bm25_k1: float = Field(1.2, gt=0.0)
    """BM25 saturation ``k1`` (``weighting="bm25"`` only)."""
    bm25_b: float = Field(0.75, ge=0.0, le=1.0)
    """BM25 length normalisation ``b`` (``weighting="bm25"`` only)."""
    binary: bool = True
    """Use 1 per (user, item) pair; False uses the summed interaction weights."""
    recency_half_life_days: float | None = Field(None, gt=0.0)
    """If set, an interaction ``d`` days older than the user's newest one counts ``0.5 ** (d / h)``
    in that user's profile when scoring: recent taste weighs more (for temporal splits)."""


class ItemKNN(ItemItemModel[ItemKNNConfig]):
    r"""Item-based k-nearest-neighbours recommender.

    With :math:`x_{\cdot i}` the (optionally TF-IDF/BM25-weighted) column of item :math:`i` in the
    users x items matrix, the similarity is

    - cosine: :math:`s_{ij} = \frac{x_i \cdot x_j}{\lVert x_i\rVert\,\lVert x_j\rVert + \lambda}`,
    - asymmetric cosine: :math:`s_{ij} = \frac{x_i \cdot x_j}
      {\lVert x_i\rVert^{2\alpha}\,\lVert x_j\rVert^{2(1-\alpha)} + \lambda}`,
    - dot: :math:`s_{ij} = x_i \cdot x_j / (1 + \lambda)` (with BM25 weights: implicit's
      ``BM25Recommender``),

    with shrink :math:`\lambda`, :math:`s_{ii} = 0`, and only the ``k`` largest positive
    :math:`s_{ij}` kept in each row :math:`i`. The score of item :math:`j` for user :math:`u` is
    :math:`\hat r_{uj} = \sum_i p_{ui}\,s_{ij}`, where :math:`p_u` is the user's profile (1 per
    item, or the summed weights, times an optional recency decay :math:`2^{-\Delta t/h}`).

    Similarities are computed in blocks of rows with sparse products, so the dense items x items
    matrix never exists. ``similar_items`` lists an item's kept neighbours.

    **Fold-in** (``partial_fit``): the similarities are not refitted; they change only by a full
    ``fit``. New users and items join the vocabularies and the batch's pairs join ``seen``. The
    profiles :math:`p_u` of the users in the batch absorb the new interactions with the rules of
    ``fit`` (binary or summed weights, decay from the user's new newest time), so a new user
    with interactions on known items gets personalised recommendations at once. Items new to the
    model have no similarities until the next ``fit``: they score NaN and are never recommended
    (nor listed by ``similar_items``), but they are remembered as seen. Users not in the batch
    keep bit-identical scores.

    Stability: stable.
    """

    config_class: ClassVar = ItemKNNConfig
    name: ClassVar[str] = "itemknn"
    no_evidence_score: ClassVar[float | None] = 0.0
    """Similarities are non-negative: a score of 0 means no neighbour of the history."""
    params_spec: ClassVar[ParamSpec] = {  # partial_fit keeps the fitted similarity size
        "similarity": Sparse("f", ("fitted<=items", "fitted")),
        **PROFILE_PARAMS,
    }

    similarity: sp.csr_array
    """items x items float32 top-k similarity matrix (row i: neighbours of item i)."""

    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        cfg = self.config
        x = interaction_matrix(data, binary=cfg.binary, half_life_days=None)
        if cfg.weighting == "tfidf":
            x = tfidf_weight(x)
        elif cfg.weighting == "bm25":
            x = bm25_weight(x, cfg.bm25_k1, cfg.bm25_b)
        alpha = cfg.alpha if cfg.similarity == "asymmetric_cosine" else 0.5
        self.similarity = item_similarity(
            x, k=cfg.k, alpha=alpha, shrink=cfg.shrink, normalise=cfg.similarity != "dot"
        )
        self._fit_profiles(data)

    @override
    def _score_profiles(self, rows: sp.csr_array) -> np.ndarray:
        sim = self.similarity
        fitted = fitted_columns(rows, sim.shape[0])
        scores = csr_times_csr(
            fitted.indptr,
            fitted.indices,
            fitted.data,
            sim.indptr,
            sim.indices,
            sim.data,
            sim.shape[1],
        )
        return pad_unfitted(scores, len(self.items))

    def similar_items(self, item_ids: Any, n: int = 10) -> Recs:
        """The (at most ``k``) most similar items of each query item, best first.

        The result's ``user_id`` column holds the query item ids.
        """
        return similar_items_recs(self, item_ids, n, self._similarity_rows)

    def _similarity_rows(self, item_nums: np.ndarray) -> np.ndarray:
        # items added by partial_fit (numbers past the fitted matrix) have no neighbours
        fitted = np.flatnonzero(item_nums < self.similarity.shape[0])
        sub = self.similarity[item_nums[fitted]]
        out = np.full((len(item_nums), len(self.items)), -np.inf, np.float32)
        rows = np.repeat(fitted, np.diff(sub.indptr))
        out[rows, sub.indices] = sub.data
        return out


def item_similarity(
    x: sp.csr_array, *, k: int, alpha: float, shrink: float, normalise: bool = True
) -> sp.csr_array:
    r"""Top-``k`` item-item similarity :math:`x_i\cdot x_j / (\lVert x_i\rVert^{2\alpha}
    \lVert x_j\rVert^{2(1-\alpha)} + \lambda)` of the columns of the users x items matrix ``x``
    (without ``normalise``: :math:`x_i\cdot x_j / (1 + \lambda)`).

    Rows are computed ``block`` items at a time as sparse products and pruned to their ``k``
    largest positive entries (ties: lower item number first) before the next block, so memory
    stays at O(n_items * k) plus one block.
    """
    n_items = x.shape[1]
    sq = np.asarray(x.multiply(x).sum(axis=0), dtype=np.float64).ravel()
    if not normalise:
        sq = np.ones_like(sq)
    row_norm, col_norm = sq**alpha, sq ** (1.0 - alpha)
    xt = x.T.tocsr()
    x = x.tocsc()
    block = max(1, min(n_items, BLOCK_ENTRIES // max(n_items, 1)))
    ptrs, cols, vals = [np.zeros(1, np.int64)], [], []
    for start in range(0, n_items, block):
        prod = sp.csr_array(xt[start : start + block] @ x)
        local = np.repeat(np.arange(prod.shape[0]), np.diff(prod.indptr))
        denom = row_norm[local + start] * col_norm[prod.indices] + shrink
        sim = np.divide(prod.data, denom, out=np.zeros(len(local)), where=denom > 0)
        keep = (local + start != prod.indices) & (sim > 0)
        indptr = np.zeros(prod.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(local[keep], minlength=prod.shape[0]), out=indptr[1:])
        ptr, col, val = csr_row_top_k(indptr, prod.indices[keep], sim[keep], k)
        ptrs.append(ptr[1:] + ptrs[-1][-1])
        cols.append(col)
        vals.append(val)
    sim_mat = sp.csr_array(
        (
            np.concatenate(vals).astype(np.float32) if vals else np.empty(0, np.float32),
            np.concatenate(cols) if cols else np.empty(0, np.int64),
            np.concatenate(ptrs),
        ),
        shape=(n_items, n_items),
    )
    sim_mat.sort_indices()
    return sim_mat
