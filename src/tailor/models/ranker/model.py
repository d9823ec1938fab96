"""The second-stage ranker: candidates from fast models re-ranked by LightGBM's LambdaMART."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from typing_extensions import override

from tailor.data.dataset import Dataset
from tailor.data.interactions import Interactions
from tailor.errors import ArtifactError, ModelFitError
from tailor.models._params import (
    ITEMS_KEY,
    USERS_KEY,
    Dense,
    ParamSpec,
    Sparse,
    check_artifact,
)
from tailor.models.base import (
    SCORE_BATCH,
    FitOptions,
    FoldIn,
    RecommenderBase,
    SupportsHistory,
)
from tailor.models.explain import Explanation, top_contributions
from tailor.models.ranker import booster as lgbm
from tailor.models.ranker.candidates import Candidates, candidates, fit_candidate_models
from tailor.models.ranker.config import CANDIDATE_MODELS, RankerConfig
from tailor.models.ranker.features import (
    ITEM_FEATURES,
    NO_CATEGORY,
    NO_PRICE,
    UserBlock,
    add_history,
    build_features,
    catalog_columns,
    feature_names,
    first_times,
    item_stats,
    own_history,
)
from tailor.random import make_rng
from tailor.units import SECONDS_PER_DAY

FEATURES = feature_names(CANDIDATE_MODELS)
"""The ranker's features, in column order."""
SUBMODEL_SEP = "."
"""Separates a candidate model's name from its array's name in the ranker's state."""


