"""Wide & Deep: the contract, planted answers (taste groups, category preference, content cold
start), ONNX vs torch eager, SHAP additivity and fold-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from tailor.models.wide_deep import WideDeep  # noqa: E402
from tailor.testing import RecommenderContract  # noqa: E402

SMALL: dict[str, Any] = {"embedding_size": 8, "hidden": (16,), "epochs": 25, "batch_size": 8,
         "learning_rate": 0.03, "negatives": 4, "dropout": 0.2, "fold_in_epochs": 10}  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # tiny tensors: one thread is faster than two fighting over a shared machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TestWideDeepContract(RecommenderContract):
    @staticmethod
    def model_factory(**kwargs: Any) -> Any:
        return WideDeep(**{**SMALL, **kwargs})
