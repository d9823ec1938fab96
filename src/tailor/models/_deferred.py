"""The deferred item-item weights of the EASE models (``SupportsDeferredWeights``): a fold-in
may update the profiles at once and leave :math:`B` for :meth:`refresh_weights`, which folds
every waiting batch in one update; a saved model never holds a :math:`B` that lags."""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
from typing_extensions import override

from tailor.data.dataset import Dataset
from tailor.models._gram_inverse import PendingFold
from tailor.models.base import C, RecommenderBase


class DeferredWeightsModel(RecommenderBase[C]):
    """Base of EASE and RecencyEASE: the deferral switch, the pending batches and the refresh
    before saving; subclasses write :meth:`refresh_weights`."""

    _inverse: np.ndarray | None = None
    """float32 inverse Gram :math:`P` kept between fold-ins (never saved)."""
    _pending: PendingFold | None = None
    """Batches folded into the profiles but not yet into :math:`B` (``defer_weights``)."""
    _defer: bool = False

    @override
    def partial_fit(self, frame: pd.DataFrame | Dataset, *, defer_weights: bool = False) -> Self:
        """``RecommenderBase.partial_fit``; with ``defer_weights`` :math:`B` waits for
        :meth:`refresh_weights` (``SupportsDeferredWeights``)."""
        self._defer = defer_weights
        try:
            return super().partial_fit(frame)
        finally:
            self._defer = False

    @property
    def weights_pending(self) -> bool:
        """True while folded-in batches wait for :meth:`refresh_weights`."""
        return self._pending is not None

    @override
    def state_arrays(self) -> dict[str, np.ndarray]:
        self.refresh_weights()  # never save a B that lags the profiles
        return super().state_arrays()

    def refresh_weights(self) -> None:
        """Fold every deferred batch into :math:`B` at once."""
        raise NotImplementedError