class Ranker(RecommenderBase[RankerConfig]):
    r"""A learned second stage: each user's candidates from the fast models (RecencyEASE, ALS,
    ItemKNN, the recently popular items and the user's own history), re-ranked by a LightGBM
    LambdaMART model over features (each candidate model's score and rank, how often and how
    recently the user bought the item, the item's popularity, trend, age and price, the user's
    share of purchases in the item's category, the user's activity and repeat share).

    **Fit.** The fit data is cut into a history and labels (``label_split``: the last
    ``label_days``, or each user's last ``label_fraction``). The candidate models are fitted on
    the history, the labelled users' candidates are labelled with their purchases after the cut
    (``target="novel"``: only items new to the user, whose own items are left out;
    ``"repeat"``: any purchase) and LambdaMART is trained grouped by user, stopping early on
    held-out users. Then the candidate models and the statistics are refitted on all the data
    for serving; the booster is kept.

    **Scores.** ``score_rows`` holds the booster's score for each user's candidates and NaN
    for every other item (never listed; the pipeline backfills short lists from the popular
    list).

    **Fold-in** (``partial_fit``): the batch joins the users' own histories, and the candidate
    models score the batch's users from their whole history (``score_history``: exactly their
    rows for the item-item models, a folded-in vector for ALS); the candidate models, the item
    statistics (popularity, trend, age, price, category) and the booster stay as fitted until
    the next ``fit``, so users outside the batch keep their scores. New items have no
    statistics (zeros) and no candidate-model scores until then.

    Stability: experimental.
    """

    config_class: ClassVar = RankerConfig
    name: ClassVar[str] = "ranker"
    params_spec: ClassVar[ParamSpec] = {
        "booster": Dense("u", ("booster_bytes",)),
        "item_stats": Dense("f", ("items", len(ITEM_FEATURES))),
        "item_category": Dense("i", ("items",)),
        "reference_time": Dense("i", (1,)),
        "history_counts": Sparse("f", ("users", "items")),
        "history_last": Sparse("i", ("users", "items")),
        "folded_users": Dense("i", ("folded",)),
    }

    booster: np.ndarray
    """uint8: LightGBM's text of the trained booster."""
    item_stats: np.ndarray
    """float32 (items, len(ITEM_FEATURES)) item features, as of the last fit."""
    item_category: np.ndarray
    """int64 category code per item (-1: none)."""
    reference_time: np.ndarray
    """int64 (1,): the fit data's last timestamp, "now" for the recency features."""
    history_counts: sp.csr_array
    """users x items: the user's interactions with the item (float32)."""
    history_last: sp.csr_array
    """users x items: the time of the latest one (int64 seconds)."""
    folded_users: np.ndarray
    """int64 sorted numbers of the users whose history changed since the fit (fold-in): the
    candidate models score them from their history (``score_history``)."""
    submodels: Mapping[str, RecommenderBase[Any]]
    """The fitted candidate models, by registry name (as fitted: fold-in leaves them alone)."""
    fit_summary: dict[str, Any] | None
    """The last fit's training summary (rounds, held-out NDCG@10, users); None after load."""

    # unfitted state as class defaults (a subclass __init__ would hide the generated signature);
    # every one is replaced, never changed in place
    submodels = MappingProxyType({})
    fit_summary = None
    _booster: Any = None
    _popular = np.zeros(0, np.int64)

    # ---- fitting ----------------------------------------------------------------------------
    @override
    def _fit(self, data: Dataset, options: FitOptions) -> None:
        cfg = self.config
        rng = make_rng(options.rng if options.rng is not None else cfg.seed)
        seed = int(rng.integers(2**31 - 1))
        parts = []
        for window in range(cfg.label_windows if cfg.label_split == "time" else 1):
            earlier = _before(data, cfg.label_days * window) if window else data
            if window and not len(earlier.interactions):
                break
            try:
                history, labels, reference = split_labels(earlier, cfg)
                parts.append(self._training_groups(history, labels, reference, options, rng))
            except ModelFitError:
                if not window:  # the latest window must have labels; earlier ones may not
                    raise
        x, y, sizes, owners = (np.concatenate(p) for p in zip(*parts, strict=True))
        held_out = np.zeros(len(sizes), bool)
        users = np.unique(owners)
        if len(users) >= 2:  # held out by user: a user's windows stay on one side
            n_valid = max(1, round(cfg.validation_share * len(users)))
            held_out = np.isin(owners, rng.choice(users, n_valid, replace=False))
        text, summary = lgbm.train(x, y, sizes, held_out, FEATURES, cfg, seed, options.threads)
        self.fit_summary = {**summary, "windows": len(parts)}
        self.submodels = fit_candidate_models(data, cfg, options)
        prices, self.item_category = catalog_columns(data)
        self.history_counts, self.history_last = own_history(
            data.interactions, (data.n_users, data.n_items)
        )
        now = int(data.interactions.timestamps.max()) if len(data.interactions) else 0
        self.reference_time = np.array([now], np.int64)
        self.item_stats = item_stats(
            self.history_counts,
            self.history_last,
            first_times(data.interactions, data.n_items),
            now,
            cfg.trend_days,
            prices,
        )
        self.booster = np.frombuffer(text.encode(), np.uint8).copy()
        self.folded_users = np.zeros(0, np.int64)
        self._state_loaded()

    def _training_groups(
        self,
        history: Dataset,
        labels: sp.csr_array,
        reference: int,
        options: FitOptions,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The labelled users' candidates as of the cut: (features, labels, group sizes, the
        groups' user numbers), groups without a positive left out."""
        cfg = self.config
        shape = (history.n_users, history.n_items)
        counts, last = own_history(history.interactions, shape)
        if cfg.target == "novel":  # a past purchase is never a novel label
            labels = sp.csr_array(labels - labels.multiply(counts > 0))
            labels.eliminate_zeros()
        users = np.flatnonzero((np.diff(labels.indptr) > 0) & (np.diff(counts.indptr) > 0))
        if not len(users):
            raise ModelFitError(
                f"ranker: no user has both a history and a {cfg.target} purchase after the "
                f"label cut ({_cut_words(cfg)}); fit on more data or change the label split"
            )
        if len(users) > cfg.max_train_users:
            users = np.sort(rng.choice(users, cfg.max_train_users, replace=False))
        models = fit_candidate_models(history, cfg, options)
        prices, cats = catalog_columns(history)
        stats = item_stats(
            counts,
            last,
            first_times(history.interactions, history.n_items),
            reference,
            cfg.trend_days,
            prices,
        )
        popular = popular_order(stats)
        labels.sort_indices()
        xs, ys, owners = [], [], []
        bought = FEATURES.index("bought_before")
        for start in range(0, len(users), SCORE_BATCH):
            block_users = users[start : start + SCORE_BATCH]
            block = UserBlock.of(counts, last, block_users)
            scores = {name: models[name].score_rows(block_users) for name in CANDIDATE_MODELS}
            cand = candidates(scores, block.counts, popular, cfg)
            x = build_features(
                cand.rows, cand.items, cand.model_columns, block, stats, cats, reference
            )
            y = np.asarray(labels[block_users[cand.rows], cand.items]).ravel()
            keep = x[:, bought] == 0 if cfg.target == "novel" else np.ones(len(y), bool)
            xs.append(x[keep])
            ys.append(y[keep] > 0)
            owners.append(block_users[cand.rows[keep]])
        x_all, y_all = np.concatenate(xs), np.concatenate(ys).astype(np.float32)
        owner = np.concatenate(owners)
        group_users, sizes = np.unique(owner, return_counts=True)  # rows are in user order
        positive = np.bincount(np.searchsorted(group_users, owner), y_all, len(group_users)) > 0
        keep_rows = positive[np.searchsorted(group_users, owner)]
        return x_all[keep_rows], y_all[keep_rows], sizes[positive], group_users[positive]

    # ---- scoring ----------------------------------------------------------------------------
    def _block(
        self, user_nums: np.ndarray, block: UserBlock | None = None
    ) -> tuple[Candidates, np.ndarray]:
        """The candidates of these users (or of ``block``'s ad-hoc histories) and their
        features."""
        adhoc = block is not None
        if block is None:
            block = UserBlock.of(self.history_counts, self.history_last, user_nums)
        scores = {
            name: self._model_scores(name, user_nums, block, adhoc) for name in CANDIDATE_MODELS
        }
        cand = candidates(scores, block.counts, self._popular, self.config)
        x = build_features(
            cand.rows,
            cand.items,
            cand.model_columns,
            block,
            self.item_stats,
            self.item_category,
            int(self.reference_time[0]),
        )
        return cand, x

    def _model_scores(
        self, name: str, user_nums: np.ndarray, block: UserBlock, adhoc: bool = False
    ) -> np.ndarray:
        """Candidate model ``name``'s scores of every item (NaN: cannot score): its own rows
        for the users it was fitted on, a score of their whole history for users folded in
        since (one history per user: fold-in batches are small) and for ``adhoc`` histories."""
        model = self.submodels[name]
        n_users, n_items = len(model.users), len(model.items)
        out = np.full((len(user_nums), len(self.items)), np.nan, np.float32)
        direct = (user_nums < n_users) & ~np.isin(user_nums, self.folded_users) & (not adhoc)
        if direct.any():
            out[direct, :n_items] = model.score_rows(user_nums[direct])
        if direct.all() or not isinstance(model, SupportsHistory):
            return out
        for row in np.flatnonzero(~direct):
            start, end = block.counts.indptr[row], block.counts.indptr[row + 1]
            items = block.counts.indices[start:end].astype(np.int64)
            times = block.last.data[start:end]
            known = items < n_items
            oldest_first = items[known][np.lexsort((items[known], times[known]))]
            if len(oldest_first):
                out[row, :n_items] = model.score_history(oldest_first)
        return out

    @override
    def _score(self, user_nums: np.ndarray) -> np.ndarray:
        out = np.full((len(user_nums), len(self.items)), np.nan, np.float32)
        for start in range(0, len(user_nums), SCORE_BATCH):
            chunk = user_nums[start : start + SCORE_BATCH]
            cand, x = self._block(chunk)
            out[start + cand.rows, cand.items] = lgbm.predict(self._booster, x)
        return out

    def explain(self, user_num: int, item_nums: np.ndarray, top: int = 3) -> list[Explanation]:
        """Per item, the ``top`` features that moved its score most (``SupportsExplain``, kind
        "shap"): exact TreeSHAP values from LightGBM's ``pred_contrib``, so the base value and
        every feature's contribution sum to the score of ``score_rows``.

        Raises:
            NotFittedError: before ``fit``.
            IndexError: a user or item number out of range.
            ValueError: an item that is not among the user's candidates (it has no score).
        """
        self.require_fitted()
        if not 0 <= user_num < len(self.users):
            raise IndexError(f"user number must be in 0..{len(self.users) - 1}")
        wanted = np.asarray(item_nums, np.int64).reshape(-1)
        if len(wanted) and (wanted.min() < 0 or wanted.max() >= len(self.items)):
            raise IndexError(f"item numbers must be in 0..{len(self.items) - 1}")
        cand, x = self._block(np.array([user_num], np.int64))
        pos = np.minimum(np.searchsorted(cand.items, wanted), len(cand.items) - 1)
        found = cand.items[pos] == wanted  # one user: the candidates' items are sorted
        if not found.all():
            missing = list(self.items.id_of(wanted[~found][:3]))
            user = self.users.id_of([user_num])[0]
            raise ValueError(
                f"items {missing} are not candidates of user {user!r} (the ranker does not "
                "score them)"
            )
        shares = lgbm.contributions(self._booster, x[pos])
        return [
            Explanation(
                item_num=int(item),
                base_value=float(row[-1]),
                contributions=top_contributions(list(FEATURES), row[:-1], top),
                kind="shap",
                score=float(row.sum()),
            )
            for item, row in zip(wanted, shares, strict=True)
        ]

    def score_history(self, item_nums: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Scores of an ad-hoc history (``SupportsHistory``: a session, a cart), oldest item
        first, repeats counted as repeat purchases, all bought "now" (the last fit's time, one
        second apart), so the recency features differ from a known user's (``weights`` are
        ignored, as ``fit`` ignores interaction weights). NaN outside the candidates."""
        from tailor.models._history import check_history

        self.require_fitted()
        nums, _ = check_history(item_nums, weights, len(self.items))
        now = int(self.reference_time[0])
        times = now - (len(nums) - 1 - np.arange(len(nums), dtype=np.int64))
        batch = Interactions.from_arrays(np.zeros(len(nums)), nums, timestamps=times)
        counts, last = own_history(batch, (1, len(self.items)))
        cand, x = self._block(np.zeros(1, np.int64), UserBlock.of(counts, last, np.zeros(1, int)))
        out = np.full(len(self.items), np.nan, np.float32)
        out[cand.items] = lgbm.predict(self._booster, x)
        return out

    def user_history(self, user_num: int) -> tuple[np.ndarray, np.ndarray | None]:
        """A known user's purchases as a history (``SupportsHistory``): each item as often as
        bought, by the time of its last purchase, oldest first (the times themselves are not
        kept, so ``score_history`` of it approximates ``score_rows``)."""
        self.require_fitted()
        if not 0 <= user_num < len(self.users):
            raise IndexError(f"user number must be in 0..{len(self.users) - 1}")
        row = slice(self.history_counts.indptr[user_num], self.history_counts.indptr[user_num + 1])
        items = self.history_counts.indices[row].astype(np.int64)
        counts = self.history_counts.data[row].astype(np.int64)
        order = np.lexsort((items, self.history_last.data[row]))
        return np.repeat(items[order], counts[order]), None

    def features_of(self, user_nums: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user numbers, item numbers, float32 features) of these users' candidates: what the
        booster scores (for global SHAP importances, ``shap.TreeExplainer``)."""
        self.require_fitted()
        users = np.asarray(user_nums, np.int64).reshape(-1)
        parts = []
        for start in range(0, len(users), SCORE_BATCH):
            chunk = users[start : start + SCORE_BATCH]
            cand, x = self._block(chunk)
            parts.append((chunk[cand.rows], cand.items, x))
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, len(FEATURES)))
        u, i, x = (np.concatenate(p) for p in zip(*parts, strict=True))
        return u, i, x

    def importances(self, user_nums: np.ndarray) -> dict[str, float]:
        """Global importances: mean absolute SHAP value per feature over these users'
        candidates, largest first (``shap.TreeExplainer`` on the booster; needs ``shap``)."""
        import shap

        _, _, x = self.features_of(user_nums)
        if not len(x):
            return dict.fromkeys(FEATURES, 0.0)
        values = np.asarray(shap.TreeExplainer(self._booster).shap_values(x))
        mean = np.abs(values).mean(axis=0)
        order = np.argsort(-mean, kind="stable")
        return {FEATURES[j]: float(mean[j]) for j in order}

    def booster_text(self) -> str:
        """The trained booster as LightGBM's model text (load with ``lightgbm.Booster(
        model_str=...)``, e.g. for ``shap.TreeExplainer``)."""
        self.require_fitted()
        return bytes(self.booster).decode()

    # ---- fold-in ------------------------------------------------------------------------------
    @override
    def _partial_fit(self, fold: FoldIn) -> None:
        """The batch joins the own histories; its users are scored from their histories by the
        candidate models from now on. Nothing shared changes (see the class docstring)."""
        self.folded_users = np.union1d(self.folded_users, fold.touched_users).astype(np.int64)
        shape = (fold.batch.n_users, fold.batch.n_items)
        self.history_counts, self.history_last = add_history(
            self.history_counts, self.history_last, fold.batch.interactions, shape
        )
        new = shape[1] - len(self.item_stats)
        if new > 0:  # items new to the ranker: no statistics until the next fit
            blank = np.zeros((new, len(ITEM_FEATURES)), np.float32)
            blank[:, ITEM_FEATURES.index("price")] = NO_PRICE
            self.item_stats = np.vstack([self.item_stats, blank])
            self.item_category = np.r_[self.item_category, np.full(new, NO_CATEGORY, np.int64)]

    # ---- persistence --------------------------------------------------------------------------
    @override
    def _learned_arrays(self) -> dict[str, np.ndarray]:
        out = super()._learned_arrays()
        for name, model in self.submodels.items():
            for key, arr in model.state_arrays().items():  # as fitted, vocabularies included
                out[f"{name}{SUBMODEL_SEP}{key}"] = arr
        return out

    @override
    def load_state(self, arrays: Mapping[str, np.ndarray], *, source: str = "state") -> None:
        """Restore ``state_arrays``: the ranker's arrays and each candidate model's (prefixed
        ``name.``), every one checked before anything changes."""
        from tailor.models.registry import create_model

        n_users = len(arrays[USERS_KEY]) if USERS_KEY in arrays else 0
        n_items = len(arrays[ITEMS_KEY]) if ITEMS_KEY in arrays else 0
        check_artifact(arrays, None, n_users, n_items, source)  # finite, named in full
        own = {k: v for k, v in arrays.items() if SUBMODEL_SEP not in k}
        models: dict[str, RecommenderBase[Any]] = {}
        for name in CANDIDATE_MODELS:
            prefix = f"{name}{SUBMODEL_SEP}"
            part = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            if not part:
                raise ArtifactError(f"{source}: the arrays of candidate model {name!r} are missing")
            model = create_model(name, self.config.submodel_params(name))
            model.load_state(part, source=f"{source} ({name})")
            models[name] = model
        unknown = {k.split(SUBMODEL_SEP)[0] for k in arrays if SUBMODEL_SEP in k}
        if unknown - set(CANDIDATE_MODELS):
            raise ArtifactError(f"{source}: unexpected candidate models {sorted(unknown)}")
        text = bytes(np.asarray(own.get("booster", np.zeros(0, np.uint8)), np.uint8))
        try:
            booster = lgbm.load(text.decode())  # refused before anything changes
        except Exception as exc:  # LightGBM raises its own error type for a bad model text
            raise ArtifactError(
                f"{source}: array 'booster' is not a LightGBM model ({exc})"
            ) from None
        del booster
        super().load_state(own, source=source)
        self.submodels = models
        self.fit_summary = None

    @override
    def _state_loaded(self) -> None:
        self._booster = lgbm.load(bytes(self.booster).decode())
        self._popular = popular_order(self.item_stats)


