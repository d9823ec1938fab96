"""The explanation capability: why a model scored an item as it did for a user.

Three kinds, one shape (:class:`Explanation`):

- ``"shap"``: feature-based models (the LambdaMART ranker, Wide & Deep): SHAP values of the
  features; ``base_value + sum(all contributions) == score``.
- ``"items"``: "because you bought X": the item-item models (ItemKNN, EASE, RecencyEASE) and the
  factor models (ALS, BPR) split a score over the user's history items; names are item ids.
- ``"lime"``: LIME's local linear surrogate, for any model (an approximation: not additive).

A model that explains itself satisfies :class:`SupportsExplain`; the others are explained from
their public state by :mod:`tailor.models.attributions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np

ExplanationKind: TypeAlias = Literal["shap", "items", "lime"]
EXPLANATION_KINDS: tuple[ExplanationKind, ...] = ("shap", "items", "lime")


@dataclass(frozen=True, slots=True)
class Explanation:
    """One item's explanation for one user.

    ``contributions`` are the ``top`` largest by absolute value, largest first, as
    (feature name or item id, value). For the additive kinds ("shap", "items"),
    ``score == base_value + sum of every contribution``, the ones left out included: ``rest``
    is what the left-out ones add up to.
    """

    item_num: int
    base_value: float
    contributions: tuple[tuple[str, float], ...]
    kind: ExplanationKind
    score: float
    """The value explained: the model's score (or its surrogate's prediction, for "lime")."""

    def __post_init__(self) -> None:
        if self.kind not in EXPLANATION_KINDS:
            raise ValueError(f"kind must be one of {EXPLANATION_KINDS}, got {self.kind!r}")
        if not (math.isfinite(self.base_value) and math.isfinite(self.score)):
            raise ValueError(
                f"item {self.item_num}: base_value and score must be finite, got "
                f"{self.base_value} and {self.score}"
            )

    @property
    def rest(self) -> float:
        """``score - base_value - sum(contributions)``: the left-out contributions' sum."""
        return self.score - self.base_value - sum(value for _, value in self.contributions)


@runtime_checkable
class SupportsExplain(Protocol):
    """Models that explain their own scores (the feature-based models, with SHAP)."""

    def explain(self, user_num: int, item_nums: np.ndarray, top: int = 3) -> list[Explanation]:
        """One :class:`Explanation` per entry of ``item_nums`` (same order) of the scores
        ``score_rows([user_num])[0, item_nums]``, each with its ``top`` largest contributions.

        Raises:
            NotFittedError: before ``fit``.
            IndexError: a user or item number out of range.
        """
        ...


def top_contributions(
    names: list[str] | np.ndarray, values: np.ndarray, top: int
) -> tuple[tuple[str, float], ...]:
    """The ``top`` (name, value) pairs largest by ``|value|``, largest first; ties keep the
    input order (a stable sort), zeros are left out (they explain nothing)."""
    if top < 0:
        raise ValueError(f"top must be >= 0, got {top}")
    values = np.asarray(values, dtype=np.float64)
    if len(names) != len(values):
        raise ValueError(f"{len(names)} names for {len(values)} values")
    order = np.argsort(-np.abs(values), kind="stable")[:top]
    return tuple((str(names[j]), float(values[j])) for j in order if values[j] != 0.0)
