"""The part ItemKNN and EASE share: an item-item matrix applied to each user's profile row.

Both keep the users' (optionally recency-decayed) ``_matrices.interaction_matrix`` as
``profiles``, with each user's newest time as ``profile_newest``; both build them in ``fit``
with their config's ``binary`` and ``recency_half_life_days``, and fold ``partial_fit`` batches
into them while the item-item matrix stays as fitted.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, TypeVar, cast

import numpy as np
import scipy.sparse as sp
from typing_extensions import override

from tailor.data.dataset import Dataset
from tailor.models._matrices import fold_in_profiles, interaction_matrix, newest_times
from tailor.models._params import Dense, ParamSpec, Sparse
from tailor.models.base import FoldIn, ModelConfig, RecommenderBase

PROFILE_PARAMS: ParamSpec = {
    "profiles": Sparse("f", ("users", "items")),
    "profile_newest": Dense("i", ("users",)),
}
"""The profile entries of an item-item model's ``params_spec``."""

C = TypeVar("C", bound=ModelConfig)


class ProfileConfig(Protocol):
    """The profile options of ItemKNN's and EASE's configs."""

    @property
    def binary(self) -> bool: ...

    @property
    def recency_half_life_days(self) -> float | None: ...


class ItemItemModel(RecommenderBase[C]):
    """Base of ItemKNN and EASE: profiles as state, built by ``_fit_profiles``, folded in by
    ``partial_fit``, scored (users' rows or an ad-hoc history) by ``_score_profiles``, which
    subclasses write with their item-item matrix. Their configs have ``binary`` and
    ``recency_half_life_days``."""

    params_spec: ClassVar[ParamSpec] = PROFILE_PARAMS
    profiles: sp.csr_array
    """users x items float32 profile matrix used to score."""
    profile_newest: np.ndarray
    """int64 newest interaction time per user: the origin of the profile's recency decay."""

    @property
    def _profile_config(self) -> ProfileConfig:
        return cast(ProfileConfig, self.config)

    @property
    @override
    def uses_weights(self) -> bool:
        return not self._profile_config.binary

    @override
    def _score(self, user_nums: np.ndarray) -> np.ndarray:
        return self._score_profiles(self.profiles[user_nums])

    def score_history(self, item_nums: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Scores of an ad-hoc history (``SupportsHistory``): the profile row ``fit`` builds for
        a user (``binary``: the largest weight of each distinct item, 1 without ``weights``;
        else the summed weights), scored like a row of ``profiles``. A history has no times, so
        ``recency_half_life_days`` cannot decay it: pass the decay factors as ``weights``."""
        from tailor.models._history import history_row

        self.require_fitted()
        binary = self._profile_config.binary
        row = history_row(item_nums, weights, len(self.items), binary=binary)
        out: np.ndarray = self._score_profiles(row)[0]
        return out

    def user_history(self, user_num: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The user's profile row as a history (``SupportsHistory``): its items and their
        (decayed, summed) values, which ``score_history`` takes back unchanged."""
        from tailor.models._history import csr_row

        self.require_fitted()
        return csr_row(self.profiles, user_num)

    def _score_profiles(self, rows: sp.csr_array) -> np.ndarray:
        """float32 scores of every item for each profile row: the item-item matrix applied,
        NaN for items added after the fit (``_matrices.pad_unfitted``)."""
        raise NotImplementedError

    def _fit_profiles(self, data: Dataset) -> None:
        """The profiles scored from now on: ``data``'s interactions, decayed per the config."""
        cfg = self._profile_config
        self.profiles = interaction_matrix(
            data, binary=cfg.binary, half_life_days=cfg.recency_half_life_days
        )
        self.profile_newest = newest_times(data.interactions, data.n_users)

    @override
    def _partial_fit(self, fold: FoldIn) -> None:
        """Fold the batch into the users' profiles; the item-item matrix stays as fitted (see
        the class docstring)."""
        cfg = self._profile_config
        batch = fold.batch
        self.profiles, self.profile_newest = fold_in_profiles(
            self.profiles,
            self.profile_newest,
            batch.interactions,
            (batch.n_users, batch.n_items),
            binary=cfg.binary,
            half_life_days=cfg.recency_half_life_days,
        )
