"""Item and user attribute tables: one row per id, labels normalised, gaps imputed.

Used by :mod:`tailor.data.cleaning`; every change is counted into a ``changed`` mapping whose keys
are ``<table>.<column>.<what>``:

- ``normalised``: raw cells whose text changed under normalisation (whitespace trimmed and
  collapsed; label columns such as ``category`` also lower-cased);
- ``resolved``: ids whose rows hold more than one value of the column (after whitespace
  normalisation; case variants count as different spellings), set to one value: for text the
  most frequent group of case variants, shown as its most frequent spelling (ties go to the
  alphabetically first); for numbers and dates the median;
- ``nonpositive_removed``: prices <= 0 treated as unknown;
- ``imputed``: ids with no value at all, filled by the configured strategy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
import pandas as pd

from tailor.data.columns import Columns

CategoricalStrategy = Literal["unknown", "most_frequent", "none"]
NumericStrategy = Literal["median", "mean", "none"]


def resolve_table(
    rows: pd.DataFrame,
    key: str,
    *,
    table: str,
    normalise: bool,
    label_columns: Iterable[str],
    drop_nonpositive_prices: bool,
    changed: dict[str, int],
) -> pd.DataFrame:
    """Collapse attribute rows (ids may repeat) into one row per id.

    Args:
        rows: ``key`` plus attribute columns; rows with a missing id are ignored.
        key: ``item_id`` or ``user_id``.
        table: ``items`` or ``users`` (for the change keys).
        normalise: trim/collapse whitespace and merge case variants of text values.
        label_columns: text columns that are labels, lower-cased when normalising.
        drop_nonpositive_prices: a ``price`` <= 0 counts as unknown.
        changed: counts are added here.

    Returns:
        One row per id, in order of first appearance.
    """
    rows = rows[rows[key].notna()]
    key_codes, ids = pd.factorize(rows[key])
    out = pd.DataFrame({key: pd.Series(ids, dtype="str")})
    labels = set(label_columns)
    for col in rows.columns:
        if col == key:
            continue
        values = rows[col]
        name = f"{table}.{col}"
        if col == Columns.PRICE and drop_nonpositive_prices and _is_number(values):
            bad = values.le(0)
            _count(changed, f"{name}.nonpositive_removed", int(bad.sum()))
            values = values.mask(bad)
        if _is_number(values) or pd.api.types.is_datetime64_any_dtype(values):
            grouped = values.reset_index(drop=True).groupby(key_codes, sort=True)
            _count(changed, f"{name}.resolved", int(grouped.nunique().gt(1).sum()))
            out[col] = grouped.median().reindex(np.arange(len(ids))).to_numpy()
        else:
            text = pd.api.types.is_string_dtype(values) or values.dtype == object
            out[col] = _mode_per_id(
                key_codes, len(ids), values, name, normalise and text, col in labels, changed
            )
    return out


def labels(
    columns: Iterable[str], label_columns: Iterable[str], types: Mapping[str, str]
) -> tuple[str, ...]:
    """The label columns among ``columns``: typed ``category``, or listed in ``label_columns``
    and not typed ``id``/``text`` (a declared type wins)."""
    listed = set(label_columns)
    out = []
    for col in columns:
        kind = types.get(col)
        if kind == "category" or (col in listed and kind not in ("id", "text")):
            out.append(col)
    return tuple(out)


def plain_flags(values: pd.Series) -> pd.Series:
    """A ``boolean`` column without gaps as plain ``bool`` (what every reader of items.parquet
    expects); with gaps it stays ``boolean`` (nullable)."""
    if isinstance(values.dtype, pd.BooleanDtype) and not values.isna().any():
        return values.astype(bool)
    return values


def _is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _count(changed: dict[str, int], name: str, n: int) -> None:
    if n:
        changed[name] = changed.get(name, 0) + n


def _mode_per_id(
    key_codes: np.ndarray,
    n_ids: int,
    values: pd.Series,
    name: str,
    normalise: bool,
    lower: bool,
    changed: dict[str, int],
) -> pd.Series:
    """The most frequent value of each id, on integer codes (fast for 10^6 rows).

    When normalising, spellings that differ only in case or whitespace form one group: the id
    takes its most frequent group, shown as that group's most frequent spelling. Ties go to the
    alphabetically first group / spelling.
    """
    val_codes, uniques = pd.factorize(values)
    if len(uniques) == 0:
        return pd.Series([None] * n_ids, dtype=object)
    shown = pd.Series(uniques)
    if normalise:
        raw = shown.astype("str")
        shown = raw.str.replace(r"\s+", " ", regex=True).str.strip()
        if lower:
            shown = shown.str.lower()
        edited = (shown != raw).to_numpy()
        present = val_codes >= 0
        _count(changed, f"{name}.normalised", int(edited[val_codes[present]].sum()))
        group_of, group_uniques = pd.factorize(shown.str.casefold())
    else:
        group_of, group_uniques = np.arange(len(uniques)), shown
    present = val_codes >= 0
    ids, vals = key_codes[present].astype(np.int64), val_codes[present].astype(np.int64)
    pair, n = np.unique(ids * len(uniques) + vals, return_counts=True)
    p_id, p_val = pair // len(uniques), pair % len(uniques)
    p_group = group_of[p_val].astype(np.int64)
    _, g_inv = np.unique(p_id * len(group_uniques) + p_group, return_inverse=True)
    group_n = np.bincount(g_inv, weights=n)[g_inv]
    group_rank = _alphabetical_rank(pd.Series(group_uniques))[p_group]
    value_rank = _alphabetical_rank(shown)[p_val]
    order = np.lexsort((value_rank, -n, group_rank, -group_n, p_id))
    first_id, first_at = np.unique(p_id[order], return_index=True)
    # ids whose rows show more than one spelling (case variants included) after normalisation
    shown_code = pd.factorize(shown)[0].astype(np.int64)
    spelling_pairs = np.unique(p_id * len(uniques) + shown_code[p_val])
    n_spellings = np.bincount(spelling_pairs // len(uniques), minlength=n_ids)
    _count(changed, f"{name}.resolved", int((n_spellings > 1).sum()))
    best = np.full(n_ids, -1, dtype=np.int64)
    best[first_id] = p_val[order][first_at]
    result = shown.take(np.maximum(best, 0)).reset_index(drop=True)
    return result.mask(best < 0)


def _alphabetical_rank(values: pd.Series) -> np.ndarray:
    """Rank of each value in sorted order (as text)."""
    order = np.argsort(values.astype("str").to_numpy(), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def impute_table(
    frame: pd.DataFrame,
    key: str,
    *,
    table: str,
    categorical: CategoricalStrategy,
    numeric: NumericStrategy,
    unknown_token: str,
    changed: dict[str, int],
) -> pd.DataFrame:
    """Fill missing attributes: text by ``unknown_token`` or the most frequent value, booleans by
    the most frequent value, numbers and dates by the median (or mean). Counts go to ``changed``.
    """
    out = frame.copy()
    for col in out.columns:
        if col == key:
            continue
        values = out[col]
        missing = values.isna()
        if not missing.any() or missing.all():
            continue
        fill = _fill_value(values, categorical, numeric, unknown_token)
        if fill is None:
            continue
        out[col] = fill_missing(values, fill)
        if pd.api.types.is_bool_dtype(values.dropna()):
            out[col] = out[col].astype(bool)
        _count(changed, f"{table}.{col}.imputed", int(missing.sum()))
    return out


def _fill_value(
    values: pd.Series,
    categorical: CategoricalStrategy,
    numeric: NumericStrategy,
    unknown_token: str,
) -> object | None:
    present = values.dropna().infer_objects()
    if pd.api.types.is_bool_dtype(present):
        return None if categorical == "none" else bool(most_frequent(present))
    if _is_number(values) or pd.api.types.is_datetime64_any_dtype(values):
        if numeric == "none":
            return None
        return present.median() if numeric == "median" else present.mean()
    if categorical == "none":
        return None
    if categorical == "unknown":
        return unknown_token
    return most_frequent(present)


def fill_missing(values: pd.Series, value: object) -> pd.Series:
    """``values`` with its missing entries set to ``value`` (a category column gains ``value`` as
    a category). The one fill step of attribute cleaning and of the Imputer."""
    if isinstance(values.dtype, pd.CategoricalDtype) and value not in values.cat.categories:
        values = values.cat.add_categories([value])
    if values.dtype == object:
        # fillna on object columns keeps object dtype; no downcasting surprises
        return values.where(values.notna(), value)
    return values.fillna(value)


def most_frequent(present: pd.Series) -> object:
    """The most frequent of ``present`` (no missing values); ties go to the smallest value. The
    one mode rule of attribute cleaning and of :class:`tailor.data.features.Imputer`."""
    counts = present.value_counts(sort=False)
    return sorted(counts.index[counts.to_numpy() == counts.max()])[0]
