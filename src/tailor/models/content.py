"""Content: items scored by how much their text, category and price resemble a user's history.

Every item of the catalogue gets a vector (:mod:`._content_vectors`), whether or not anyone
interacted with it, so a new product is scored from its content alone: this is the model the
pipeline's cold-item slots draw from (``tailor.pipeline.cold``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from typing_extensions import override

from tailor.data.columns import Columns
from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.models._content_vectors import BlockWeights, content_vectors
from tailor.models._matrices import fold_in_profiles, interaction_matrix, newest_times
from tailor.models._params import Dense, ParamSpec, Sparse
from tailor.models.base import FitOptions, FoldIn, ModelConfig, RecommenderBase


class ContentConfig(ModelConfig):
    """Hyperparameters of :class:`Content`. Chosen on Online Retail's validation month by the
    item:cold NDCG@10 of cold-item slots (``bench/accuracy/cold_start.py``): leaving the price
    out (``price_weight=0``) gave 0.022 against 0.015 with a price bucket at 0.25; recency,
    unigrams and an SVD did not help."""

    text_columns: tuple[str, ...] = (Columns.TITLE, "description")
    """Catalogue columns whose text is joined and vectorised (TF-IDF); absent ones are skipped."""
    text_weight: float = Field(1.0, ge=0)
    """Weight of the text block in an item's vector."""
    category_weight: float = Field(1.0, ge=0)
    """Weight of the one-hot ``category`` and boolean flag columns (e.g. genres)."""
    price_weight: float = Field(0.0, ge=0)
    """Weight of the one-hot price quantile bucket (0: left out, the validated default)."""
    ngram_max: int = Field(2, ge=1, le=3)
    """Longest word n-gram of the TF-IDF vocabulary."""
    min_df: int = Field(2, ge=1)
    """A word (n-gram) must occur in at least this many catalogue items."""
    svd_components: int | None = Field(None, ge=2)
    """Reduce the TF-IDF block to this many TruncatedSVD dimensions (None: keep every word)."""
    half_life_days: float | None = Field(30.0, gt=0)
    """Profile recency: an interaction ``d`` days older than the user's newest counts
    ``0.5 ** (d / h)``; None weighs all alike."""
    binary: bool = False
    """True: a (user, item) pair counts once (its newest interaction); False: every
    interaction counts (frequency)."""


