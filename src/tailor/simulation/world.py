"""A shop with known preferences: the ground truth the simulator's visitors act on.

Users and items have hidden latent factors (seeded); a user's affinity for an item is
``u . v + bias_i``. From it come the training history (what users bought before the run, drawn
by softmax over affinities) and the probabilities of acting on a shown list: a click with
probability ``sigmoid(click_bias + affinity) * position_weight(rank)`` and, after a click, a
purchase with probability ``buy_rate``. Because the truth is known, a better model must earn
more clicks and purchases, and the tests can say by how much.

Drifts change the truth mid-run: :meth:`ShopWorld.shift_preferences` (tastes rotate),
:meth:`ShopWorld.stock_out` (a category becomes unavailable).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.random import derive_rng

START_S = 1_767_225_600
"""The history ends and the run starts at 2026-01-01T00:00:00Z (epoch seconds)."""


@dataclass
class ShopWorld:
    """Users, items and their hidden preferences (see the module docstring).

    Attributes:
        n_users, n_items, k: sizes and latent dimension.
        seed: everything random derives from it.
        click_bias: the click logit of an item of zero affinity at the top of a list.
        buy_rate: probability of a purchase after a click.
        n_categories: items are split into this many categories (by number, round robin).
    """

    n_users: int = 500
    n_items: int = 200
    k: int = 8
    seed: int = 0
    click_bias: float = -2.5
    buy_rate: float = 0.3
    n_categories: int = 5
    user_factors: np.ndarray = field(init=False, repr=False)
    item_factors: np.ndarray = field(init=False, repr=False)
    item_bias: np.ndarray = field(init=False, repr=False)
    prices: np.ndarray = field(init=False, repr=False)
    available: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = derive_rng(self.seed, "world")
        scale = 1.0 / np.sqrt(self.k)
        self.user_factors = rng.normal(0.0, 1.2 * np.sqrt(scale), (self.n_users, self.k))
        self.item_factors = rng.normal(0.0, 1.2 * np.sqrt(scale), (self.n_items, self.k))
        self.item_bias = rng.normal(0.0, 0.5, self.n_items)
        self.prices = np.round(rng.lognormal(2.5, 0.6, self.n_items), 2)
        self.available = np.ones(self.n_items, bool)

    # ---- ids ---------------------------------------------------------------------------------
    @property
    def user_ids(self) -> list[str]:
        return [f"u{u}" for u in range(self.n_users)]

    @property
    def item_ids(self) -> list[str]:
        return [f"i{i}" for i in range(self.n_items)]

    def item_number(self, item_id: str) -> int:
        return int(item_id[1:])

    def category(self, item: int) -> str:
        return f"c{item % self.n_categories}"

    # ---- the truth ---------------------------------------------------------------------------
    def affinity(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Aligned affinities of (user, item) number pairs."""
        dots = np.einsum("ij,ij->i", self.user_factors[users], self.item_factors[items])
        return dots + self.item_bias[items]

    def click_probability(self, user: int, items: np.ndarray) -> np.ndarray:
        """Probability that ``user`` clicks each item of a list shown in this order."""
        aff = self.affinity(np.full(len(items), user), items)
        position = 1.0 / np.log2(np.arange(len(items)) + 2.0)
        p = position / (1.0 + np.exp(-(self.click_bias + aff)))
        return np.where(self.available[items], p, 0.0)

    def best_items(self, user: int, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """The ``n`` available items ``user`` likes most (an oracle's list)."""
        aff = self.affinity(np.full(self.n_items, user), np.arange(self.n_items))
        aff[~self.available] = -np.inf
        if exclude is not None:
            aff[exclude] = -np.inf
        return np.argsort(-aff, kind="stable")[:n]

    # ---- data --------------------------------------------------------------------------------
    def history(self, per_user: int = 20, days: int = 60) -> pd.DataFrame:
        """Purchases before the run: each user buys ``per_user`` distinct items drawn by softmax
        over affinity, at times spread over the ``days`` before :data:`START_S`."""
        rng = derive_rng(self.seed, "history")
        rows_u, rows_i = [], []
        for user in range(self.n_users):
            aff = self.affinity(np.full(self.n_items, user), np.arange(self.n_items))
            p = np.exp(aff - aff.max())
            items = rng.choice(self.n_items, size=per_user, replace=False, p=p / p.sum())
            rows_u.append(np.full(per_user, user))
            rows_i.append(items)
        users, items = np.concatenate(rows_u), np.concatenate(rows_i)
        stamps = START_S - rng.integers(1, days * 86_400, len(users))
        return pd.DataFrame(
            {
                Columns.USER_ID: [f"u{u}" for u in users],
                Columns.ITEM_ID: [f"i{i}" for i in items],
                Columns.EVENT_TYPE: "purchase",
                Columns.TIMESTAMP: pd.to_datetime(stamps, unit="s", utc=True),
            }
        )

    def catalog(self) -> pd.DataFrame:
        """item_id, category, price, available."""
        return pd.DataFrame(
            {
                Columns.ITEM_ID: self.item_ids,
                Columns.CATEGORY: [self.category(i) for i in range(self.n_items)],
                Columns.PRICE: self.prices,
                Columns.AVAILABLE: self.available.copy(),
            }
        )

    # ---- drift -------------------------------------------------------------------------------
    def shift_preferences(self, strength: float = 1.0) -> None:
        """Tastes change: user factors move towards fresh random ones (``strength`` 1: all)."""
        rng = derive_rng(self.seed, "shift", strength)
        fresh = rng.normal(0.0, self.user_factors.std(), self.user_factors.shape)
        self.user_factors = (1 - strength) * self.user_factors + strength * fresh

    def stock_out(self, category: str) -> None:
        """Every item of ``category`` becomes unavailable (never clicked or bought)."""
        for item in range(self.n_items):
            if self.category(item) == category:
                self.available[item] = False
