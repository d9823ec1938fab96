"""SHAP explanations of Wide & Deep scores: which features made an item score high for a user.

A score is a function of one input vector per (user, item) pair, the concatenation of the
embeddings and wide terms the network reads: user id, each user field, item id, each item
field, the text vector (k values each), the item id bias, each item field's linear weight and
each cross weight (one value each). ``shap.DeepExplainer`` (DeepLIFT's rescale rule, exact in
sum) attributes the MLP and wide terms, and the id product's exact Shapley values are added
(:func:`_product_shapley`): together they attribute ``score - E[score over background
pairs]`` to those inputs; the columns of one feature are added up, so the named contributions
of an item sum to its score minus the base value (tested). The result is the project's
:class:`~tailor.models.explain.Explanation`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tailor.models.explain import Explanation, top_contributions
from tailor.random import derive_rng

if TYPE_CHECKING:
    import torch

    from tailor.models.wide_deep.model import WideDeep
    from tailor.models.wide_deep.network import WideDeepNet

BACKGROUND = 64
"""Random (user, item) pairs whose mean score is the base value."""


def feature_inputs(net: WideDeepNet, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """(B, D) inputs of (B,) aligned user and item numbers, in :func:`input_groups` order."""
    import torch

    with torch.no_grad():
        user_part = net.user_inputs(users)
        item_part = net.item_inputs(items, net.text_cache, None)
        bias = net.item_bias(items)
        linear = net.field_bias(net.item_codes[items]).squeeze(-1)
        uc = net.local_user[users][:, :, None]
        ic = net.local_item[items][:, None, :]
        crosses = net.cross[net.cross_base + uc * net.item_cards + ic].flatten(1)
        return torch.cat([user_part, item_part, bias, linear, crosses], 1)


def input_groups(model: WideDeep) -> list[int]:
    """For each input column, the index of its feature in ``model.feature_groups()``."""
    cfg = model.config
    k = cfg.embedding_size
    n_user, n_item = len(cfg.user_columns), len(cfg.item_columns) + (cfg.price_column is not None)
    groups = [g for g in range(1 + n_user) for _ in range(k)]  # user id, user fields
    first_item = 1 + n_user
    groups += [first_item + g for g in range(2 + n_item) for _ in range(k)]  # id, fields, text
    groups.append(first_item + 2 + n_item)  # item bias
    groups += [first_item + 1 + f for f in range(n_item)]  # item fields' linear weights
    first_cross = first_item + 3 + n_item
    groups += [first_cross + c for c in range(n_user * n_item)]
    return groups


def _explained(net: WideDeepNet, n_user_inputs: int, n_item_inputs: int) -> Any:
    """The score as a module of the input vector (what DeepExplainer differentiates)."""
    from torch import nn

    class Explained(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.user_proj, self.item_proj, self.head = net.user_proj, net.item_proj, net.head

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            split = n_user_inputs + n_item_inputs
            hidden = self.user_proj(x[:, :n_user_inputs]) + self.item_proj(
                x[:, n_user_inputs:split]
            )
            deep: torch.Tensor = self.head(hidden)
            return deep + x[:, split:].sum(1, keepdim=True)

    return Explained().eval()


def explain_scores(
    model: WideDeep, user_num: int, item_nums: np.ndarray, top: int
) -> list[Explanation]:
    """See ``WideDeep.explain``."""
    if not 0 <= user_num < len(model.users):
        raise IndexError(f"user number must be in 0..{len(model.users) - 1}")
    if len(item_nums) and (item_nums.min() < 0 or item_nums.max() >= len(model.items)):
        raise IndexError(f"item numbers must be in 0..{len(model.items) - 1}")
    grouped, base = contributions(model, user_num, item_nums)
    names = model.feature_groups()
    scores = model.score_rows(np.array([user_num]))[0, item_nums]
    return [
        Explanation(int(item), base, top_contributions(names, values, top), "shap", float(score))
        for item, values, score in zip(item_nums, grouped, scores, strict=True)
    ]


def contributions(
    model: WideDeep, user_num: int, item_nums: np.ndarray
) -> tuple[np.ndarray, float]:
    """(len(item_nums), features) SHAP values per ``model.feature_groups()`` and the base value.

    Raises:
        shap's ExplainerError: the values do not add up to the network's output (checked).
    """
    import shap
    import torch

    net = model.network()
    cfg = model.config
    n_user_inputs = cfg.embedding_size * (1 + len(cfg.user_columns))
    rng = derive_rng(cfg.seed, "explain", len(model.users), len(model.items))
    bg_users = torch.from_numpy(rng.integers(0, len(model.users), BACKGROUND))
    bg_items = torch.from_numpy(rng.integers(0, len(model.items), BACKGROUND))
    background = feature_inputs(net, bg_users, bg_items)
    users = torch.full((len(item_nums),), user_num, dtype=torch.int64)
    x = feature_inputs(net, users, torch.from_numpy(item_nums))
    module = _explained(net, n_user_inputs, net.item_proj.in_features)
    explainer = shap.DeepExplainer(module, background)
    values = np.asarray(explainer.shap_values(x, check_additivity=True)).reshape(x.shape)
    k = cfg.embedding_size
    ids = (slice(0, k), slice(n_user_inputs, n_user_inputs + k))
    product, product_base = _product_shapley(x.numpy(), background.numpy(), *ids)
    values[:, ids[0]] += product[0]
    values[:, ids[1]] += product[1]
    grouped = np.zeros((len(item_nums), len(model.feature_groups())))
    np.add.at(grouped.T, np.array(input_groups(model)), values.T)
    return grouped, float(np.asarray(explainer.expected_value).reshape(-1)[0]) + product_base


def _product_shapley(
    x: np.ndarray, background: np.ndarray, user: slice, item: slice
) -> tuple[tuple[np.ndarray, np.ndarray], float]:
    """Exact Shapley values of the id product a . b (user id columns ``user``, item id columns
    ``item``) against each background pair (a0, b0), averaged: per dimension, a's share of
    a b - a0 b0 is (a - a0)(b + b0) / 2 and b's (b - b0)(a + a0) / 2. DeepExplainer's rules do
    not add up on a product of two inputs, so this term is attributed here. Returns the two
    (len(x), k) blocks and the base value's part, the mean a0 . b0."""
    a, b = x[:, None, user], x[:, None, item]
    a0, b0 = background[None, :, user], background[None, :, item]
    to_user = ((a - a0) * (b + b0) / 2).mean(1)
    to_item = ((b - b0) * (a + a0) / 2).mean(1)
    base = float((background[:, user] * background[:, item]).sum(1).mean())
    return (to_user, to_item), base