def popular_order(stats: np.ndarray) -> np.ndarray:
    """Item numbers by recent distinct users, then all-time users, then item number."""
    recent = stats[:, ITEM_FEATURES.index("item_recent_users")]
    users = stats[:, ITEM_FEATURES.index("item_users")]
    order = np.lexsort((np.arange(len(stats)), -users, -recent))
    keep = users[order] > 0
    return order[keep].astype(np.int64)


def split_labels(data: Dataset, cfg: RankerConfig) -> tuple[Dataset, sp.csr_array, int]:
    """(history, users x items labels of the purchases after the cut, the cut's time)."""
    inter = data.interactions
    times = inter.timestamps
    if cfg.label_split == "time":
        cut = int(times.max()) - cfg.label_days * SECONDS_PER_DAY if len(times) else 0
        is_label = times >= cut
    else:
        is_label = _last_fraction(inter, cfg.label_fraction)
    if is_label.all() or not is_label.any():
        raise ModelFitError(
            f"ranker: the label cut ({_cut_words(cfg)}) leaves "
            f"{'no history' if is_label.all() else 'no labels'} in {len(inter):,} interactions"
        )
    keep = ~is_label
    history = Dataset(
        data.users,
        data.items,
        Interactions.from_arrays(
            inter.user_nums[keep], inter.item_nums[keep], inter.weights[keep], times[keep]
        ),
        data.item_features,
        data.user_features,
    )
    labels = sp.csr_array(
        (
            np.ones(int(is_label.sum()), np.float32),
            (inter.user_nums[is_label], inter.item_nums[is_label]),
        ),
        shape=(data.n_users, data.n_items),
    )
    labels.sum_duplicates()
    reference = int(times[keep].max()) if cfg.label_split == "user" else int(cut)
    return history, labels, reference