class Content(RecommenderBase[ContentConfig]):
    r"""Content-based recommender: cosine between a user's profile and each item's vector.

    Item vector :math:`x_i`: unit-norm concatenation of TF-IDF text, one-hot category and
    flags, and a price bucket (each block normalised, weighted). User profile:
    :math:`p_u = \sum_{(u,i,t)} 2^{-(t_u - t)/h} x_i` (frequency and recency weighted; one term
    per pair with ``binary``). Score: :math:`s_{ui} = p_u \cdot x_i / \lVert p_u \rVert`, in
    [0, 1] for non-negative blocks. A score of 0 means no shared content: it is the model's
    ``no_evidence_score``, so the pipeline never lists such items.

    **Fold-in** (``partial_fit``): touched users' profiles are rescaled to their new newest time
    and the batch is added (the same profile a fit on all interactions would build, up to
    float32 rounding); items new in the batch have no content (zero vectors) until the next fit
    with a catalogue. Other users' scores do not change.

    **Transfer**: the vectors live in the catalogue's own TF-IDF vocabulary
    (``feature_names``); see docs/models.md for what carries over to another catalogue.

    Stability: experimental.
    """

    config_class: ClassVar = ContentConfig
    name: ClassVar[str] = "content"
    no_evidence_score: ClassVar[float | None] = 0.0
    params_spec: ClassVar[ParamSpec] = {
        "profiles": Sparse("f", ("users", "items")),
        "newest": Dense("i", ("users",)),
        "item_vectors": Sparse("f", ("items", "features")),
        "feature_names": Dense("U", ("features",)),
    }

    profiles: sp.csr_array
    """users x items float32 decayed interaction weights (the profile before projection)."""
    newest: np.ndarray
    """int64 newest interaction time of each user (the origin of their decay)."""
    item_vectors: sp.csr_array
    """items x features float32 CSR, unit rows (zero rows: items without content)."""
    feature_names: np.ndarray
    """Name of each feature column (``text:word``, ``category:x``, ``flag:col``, ``price:qk``)."""

    @property
    @override
    def uses_weights(self) -> bool:
        return False

    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        cfg = self.config
        self.item_vectors, self.feature_names = content_vectors(
            data.item_features,
            data.n_items,
            text_columns=cfg.text_columns,
            weights=BlockWeights(cfg.text_weight, cfg.category_weight, cfg.price_weight),
            ngram_max=cfg.ngram_max,
            min_df=cfg.min_df,
            svd_components=cfg.svd_components,
            seed=cfg.seed if cfg.seed is not None else 0,
        )
        counted = Dataset(data.users, data.items, _counted(data.interactions))
        self.profiles = interaction_matrix(
            counted, binary=cfg.binary, half_life_days=cfg.half_life_days
        )
        self.newest = newest_times(data.interactions, data.n_users)

    @override
    def _partial_fit(self, fold: FoldIn) -> None:
        batch = fold.batch
        shape = (batch.n_users, batch.n_items)
        self.profiles, self.newest = fold_in_profiles(
            self.profiles,
            self.newest,
            _counted(batch.interactions),
            shape,
            binary=self.config.binary,
            half_life_days=self.config.half_life_days,
        )
        vectors = self.item_vectors
        grown = sp.csr_array((shape[1], vectors.shape[1]), dtype=np.float32)
        grown = sp.csr_array(sp.vstack([vectors, grown[vectors.shape[0] :]], format="csr"))
        self.item_vectors = grown.astype(np.float32)

    @override
    def _score(self, user_nums: np.ndarray) -> np.ndarray:
        return self._cosines(sp.csr_array(self.profiles[user_nums]))

    def _cosines(self, weights: sp.csr_array) -> np.ndarray:
        """Rows of item weights (histories) -> float32 cosines with every item."""
        vectors = self.item_vectors
        if not vectors.shape[1]:
            return np.zeros((weights.shape[0], vectors.shape[0]), np.float32)
        profile = np.asarray((weights @ vectors).todense(), dtype=np.float64)
        norms = np.linalg.norm(profile, axis=1, keepdims=True)
        profile = np.divide(profile, norms, out=np.zeros_like(profile), where=norms > 0)
        return np.asarray(vectors @ profile.T, dtype=np.float32).T.copy()

    def score_history(self, item_nums: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """float32 (n_items,) cosines with the profile of the history ``item_nums`` (weights 1
        each when None); ``SupportsHistory``, for sessions and a new customer's first events."""
        self.require_fitted()
        nums = np.asarray(item_nums, dtype=np.int64).reshape(-1)
        if len(nums) and (nums.min() < 0 or nums.max() >= len(self.items)):
            raise IndexError(f"item numbers must be in 0..{len(self.items) - 1}")
        w = np.ones(len(nums)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != nums.shape or not np.isfinite(w).all():
            raise ValueError("weights must be finite, one per history item")
        row = sp.csr_array((w, (np.zeros(len(nums), np.int64), nums)), shape=(1, len(self.items)))
        scores: np.ndarray = self._cosines(row)[0]
        return scores

    def user_history(self, user_num: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The user's profile row: (item numbers, their decayed weights); ``score_history`` of
        it gives ``score_rows([user_num])``."""
        self.require_fitted()
        if not 0 <= user_num < len(self.users):
            raise IndexError(f"user numbers must be in 0..{len(self.users) - 1}")
        row = self.profiles[[user_num]]
        return row.indices.astype(np.int64), row.data.astype(np.float64)


def _counted(inter: Interactions) -> Interactions:
    """The interactions at weight 1 each: a profile counts events, not quantities or ratings."""
    return Interactions.from_arrays(inter.user_nums, inter.item_nums, None, inter.timestamps)


def project_vectors(
    vectors: sp.csr_array, names: np.ndarray, target_names: np.ndarray
) -> sp.csr_array:
    """Rows of ``vectors`` (columns named ``names``, e.g. a fitted model's ``item_vectors`` and
    ``feature_names``) re-expressed over another catalogue's features ``target_names``:
    columns are matched by name (``text:wool`` to ``text:wool``), unmatched ones dropped, rows
    renormalised (all-zero where nothing matches). This is how vectors learned on one data set
    initialise or score another's (docs/models.md, "Transfer between catalogues").

    Raises:
        ValueError: ``names`` does not name every column of ``vectors``.
    """
    if len(names) != vectors.shape[1]:
        raise ValueError(f"{len(names)} names for {vectors.shape[1]} feature columns")
    position = {str(name): k for k, name in enumerate(np.asarray(target_names).tolist())}
    target = np.array([position.get(str(n), -1) for n in np.asarray(names).tolist()], np.int64)
    coo = sp.csr_array(vectors).tocoo()
    keep = target[coo.col] >= 0
    moved = sp.csr_array(
        (coo.data[keep].astype(np.float64), (coo.row[keep], target[coo.col[keep]])),
        shape=(vectors.shape[0], len(position)),
    )
    norms = np.sqrt(np.asarray(moved.multiply(moved).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_array(sp.diags_array(scale) @ moved).astype(np.float32)
