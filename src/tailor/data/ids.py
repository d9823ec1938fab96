"""Ids: the one normalisation every reader of user and item ids applies.

An id is text. Whatever a file or a caller holds becomes the same text everywhere (``tailor data
prepare``, ``split``, ``fit``, ``recommend --users``, ``evaluate``, serving's vocabularies):

- a whole number read as a float (pandas loads a column with blanks as float64, e.g. Online
  Retail's ``CustomerID``) loses its ``.0``: ``17850.0`` -> ``"17850"``;
- integers become their decimal text, booleans ``"True"``/``"False"``;
- text is trimmed, and text holding a whole number with a zero fraction loses it too
  (``"17850.0"`` -> ``"17850"``, ``" 42 "`` -> ``"42"``); other text is kept as written
  (``"0042"`` keeps its zeros, ``"85123A"`` its letter);
- blanks, NaN, None and NA are missing (NA), under pandas 2 and 3 alike (pandas 2's
  ``astype(str)`` writes them as the text ``"<NA>"``, ``"nan"`` or ``"None"``; those are masked
  back to missing here, so a reader's missing-id rule drops them).

A float id with a fraction (``17850.5``) cannot be a real id: it is an error naming the row.

Stability: stable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from tailor.errors import DataError

_INTEGRAL_TEXT = re.compile(r"^(-?\d+)\.0+$")


def normalise_ids(
    values: pd.Series | np.ndarray | Iterable[Any],
    *,
    file: str | None = None,
    column: str | None = None,
) -> pd.Series:
    """Ids as text (pandas ``str`` dtype), missing as NA; see the module docstring.

    Args:
        values: a column, an array or any iterable of ids.
        file: the file name, for the error message.
        column: the column name, for the error message.

    Raises:
        DataError: a float id that is not a whole number, naming its row (from 1).
    """
    if not isinstance(values, pd.Series):
        values = pd.Series(
            values if isinstance(values, np.ndarray | pd.Index) else list(values), dtype=None
        )
    if pd.api.types.is_float_dtype(values):
        arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        present = ~np.isnan(arr)
        bad = np.isinf(arr) | (present & (arr != np.round(arr)))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"id {float(arr[row])!r} is not a whole number; read ids as text",
                file=file,
                column=column,
                row=row + 1,
            )
        text = pd.Series(pd.array(values, dtype="Int64").astype("str"), index=values.index)
        return text.mask(~present)  # pandas 2 writes NA as "<NA>"
    if pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
        if values.isna().any():  # nullable integers: NA stays missing
            return values.astype("str").mask(values.isna())
        return values.astype("str")
    missing = values.isna().to_numpy()
    text = values.astype("str").str.strip()  # pandas 2: None -> "None", NaN -> "nan"
    if text.str.contains(".", regex=False).any():
        text = text.str.replace(_INTEGRAL_TEXT, r"\1", regex=True)
    return text.mask(missing | (text == "").to_numpy())


def id_array(values: pd.Series | np.ndarray | Iterable[Any]) -> np.ndarray:
    """Ids as an object array of ``str`` (what :class:`~tailor.data.vocab.Vocabulary` holds),
    normalised by :func:`normalise_ids`.

    Raises:
        ValueError: an id is missing (NaN, None or blank).
        DataError: a float id that is not a whole number.
    """
    few = _few_texts(values)
    if few is not None:  # a handful of str ids (a request): the same rules, without pandas
        out = np.array([normalise_text_id(v) for v in few], dtype=object)
        if any(v is None for v in out):
            raise ValueError("ids must not be missing (NaN, None or blank)")
        return out
    ids = normalise_ids(values)
    if ids.isna().any():
        raise ValueError("ids must not be missing (NaN, None or blank)")
    return ids.to_numpy(dtype=object)


def normalise_text_id(value: str) -> str | None:
    """One id given as text, by :func:`normalise_ids`' rules: trimmed, a zero fraction of a
    whole number dropped, blank -> None."""
    text = value.strip()
    if not text:
        return None
    if "." in text:
        match = _INTEGRAL_TEXT.match(text)
        if match:
            return match.group(1)
    return text


_FEW = 64


def _few_texts(values: Any) -> list[str] | None:
    """``values`` as a list when it holds at most a few ids, all ``str``; else None."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or len(values) > _FEW or values.dtype.kind not in "OU":
            return None
        seq = values.tolist()
    elif isinstance(values, list | tuple):
        if len(values) > _FEW:
            return None
        seq = list(values)
    else:
        return None
    return seq if all(type(v) is str for v in seq) else None
