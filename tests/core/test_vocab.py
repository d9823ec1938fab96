from __future__ import annotations

import numpy as np
import pytest

from tailor.data.vocab import Vocabulary


def test_numbers_and_ids_round_trip() -> None:
    vocab = Vocabulary(["b", "a", "c"])
    assert vocab.numbers(["a", "c", "zz"]).tolist() == [1, 2, -1]
    assert vocab.id_of([2, 0]).tolist() == ["c", "b"]
    assert vocab.number("b") == 0 and vocab.number("nope") is None
    assert "a" in vocab and "d" not in vocab


def test_integer_and_float_ids_become_the_same_strings() -> None:
    vocab = Vocabulary.from_values(np.array([17850.0, 13047.0, 17850.0]))
    assert vocab.ids.tolist() == ["17850", "13047"]
    assert vocab.numbers([17850, "13047"]).tolist() == [0, 1]


def test_missing_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="missing"):
        Vocabulary.from_values(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="unique"):
        Vocabulary(["a", "a"])


def test_unknown_ids_raise_on_request() -> None:
    with pytest.raises(KeyError, match="x"):
        Vocabulary(["a"]).numbers(["a", "x"], missing="error")


def test_extend_keeps_existing_numbers() -> None:
    vocab = Vocabulary(["a", "b"]).extend(["c", "a", "d", "c"])
    assert vocab.ids.tolist() == ["a", "b", "c", "d"]
