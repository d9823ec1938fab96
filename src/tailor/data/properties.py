"""Item property logs: the catalogue as it changes over time, pivoted as of a time.

Clickstream exports ship their catalogue in long form, one row per (time, item, property,
value): an item's category, its availability flipping as it goes out of stock and back, its
price. tailor keeps that log (``item_properties.parquet`` in a prepared folder) with columns

| column | type | meaning |
|---|---|---|
| ``item_id`` | str | the item |
| ``timestamp`` | datetime64[ns] | when the value was recorded (naive UTC) |
| ``property`` | str | the attribute name (as mapped in ``[items.properties]``) |
| ``value`` | str | the value in canonical text: flags ``"true"``/``"false"``, numbers as
  Python writes floats, ids and text as read (ids without a ``.0``); NA when blank |
| ``type`` | str | the attribute's type (``id``, ``category``, ``text``, ``number``, ``flag``) |

and :func:`pivot_latest` turns it into one row per item holding, for every property, the value
of its latest row (ties at one timestamp: the later row of the log), optionally only among rows
recorded before a time: ``tailor data prepare`` writes the latest values into
``items.parquet``; ``tailor data split`` re-pivots as of the split's cut
(:func:`catalogue_as_of`), so training sees the catalogue as it was then.

Stability: stable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.data import _attributes
from tailor.data.columns import Columns
from tailor.data.prepared import ITEMS_FILE, PROPERTIES_FILE, REPORT_FILE
from tailor.data.split import Split
from tailor.data.validate import read_parquet
from tailor.errors import DataError

PROPERTY = "property"
VALUE = "value"
TYPE = "type"
LOG_COLUMNS = (Columns.ITEM_ID, Columns.TIMESTAMP, PROPERTY, VALUE, TYPE)
_TRUE, _FALSE = "true", "false"


def canonical_text(typed: pd.Series, kind: str | None) -> pd.Series:
    """Typed values as the log's text (flags ``"true"``/``"false"``, numbers by ``repr``)."""
    if kind == "flag":
        flags = typed.astype("boolean")
        text = pd.Series(np.where(flags.fillna(False), _TRUE, _FALSE), index=typed.index)
        return text.mask(flags.isna().to_numpy()).astype("str")
    if kind == "number":
        numbers = typed.astype(np.float64)
        return numbers.astype("str").mask(numbers.isna())
    return typed.astype("str")


def from_text(text: pd.Series, kind: str | None) -> pd.Series:
    """The log's text back to typed values (the inverse of :func:`canonical_text`)."""
    if kind == "flag":
        out = pd.array(text.eq(_TRUE).fillna(False).to_numpy(dtype=bool), dtype="boolean")
        out[text.isna().to_numpy()] = pd.NA
        return pd.Series(out, index=text.index)
    if kind == "number":
        return pd.to_numeric(text, errors="coerce").astype(np.float64)
    return text.astype("str")


def property_types(log: pd.DataFrame) -> dict[str, str]:
    """Property -> type, in the log's order of first appearance."""
    first = log.drop_duplicates(PROPERTY)
    return dict(zip(first[PROPERTY].astype(str), first[TYPE].astype(str), strict=True))