def _before(data: Dataset, days: float) -> Dataset:
    """``data`` without its last ``days`` (same vocabularies)."""
    inter = data.interactions
    keep = inter.timestamps < int(inter.timestamps.max()) - days * SECONDS_PER_DAY
    subset = Interactions.from_arrays(
        inter.user_nums[keep], inter.item_nums[keep], inter.weights[keep], inter.timestamps[keep]
    )
    return Dataset(data.users, data.items, subset, data.item_features, data.user_features)


def _last_fraction(inter: Interactions, fraction: float) -> np.ndarray:
    """Each user's last ``round(fraction * c)`` interactions (half up, at most ``c - 1``) by
    time, later rows last among ties."""
    users = inter.user_nums.astype(np.int64)
    order = np.lexsort((np.arange(len(users)), inter.timestamps, users))
    sorted_users = users[order]
    starts = np.searchsorted(sorted_users, sorted_users, side="left")
    ends = np.searchsorted(sorted_users, sorted_users, side="right")
    count = ends - starts
    from_end = ends - 1 - np.arange(len(users))
    n_label = np.minimum(np.floor(fraction * count + 0.5), count - 1)
    out = np.zeros(len(users), bool)
    out[order] = from_end < n_label
    return out


def _cut_words(cfg: RankerConfig) -> str:
    if cfg.label_split == "time":
        return f"the last {cfg.label_days:g} days"
    return f"each user's last {cfg.label_fraction:.0%}"
