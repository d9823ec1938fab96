"""WideDeep: Wide & Deep (Cheng et al., 2016) for implicit feedback, in PyTorch."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from typing_extensions import override

from tailor.data.dataset import Dataset
from tailor.errors import ConfigError
from tailor.logging import get_logger
from tailor.models._mf_validation import ValidationSet, ranking_metric, validation_set
from tailor.models._params import ParamSpec
from tailor.models.base import FitOptions, FoldIn, RecommenderBase
from tailor.models.wide_deep import content
from tailor.models.wide_deep.config import WideDeepConfig
from tailor.models.wide_deep.scorers import onnxruntime_available
from tailor.models.wide_deep.state import PARAMS_SPEC, build_net, net_arrays
from tailor.random import derive_rng, make_rng

if TYPE_CHECKING:
    from tailor.models.explain import Explanation
    from tailor.models.wide_deep.network import WideDeepNet
    from tailor.models.wide_deep.scorers import Scorer

_log = get_logger(__name__)
SCORE_CELLS = 1 << 21
"""(user, item) pairs scored at once: bounds the hidden activations at SCORE_CELLS x width."""
VALIDATION_METRIC = "ndcg@10"


class WideDeep(RecommenderBase[WideDeepConfig]):
    r"""Wide & Deep over ids, categorical side features, price buckets and item text.

    **Prediction** (``network.py``): :math:`s(u, i) = \mathrm{deep}(u, i) + \mathrm{wide}(u,
    i) + e_u \cdot e_i`; the deep part is an MLP over the user's id and field embeddings and
    the item's id, field (category, price bucket) and TF-IDF text embeddings; the wide part
    adds an item id bias, one weight per item field value and exact crosses of every user
    field with every item field (e.g. country x category, country x price bucket); the product
    of the user's and the item's id embeddings carries the collaborative signal directly.

    **Objective.** Implicit feedback: each distinct (user, item) pair is a positive; with
    :math:`K` = ``negatives`` items :math:`N_u` drawn uniformly per positive, minimise
    :math:`-\sum_{(u,i)} \log \frac{e^{s(u,i)}}{e^{s(u,i)} + \sum_{j \in N_u} e^{s(u,j)}}`
    (sampled softmax) with AdamW (``learning_rate``, ``weight_decay``), dropout in the MLP and
    id dropout (an item's id is hidden with probability ``id_dropout`` so its content learns to
    score it alone).

    **Early stopping.** With ``FitOptions.validation``, NDCG@10 on it after every epoch
    (``history``, ``on_epoch``); training stops after ``early_stopping_patience`` epochs
    without improvement and keeps the best epoch.

    **Cold start.** An item without interactions (a catalogue item at fit time, or new in a
    ``partial_fit`` batch) has no id embedding: it is scored from its category, price bucket
    and text, as trained by id dropout.

    **Data-parallel training.** Under ``torchrun`` (a process group initialised, gloo on CPU,
    nccl on CUDA) each process trains on its share of every epoch's batches and gradients are
    averaged (``DistributedDataParallel``); every process ends with the same parameters.

    Stability: experimental.
    """

    config_class: ClassVar = WideDeepConfig
    name: ClassVar[str] = "wide-deep"
    params_spec: ClassVar[ParamSpec] = PARAMS_SPEC

    user_emb: np.ndarray
    """float32 (n_users, k) user id embeddings."""
    item_emb: np.ndarray
    """float32 (n_items, k) item id embeddings (zero for items never trained on)."""
    item_bias: np.ndarray
    """float32 (n_items,) wide item id bias."""
    field_emb: np.ndarray
    """float32 (codes, k) embeddings of every categorical value (user fields, then item fields)."""
    field_bias: np.ndarray
    """float32 (codes,) wide linear weight per categorical value."""
    cross_weights: np.ndarray
    """float32 wide cross tables (user field x item field), flattened."""
    text_weight: np.ndarray
    """float32 (vocab, k) TF-IDF term projection."""
    deep_weights: np.ndarray
    """float32 dense layers of the MLP, flattened in ``WideDeepNet.deep_parameters`` order."""
    user_codes: np.ndarray
    """int64 (n_users, user fields) local codes (0 = missing)."""
    item_codes: np.ndarray
    """int64 (n_items, item fields) local codes: ``item_columns``, then the price bucket."""
    field_cards: np.ndarray
    """int64 number of codes of each field, user fields first."""
    code_names: np.ndarray
    """The value each code stands for, fields one after another ("" = missing)."""
    price_edges: np.ndarray
    """float32 inner edges of the price buckets."""
    text_vocab: np.ndarray
    """TF-IDF terms."""
    text_idf: np.ndarray
    """float32 idf weight of each term."""
    item_text: sp.csr_array
    """float32 (n_items, vocab) L2-normalised TF-IDF rows of the items' text."""
    history: list[dict[str, float]] = []  # noqa: RUF012  (replaced by each fit, never mutated)
    """Per-epoch metrics of the last fit: epoch, train_loss, validation_ndcg@10."""
    best_epoch: int = 0
    """The epoch (1-based) whose parameters the model holds."""
    inference: str = "onnx" if onnxruntime_available() else "torch"
    """Scoring backend: "onnx" (onnxruntime, when installed) or "torch" (eager)."""
    _net: WideDeepNet | None = None
    _scorer: Scorer | None = None
    _pending: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None)

    # ---- fitting --------------------------------------------------------------------------
    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        from tailor.models.wide_deep.training import train

        cfg = self.config
        rng = make_rng(options.rng if options.rng is not None else cfg.seed)
        self._encode(data)
        val = validation_set(options.validation, self.users, self.items)
        if val is None and options.validation is not None:
            _log.warning("validation data has no pair the training data knows; no early stopping")
        net, self.history, self.best_epoch = train(
            self._arrays_for_init(data.n_users, data.n_items),
            self.item_text,
            data.interactions,
            cfg,
            options,
            rng,
            (lambda scores: self._validate(scores, val)) if val is not None else None,
        )
        self._set_net(net)

    def _encode(self, data: Dataset) -> None:
        """Codes, price edges and TF-IDF of the training data's side tables."""
        cfg = self.config
        users, items = data.user_features, data.item_features
        names: list[np.ndarray] = []
        user_codes = []
        for col in cfg.user_columns:
            values = content.column(users, col, data.n_users)
            names.append(content.fit_field(values))
            user_codes.append(content.encode_field(values, names[-1], data.n_users))
        item_codes = []
        for col in cfg.item_columns:
            values = content.column(items, col, data.n_items)
            names.append(content.fit_field(values))
            item_codes.append(content.encode_field(values, names[-1], data.n_items))
        prices = content.column(items, cfg.price_column, data.n_items)
        self.price_edges = content.price_edges(prices, cfg.price_buckets)
        if cfg.price_column is not None:
            names.append(_bucket_names(self.price_edges))
            item_codes.append(content.price_codes(prices, self.price_edges, data.n_items))
        self.field_cards = np.array([len(n) for n in names], np.int64)
        self.code_names = np.concatenate(names).astype(str) if names else np.zeros(0, str)
        self.user_codes = _stack(user_codes, data.n_users)
        self.item_codes = _stack(item_codes, data.n_items)
        texts = content.column(items, cfg.text_column, data.n_items)
        self.text_vocab, self.text_idf, self.item_text = content.fit_text(texts, cfg.text_features)
        if self.item_text.shape[0] != data.n_items:  # no text column
            self.item_text = sp.csr_array((data.n_items, 0), dtype=np.float32)

    def _arrays_for_init(self, n_users: int, n_items: int) -> dict[str, Any]:
        return {"user_codes": self.user_codes, "item_codes": self.item_codes,
                "field_cards": self.field_cards, "vocab": len(self.text_vocab),
                "n_users": n_users, "n_items": n_items}  # fmt: skip

    def _validate(self, score_rows: Any, val: ValidationSet) -> float:
        return ranking_metric(score_rows, self.seen, val, VALIDATION_METRIC)

    def _set_net(self, net: WideDeepNet) -> None:
        for key, arr in net_arrays(net).items():
            setattr(self, key, arr)
        self._net, self._scorer = None, None

    def network(self) -> WideDeepNet:
        """The fitted network on the CPU in eval mode (built from the arrays, then kept)."""
        self.require_fitted()
        if self._net is None:
            self._net = build_net(
                self._learned_arrays() | {"item_text": self.item_text}, self.config
            )
            self._net.eval()
        return self._net

    # ---- scoring --------------------------------------------------------------------------
    def set_inference(self, backend: Literal["onnx", "torch"]) -> Self:
        """Score through onnxruntime ("onnx", the default when installed) or torch eager."""
        if backend not in ("onnx", "torch"):
            raise ConfigError(f"inference backend must be 'onnx' or 'torch', not {backend!r}")
        self.inference, self._scorer = backend, None
        return self

    def scorer(self) -> Scorer:
        """The inference backend in use (``inference``): an onnxruntime session on the exported
        network, or torch eager."""
        from tailor.models.wide_deep.scorers import OnnxScorer, TorchScorer

        if self._scorer is None:
            net = self.network()
            self._scorer = (
                OnnxScorer.from_net(net) if self.inference == "onnx" else TorchScorer(net)
            )
        return self._scorer

    @override
    def _score(self, user_nums: np.ndarray) -> np.ndarray:
        return score_in_blocks(self.scorer(), user_nums, len(self.items))

    @override
    def _state_loaded(self) -> None:
        self.history, self.best_epoch = [], 0
        self._net, self._scorer = None, None
        self.network()  # refuses dense layers that do not fit the config (ArtifactError)

    # ---- fold-in --------------------------------------------------------------------------
    @override
    def partial_fit(
        self,
        frame: pd.DataFrame | Dataset,
        *,
        item_features: pd.DataFrame | None = None,
        user_features: pd.DataFrame | None = None,
    ) -> Self:
        """Fold new interactions in (see ``RecommenderBase.partial_fit``); new items and users
        take their side features from ``item_features`` / ``user_features`` (an ``item_id`` /
        ``user_id`` column plus the configured columns), or from the Dataset's own tables."""
        if isinstance(frame, Dataset):
            item_features = _with_ids(frame.item_features, "item_id", item_features)
            user_features = _with_ids(frame.user_features, "user_id", user_features)
        self._pending = (item_features, user_features)
        try:
            return super().partial_fit(frame)
        finally:
            self._pending = (None, None)

    @override
    def _partial_fit(self, fold: FoldIn) -> None:
        """New users and items join with zero id embeddings and codes from their features (new
        items are thereby scored by content alone). Then each user in the batch gets a new id
        vector: ``fold_in_epochs`` Adam steps of the training loss over all the user's seen
        items, every other parameter frozen, so users outside the batch keep their scores."""
        from tailor.models.wide_deep.training import fold_in_vectors

        self._grow(fold)
        users = fold.touched_users
        rng = derive_rng(self.config.seed, "partial_fit", fold.n_users, fold.n_items)
        self._net, self._scorer = None, None
        vectors = fold_in_vectors(
            self.network(), users, self.seen, self.user_emb[users], self.config, rng
        )
        self.user_emb = self.user_emb.copy()
        self.user_emb[users] = vectors
        self._net, self._scorer = None, None

    def _grow(self, fold: FoldIn) -> None:
        item_features, user_features = self._pending
        new_users = self.users.ids[fold.n_users :]
        new_items = self.items.ids[fold.n_items :]
        k = self.config.embedding_size
        n_user_fields = len(self.config.user_columns)
        user_table = _rows(user_features, "user_id", new_users)
        codes = self._codes(user_table, len(new_users), list(self.config.user_columns), 0)
        self.user_codes = np.vstack([self.user_codes, codes]).astype(np.int64)
        self.user_emb = np.vstack([self.user_emb, np.zeros((len(new_users), k), np.float32)])
        item_cols = list(self.config.item_columns)
        table = _rows(item_features, "item_id", new_items)
        codes = self._codes(table, len(new_items), item_cols, n_user_fields)
        if self.config.price_column is not None:
            prices = content.column(table, self.config.price_column, len(new_items))
            price = content.price_codes(prices, self.price_edges, len(new_items))
            codes = np.hstack([codes, price[:, None]])
        texts = content.column(table, self.config.text_column, len(new_items))
        rows = content.text_rows(texts, self.text_vocab, self.text_idf, len(new_items))
        self.item_codes = np.vstack([self.item_codes, codes]).astype(np.int64)
        self.item_text = sp.csr_array(sp.vstack([self.item_text, rows], format="csr"))
        self.item_emb = np.vstack([self.item_emb, np.zeros((len(new_items), k), np.float32)])
        self.item_bias = np.concatenate([self.item_bias, np.zeros(len(new_items), np.float32)])

    def _codes(self, table: pd.DataFrame | None, n: int, cols: list[str], first: int) -> np.ndarray:
        """Local codes (n, len(cols)) of the n aligned rows of ``table``, for the fields from
        number ``first`` on."""
        starts = np.concatenate([[0], np.cumsum(self.field_cards)])
        out = np.zeros((n, len(cols)), np.int64)
        for f, col in enumerate(cols):
            names = self.code_names[starts[first + f] : starts[first + f + 1]]
            out[:, f] = content.encode_field(content.column(table, col, n), names, n)
        return out

    # ---- histories ------------------------------------------------------------------------
    def score_history(self, item_nums: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Scores of an ad-hoc history (``SupportsHistory``): a vector folded in exactly as
        ``partial_fit`` does for a user, for an anonymous user (every user field missing);
        deterministic for a given history. ``weights`` are checked but not used (implicit
        feedback: an item was in the history)."""
        import torch

        from tailor.models._history import check_history
        from tailor.models.wide_deep.training import fold_in_vectors

        self.require_fitted()
        nums, _ = check_history(item_nums, weights, len(self.items))
        net = self.network()
        anonymous = len(self.users)
        row = sp.csr_array(
            (np.ones(len(nums), np.float32), (np.zeros(len(nums), np.int64), nums)),
            shape=(1, len(self.items)),
        )
        row.sum_duplicates()
        seen = sp.csr_array(sp.vstack([sp.csr_array((anonymous, len(self.items))), row]))
        rng = derive_rng(self.config.seed, "history", *np.unique(nums).tolist())
        start = np.zeros((1, self.config.embedding_size), np.float32)
        users = np.array([anonymous])
        vector = fold_in_vectors(net, users, seen, start, self.config, rng)
        with torch.inference_mode():
            scores = net.logits(
                torch.from_numpy(users),
                torch.arange(len(self.items))[None, :],
                net.text_cache,
                user_vecs=torch.from_numpy(vector),
            )
        out: np.ndarray = scores[0].numpy().astype(np.float32)
        return out

    def user_history(self, user_num: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The user's seen items as a history (``SupportsHistory``; no order is kept)."""
        from tailor.models._history import csr_row

        self.require_fitted()
        return csr_row(self.seen, user_num)[0], None

    # ---- explanations ---------------------------------------------------------------------
    def explain(self, user_num: int, item_nums: np.ndarray, top: int = 3) -> list[Explanation]:
        """SHAP explanations (``SupportsExplain``) of ``score_rows([user_num])[0, item_nums]``:
        per item the ``top`` features with the largest contributions (kind "shap"); every
        feature's contribution added to ``base_value`` (the mean score of random background
        pairs) gives the score (``shap.DeepExplainer``, additivity checked). The features are
        :meth:`feature_groups`; see ``wide_deep/explain.py``.

        Raises:
            NotFittedError: before ``fit``.
            IndexError: a user or item number out of range.
        """
        from tailor.models.wide_deep.explain import explain_scores

        self.require_fitted()
        return explain_scores(self, int(user_num), np.asarray(item_nums, np.int64), top)

    def feature_groups(self) -> list[str]:
        """Names of the features explanations attribute to, in order."""
        cfg = self.config
        item_fields = [*cfg.item_columns, *(["price"] if cfg.price_column else [])]
        crosses = [f"{a} x {b}" for a in cfg.user_columns for b in item_fields]
        return ["user", *cfg.user_columns, "item", *item_fields, "text", "item bias", *crosses]


def score_in_blocks(scorer: Scorer, user_nums: np.ndarray, n_items: int) -> np.ndarray:
    """float32 (len(user_nums), n_items) scores, a block of users at a time."""
    out = np.empty((len(user_nums), n_items), np.float32)
    items = np.arange(n_items, dtype=np.int64)
    step = max(1, SCORE_CELLS // max(n_items, 1))
    for start in range(0, len(user_nums), step):
        block = np.asarray(user_nums[start : start + step], np.int64)
        out[start : start + len(block)] = scorer(block, items)
    return out


def _bucket_names(edges: np.ndarray) -> np.ndarray:
    bounds = [f"{e:g}" for e in edges]
    if not bounds:
        return np.array([content.MISSING, "any"])
    middle = [f"{a}-{b}" for a, b in itertools.pairwise(bounds)]
    return np.array([content.MISSING, f"< {bounds[0]}", *middle, f">= {bounds[-1]}"])


def _stack(codes: list[np.ndarray], n: int) -> np.ndarray:
    return np.stack(codes, axis=1) if codes else np.zeros((n, 0), np.int64)


def _rows(table: pd.DataFrame | None, key: str, ids: np.ndarray) -> pd.DataFrame | None:
    """``table``'s rows for ``ids`` in their order (missing ones empty), or None."""
    if table is None:
        return None
    if key not in table.columns:
        raise ConfigError(f"feature table has no {key!r} column")
    keyed = table.assign(**{key: table[key].astype(str)}).drop_duplicates(key).set_index(key)
    return keyed.reindex(pd.Index(ids.astype(str), name=key))


def _with_ids(
    aligned: pd.DataFrame | None, key: str, given: pd.DataFrame | None
) -> pd.DataFrame | None:
    if given is not None or aligned is None:
        return given
    return aligned.reset_index().rename(columns={aligned.index.name or "index": key})
