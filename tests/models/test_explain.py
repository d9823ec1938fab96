"""The explanation capability: Explanation's checks and rest, top_contributions, the protocol."""

from __future__ import annotations

import numpy as np
import pytest

from tailor.models import Explanation, SupportsExplain, create_model
from tailor.models.attributions import explainer_for
from tailor.models.explain import top_contributions


def test_rest_is_what_the_left_out_contributions_add_up_to() -> None:
    e = Explanation(3, 0.5, (("a", 2.0), ("b", -1.0)), "shap", 2.25)
    assert e.rest == 0.75  # 2.25 - 0.5 - (2.0 - 1.0)


def test_bad_kind_or_non_finite_values_are_named() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        Explanation(0, 0.0, (), "gain", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="item 7: base_value and score must be finite"):
        Explanation(7, float("nan"), (), "shap", 1.0)


def test_top_contributions_by_absolute_value_ties_in_input_order_zeros_dropped() -> None:
    names = ["a", "b", "c", "d", "e"]
    values = np.array([0.5, -2.0, 0.0, 0.5, 1.0])
    assert top_contributions(names, values, 3) == (("b", -2.0), ("e", 1.0), ("a", 0.5))
    assert top_contributions(names, values, 10) == (
        ("b", -2.0),
        ("e", 1.0),
        ("a", 0.5),
        ("d", 0.5),
    )
    assert top_contributions(names, values, 0) == ()
    with pytest.raises(ValueError, match="top must be >= 0"):
        top_contributions(names, values, -1)
    with pytest.raises(ValueError, match="4 names for 5 values"):
        top_contributions(names[:4], values, 2)


def test_a_model_with_its_own_explain_is_its_own_explainer() -> None:
    class Ranker:
        name = "ranker"

        def explain(self, user_num: int, item_nums: np.ndarray, top: int = 3) -> list[Explanation]:
            return [Explanation(int(i), 0.0, (), "shap", 0.0) for i in item_nums]

    ranker = Ranker()
    assert isinstance(ranker, SupportsExplain)
    assert explainer_for(ranker) is ranker  # type: ignore[arg-type]


def test_popularity_has_no_explanation() -> None:
    assert explainer_for(create_model("popularity")) is None
    assert not isinstance(create_model("popularity"), SupportsExplain)
