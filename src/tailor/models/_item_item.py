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
    ``partial_fit``; subclasses fit and apply the item-item matrix. Their configs have
    ``binary`` and ``recency_half_life_days``."""

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
