"""The model contract as types: the protocol every model satisfies, capabilities by protocol,
and no module reaching into another's private hooks."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from tailor.data.dataset import Dataset
from tailor.models import (
    Recommender,
    SupportsFactors,
    SupportsPartialFit,
    SupportsSimilarItems,
    create_model,
)
from tailor.models.registry import MODELS
from tailor.testing import planted_frame

SRC = Path(__file__).resolve().parents[2] / "src" / "tailor"
FACTOR_MODELS = {"als", "bpr", "mf-sgd"}
SIMILAR_ITEMS = {"itemknn", "ease", "recency-ease", "als", "bpr", "mf-sgd"}
FAST = {"als": {"factors": 4, "iterations": 3}, "bpr": {"factors": 4, "iterations": 5},
        "mf-sgd": {"embedding_size": 4, "epochs": 3}}  # fmt: skip


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_is_a_recommender_with_fold_in(name: str) -> None:
    model = create_model(name, FAST.get(name))
    assert isinstance(model, Recommender) and isinstance(model, SupportsPartialFit)
    assert model.name == name and not model.is_fitted
    assert isinstance(model, SupportsFactors) == (name in FACTOR_MODELS)
    assert isinstance(model, SupportsSimilarItems) == (name in SIMILAR_ITEMS)


@pytest.mark.parametrize("name", sorted(FACTOR_MODELS))
def test_factor_form_reproduces_score_rows(name: str) -> None:
    model = create_model(name, {**FAST[name], "seed": 0}).fit(Dataset.from_frame(planted_frame()))
    assert isinstance(model, SupportsFactors)
    user_offsets, item_offsets = model.factor_offsets()
    assert user_offsets.shape == (len(model.users),) and item_offsets.shape == (len(model.items),)
    rows = model.score_rows(np.arange(len(model.users)))
    inner = model.user_factors @ model.item_factors.T
    np.testing.assert_allclose(
        rows, inner + item_offsets + user_offsets[:, None], rtol=1e-5, atol=1e-5
    )


ALLOWED = {"_replace", "_asdict", "_fields", "_make"}  # namedtuple's public API


def _private_hook_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """``x._name`` where ``x`` is not ``self``/``cls``/``super()`` (nor ``other`` of the same
    class inside a dunder method)."""
    found: list[tuple[int, str]] = []
    dunder_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("__"):
            dunder_lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__") or name in ALLOWED:
            continue
        base = node.value
        if isinstance(base, ast.Name) and base.id in {"self", "cls"}:
            continue
        if isinstance(base, ast.Name) and base.id == "other" and node.lineno in dunder_lines:
            continue
        if isinstance(base, ast.Call) and getattr(base.func, "id", None) == "super":
            continue
        found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_module_calls_another_modules_private_hooks() -> None:
    """Issue 9: seams use public methods (score_rows, require_fitted, state_arrays, ...)."""
    offenders = [
        f"{path.relative_to(SRC)}:{line}: {text}"
        for path in sorted(SRC.rglob("*.py"))
        for line, text in _private_hook_calls(ast.parse(path.read_text()))
    ]
    assert offenders == []