def pivot_latest(
    log: pd.DataFrame,
    *,
    before: pd.Timestamp | None = None,
    properties: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per item: ``item_id`` and, per property, the value of its latest log row.

    Args:
        log: a property log (``LOG_COLUMNS``); rows without an item id or a timestamp are
            ignored.
        before: only rows recorded strictly before this time count (the catalogue as it was
            at ``before``); None: every row.
        properties: the columns to return, in this order (a property with no row gets an
            all-missing column); default every property of the log.

    Returns:
        Items in order of their first row (among the rows that count); columns typed by the
        properties' types (flags ``boolean``, numbers ``float64``, the rest ``str``).
    """
    types = property_types(log)
    names = list(types) if properties is None else list(properties)
    keep = log[Columns.ITEM_ID].notna().to_numpy() & log[Columns.TIMESTAMP].notna().to_numpy()
    times = log[Columns.TIMESTAMP].to_numpy(dtype="datetime64[ns]")
    if before is not None:
        keep &= times < np.datetime64(pd.Timestamp(before).as_unit("ns").to_datetime64())
    rows = np.flatnonzero(keep)
    item_codes, items = pd.factorize(log[Columns.ITEM_ID].to_numpy()[rows])
    prop_codes, props = pd.factorize(log[PROPERTY].to_numpy()[rows])
    t = times[rows].view(np.int64)
    order = np.lexsort((rows, t, prop_codes, item_codes))
    key = item_codes[order].astype(np.int64) * max(len(props), 1) + prop_codes[order]
    last = order[np.r_[key[1:] != key[:-1], True]] if len(order) else order
    values = log[VALUE].to_numpy(dtype=object, na_value=None)[rows]
    out = pd.DataFrame({Columns.ITEM_ID: pd.Series(items, dtype="str")})
    where = {str(p): k for k, p in enumerate(props)}
    for name in names:
        column = np.full(len(items), None, dtype=object)
        if name in where:
            chosen = last[prop_codes[last] == where[name]]
            column[item_codes[chosen]] = values[chosen]
        out[name] = from_text(pd.Series(column, dtype="str"), types.get(name)).array
    return out


def catalogue_as_of(
    items: pd.DataFrame,
    log: pd.DataFrame,
    before: pd.Timestamp,
    *,
    normalise: bool = True,
    label_columns: Sequence[str] = (Columns.CATEGORY,),
    drop_nonpositive_prices: bool = True,
    impute_categorical: _attributes.CategoricalStrategy = "unknown",
    impute_numeric: _attributes.NumericStrategy = "median",
    unknown_token: str = "unknown",
) -> tuple[pd.DataFrame, dict[str, int]]:
    """``items`` with the log's properties replaced by their values as of ``before``.

    The other columns of ``items`` and its rows (every item, in its order) stay. Values are
    normalised and gaps (items with no row before ``before``) imputed by the same rules, with the
    same options, as ``tailor data prepare`` applied (pass the ``[cleaning]`` options it used).

    Returns:
        The catalogue and what changed (``changed`` counts of :mod:`tailor.data._attributes`,
        keyed ``items.<column>.<what>``).
    """
    types = property_types(log)
    names = [c for c in types if c in items.columns]
    if not names:
        return items, {}
    wide = pivot_latest(log, before=before, properties=names)
    changed: dict[str, int] = {}
    labels = _attributes.labels(names, label_columns, types)
    resolved = _attributes.resolve_table(
        wide,
        Columns.ITEM_ID,
        table="items",
        normalise=normalise,
        label_columns=labels,
        drop_nonpositive_prices=drop_nonpositive_prices,
        changed={},
    )
    ids = items[Columns.ITEM_ID].astype("str")
    rows = pd.DataFrame({Columns.ITEM_ID: ids.to_numpy()})
    known = resolved.set_index(Columns.ITEM_ID)
    for name in names:
        rows[name] = known[name].reindex(ids.to_numpy()).to_numpy()
        if types.get(name) == "flag":
            rows[name] = rows[name].astype("boolean")
    filled = _attributes.impute_table(
        rows,
        Columns.ITEM_ID,
        table="items",
        categorical=impute_categorical,
        numeric=impute_numeric,
        unknown_token=unknown_token,
        changed=changed,
    )
    out = items.copy()
    for name in names:
        out[name] = _attributes.plain_flags(filled[name]).to_numpy()
    return out, changed


def catalogue_time(split: Split) -> tuple[pd.Timestamp, str]:
    """The time a split's training side sees the catalogue at, and how it was chosen.

    Temporal splits: the test cut (training rows, validation included, are all before it).
    Per-user temporal and random splits have no single cut: the instant after the latest
    training or validation row.
    """
    cut = split.info.get("parameters", {}).get("cut")
    if split.strategy == "temporal" and cut is not None:
        return pd.Timestamp(cut), "the test cut"
    times = pd.to_datetime(split.fit_frame()[Columns.TIMESTAMP])
    return times.max() + pd.Timedelta(1, "ns"), "just after the latest training/validation row"


def catalogue_for_split(directory: Path | str, split: Split) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A prepared folder's catalogue as the split's training side sees it.

    With a property log (``item_properties.parquet``), ``items.parquet`` with the logged
    properties as of :func:`catalogue_time`, normalised and imputed with the ``[cleaning]``
    options ``report.json`` records; without one, ``items.parquet`` as it is.

    Returns:
        The catalogue and a JSON-ready description for ``split.json`` (``as_of``, ``rule``,
        ``properties``, ``changed``, and ``unavailable`` items now and at the cut when the
        catalogue has ``available``).

    Raises:
        DataError: a file is unreadable.
    """
    folder = Path(directory)
    items = read_parquet(folder / ITEMS_FILE)
    log_file = folder / PROPERTIES_FILE
    if not log_file.is_file():
        return items, {"as_of": "latest", "rule": "no property log: items.parquet as prepared"}
    log = read_parquet(log_file)
    missing = [c for c in LOG_COLUMNS if c not in log.columns]
    if missing:
        raise DataError(f"not a property log: column {missing[0]!r} is missing", file=str(log_file))
    options = _cleaning_options(folder / REPORT_FILE)
    as_of, rule = catalogue_time(split)
    at_cut, changed = catalogue_as_of(items, log, as_of, **options)
    info: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "rule": rule,
        "from": PROPERTIES_FILE,
        "properties": [c for c in property_types(log) if c in items.columns],
        "changed": changed,
    }
    if Columns.AVAILABLE in items.columns:
        info["unavailable"] = {
            "latest": int((~items[Columns.AVAILABLE].fillna(True).astype(bool)).sum()),
            "as_of": int((~at_cut[Columns.AVAILABLE].fillna(True).astype(bool)).sum()),
        }
    return at_cut, info


_OPTIONS = {
    "normalise_labels": "normalise",
    "label_columns": "label_columns",
    "drop_nonpositive_prices": "drop_nonpositive_prices",
    "impute_categorical": "impute_categorical",
    "impute_numeric": "impute_numeric",
    "unknown_token": "unknown_token",
}


def _cleaning_options(report: Path) -> dict[str, Any]:
    """The attribute options of the cleaning that prepared the folder (defaults without a
    readable report)."""
    try:
        config = json.loads(report.read_text(encoding="utf-8")).get("config", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {ours: config[theirs] for theirs, ours in _OPTIONS.items() if theirs in config}
