"""Feature imputation and scaling: fitted on the training split only, applied anywhere.

Both transformers are frozen dataclasses: ``fit(train)`` returns a fitted copy whose learned values
are plain numbers and strings, stored as JSON with ``to_dict``/``from_dict`` (never pickled), so a
serving process applies exactly the statistics learned at training time.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from tailor.data._attributes import fill_missing, most_frequent
from tailor.data.columns import Columns
from tailor.data.prepared import ITEMS_FILE, USERS_FILE
from tailor.data.validate import read_parquet
from tailor.errors import ConfigError, DataError, NotFittedError

IMPUTE_STRATEGIES = ("most_frequent", "median", "constant")
SCALE_METHODS = ("minmax", "zscore")
UNKNOWN = "unknown"
"""The token the ``constant`` strategy fills text columns with, unless told otherwise."""


def default_strategies(frame: pd.DataFrame, columns: list[str] | None = None) -> dict[str, str]:
    """The stated strategy per column type: numeric -> median, boolean -> most_frequent,
    anything else (text, categories) -> constant ``"unknown"``.

    Args:
        frame: the attribute table (items or users).
        columns: columns to cover; default every column of ``frame``.
    """
    out = {}
    for col in frame.columns if columns is None else columns:
        dtype = frame[col].dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[col] = "most_frequent"
        elif pd.api.types.is_numeric_dtype(dtype):
            out[col] = "median"
        else:
            out[col] = "constant"
    return out


@dataclass(frozen=True)
class Imputer:
    """Fills missing values per column with a value learned from the training rows.

    Strategies: ``most_frequent`` (the mode; ties go to the smallest value), ``median`` (of the
    non-missing values; numeric columns only) and ``constant`` (``fill_value``, default the token
    ``"unknown"``; for text and category columns). Missing means NaN/None/NaT.

    Attributes:
        strategies: column -> strategy name.
        fill_value: the constant of the ``constant`` strategy.
        values: column -> learned fill value; empty until ``fit``.

    Stability: stable.
    """

    strategies: Mapping[str, str]
    fill_value: str = UNKNOWN
    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_choices(self.strategies, IMPUTE_STRATEGIES, "imputation strategy")

    @property
    def fitted(self) -> bool:
        """Whether ``fit`` has learned a value for every column."""
        return bool(self.strategies) and set(self.values) == set(self.strategies)

    def fit(self, frame: pd.DataFrame) -> Self:
        """Learn each column's fill value from ``frame`` (the training rows only)."""
        _require_columns(frame, self.strategies)
        values = {col: self._learn(frame[col], col, s) for col, s in self.strategies.items()}
        return replace(self, values=values)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` with the missing values of the fitted columns filled."""
        self._check_fitted()
        _require_columns(frame, self.values)
        filled = {col: fill_missing(frame[col], value) for col, value in self.values.items()}
        return frame.assign(**filled)

    def fit_transform(self, frame: pd.DataFrame) -> tuple[Self, pd.DataFrame]:
        """Fit on ``frame`` and fill it; returns the fitted imputer and the filled frame."""
        fitted = self.fit(frame)
        return fitted, fitted.transform(frame)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description, learned values included."""
        return {
            "kind": "imputer",
            "version": 1,
            "fill_value": self.fill_value,
            "columns": {
                col: {"strategy": s, "value": self.values.get(col)}
                for col, s in self.strategies.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Imputer:
        """Rebuild from ``to_dict`` output."""
        columns = _columns_of(data, "imputer")
        return cls(
            strategies={col: str(spec["strategy"]) for col, spec in columns.items()},
            fill_value=str(data.get("fill_value", UNKNOWN)),
            values={c: s["value"] for c, s in columns.items() if s.get("value") is not None},
        )

    def _learn(self, values: pd.Series, col: str, strategy: str) -> Any:
        present = values.dropna()
        if strategy == "constant":
            if pd.api.types.is_numeric_dtype(values.dtype):
                raise DataError(
                    f"the constant {self.fill_value!r} does not fit a numeric column; "
                    "use median or most_frequent",
                    column=col,
                )
            return self.fill_value
        if present.empty:
            raise DataError(f"no values to learn the {strategy} from (all missing)", column=col)
        if strategy == "median":
            if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
                values.dtype
            ):
                raise DataError(
                    f"the median needs a numeric column, not {values.dtype}", column=col
                )
            return _plain(present.median())
        return _plain(most_frequent(present))

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise NotFittedError("the imputer is not fitted; call fit(train) first")


@dataclass(frozen=True)
class Scaler:
    """Scales numeric columns with statistics of the training rows: ``x' = (x - offset) / scale``.

    * ``minmax``: ``offset = min(x)``, ``scale = max(x) - min(x)``; training values land in [0, 1],
      other rows may fall outside (they are not clipped).
    * ``zscore``: ``offset = mean(x)``, ``scale = std(x)`` (population, ddof = 0).

    Missing values are ignored when fitting and stay missing. A constant column (``scale = 0``)
    gets ``scale = 1``: its training values map to 0 and other values keep their distance from
    the training constant, so no division by zero and no NaN.

    Attributes:
        methods: column -> ``"minmax"`` or ``"zscore"``.
        params: column -> (offset, scale); empty until ``fit``.

    Stability: stable.
    """

    methods: Mapping[str, str]
    params: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_choices(self.methods, SCALE_METHODS, "scaling method")

    @property
    def fitted(self) -> bool:
        """Whether ``fit`` has learned the parameters of every column."""
        return bool(self.methods) and set(self.params) == set(self.methods)

    def fit(self, frame: pd.DataFrame) -> Self:
        """Learn offset and scale of each column from ``frame`` (the training rows only)."""
        _require_columns(frame, self.methods)
        params = {col: _scale_params(frame[col], col, m) for col, m in self.methods.items()}
        return replace(self, params=params)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` with the fitted columns scaled (as float64)."""
        self._check_fitted()
        _require_columns(frame, self.params)
        scaled = {
            col: (_numeric(frame[col], col) - offset) / scale
            for col, (offset, scale) in self.params.items()
        }
        return frame.assign(**scaled)

    def inverse_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Undo ``transform``: ``x = x' scale + offset``."""
        self._check_fitted()
        _require_columns(frame, self.params)
        restored = {
            col: _numeric(frame[col], col) * scale + offset
            for col, (offset, scale) in self.params.items()
        }
        return frame.assign(**restored)

    def fit_transform(self, frame: pd.DataFrame) -> tuple[Self, pd.DataFrame]:
        """Fit on ``frame`` and scale it; returns the fitted scaler and the scaled frame."""
        fitted = self.fit(frame)
        return fitted, fitted.transform(frame)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description, learned parameters included."""
        columns: dict[str, dict[str, Any]] = {}
        for col, method in self.methods.items():
            columns[col] = {"method": method}
            if col in self.params:
                offset, scale = self.params[col]
                columns[col].update(offset=offset, scale=scale)
        return {"kind": "scaler", "version": 1, "columns": columns}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scaler:
        """Rebuild from ``to_dict`` output."""
        columns = _columns_of(data, "scaler")
        params = {
            col: (float(spec["offset"]), float(spec["scale"]))
            for col, spec in columns.items()
            if "offset" in spec and "scale" in spec
        }
        for col, (_, scale) in params.items():
            if not math.isfinite(scale) or scale <= 0:
                raise ConfigError(f"scaler column {col!r} has an invalid scale {scale!r}")
        return cls(
            methods={col: str(spec["method"]) for col, spec in columns.items()}, params=params
        )

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise NotFittedError("the scaler is not fitted; call fit(train) first")


def save_json(transformer: Imputer | Scaler, path: str | Path) -> None:
    """Write ``transformer.to_dict()`` to ``path`` as JSON."""
    Path(path).write_text(json.dumps(transformer.to_dict(), indent=2) + "\n")


def load_json(path: str | Path) -> Imputer | Scaler:
    """Read an imputer or scaler written by ``save_json``."""
    data = json.loads(Path(path).read_text())
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "imputer":
        return Imputer.from_dict(data)
    if kind == "scaler":
        return Scaler.from_dict(data)
    raise DataError("not a saved imputer or scaler (no 'kind')", file=str(path))


def _scale_params(values: pd.Series, col: str, method: str) -> tuple[float, float]:
    x = _numeric(values, col).to_numpy(dtype=np.float64)
    x = x[np.isfinite(x)]  # missing and infinite values teach nothing about the scale
    if len(x) == 0:
        raise DataError("no values to learn the scaling from (all missing or infinite)", column=col)
    with np.errstate(over="ignore", invalid="ignore"):
        if method == "minmax":
            offset, scale = float(x.min()), float(x.max() - x.min())
        else:
            offset, scale = float(x.mean()), float(x.std())
    if not math.isfinite(offset):  # values near float64's limits overflow the mean
        offset = 0.0
    return offset, scale if math.isfinite(scale) and scale > 0 else 1.0


def _numeric(values: pd.Series, col: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
        raise DataError(f"scaling needs a numeric column, not {values.dtype}", column=col)
    return values.astype(np.float64)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number/str/bool JSON can hold."""
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, str | int | float | bool):
        raise DataError(f"cannot store the fill value {value!r} ({type(value).__name__}) as JSON")
    return value


def _check_choices(choices: Mapping[str, str], allowed: tuple[str, ...], what: str) -> None:
    """Raise ConfigError naming the first column whose choice is not one of ``allowed``."""
    for col, choice in choices.items():
        if choice not in allowed:
            raise ConfigError(
                f"unknown {what} {choice!r} for column {col!r}; use one of {', '.join(allowed)}"
            )


def _require_columns(frame: pd.DataFrame, columns: Mapping[str, Any]) -> None:
    missing = [col for col in columns if col not in frame.columns]
    if missing:
        raise DataError(
            f"unknown column(s) {', '.join(map(repr, missing))}; "
            f"the frame has {', '.join(map(repr, frame.columns))}",
            column=missing[0],
        )


def _columns_of(data: Mapping[str, Any], kind: str) -> Mapping[str, Mapping[str, Any]]:
    if data.get("kind") != kind or not isinstance(data.get("columns"), Mapping):
        raise ConfigError(f"not a saved {kind}: expected kind={kind!r} and a 'columns' table")
    return data["columns"]


SCALED_SUFFIX = "_scaled"
NEVER_SCALED = frozenset({"category", "available"})
"""Attributes that are never scaled, whatever their dtype (a table written by hand, or by an
older tailor, may hold them as numbers): ids and categories are labels, flags are booleans."""


def scalable(name: str, values: pd.Series) -> bool:
    """Whether ``tailor data split --scale`` scales an attribute: numbers only, never ids
    (``*_id``, ``id``), categories, flags (booleans, ``available``) or a ``_scaled`` column."""
    if name in NEVER_SCALED or name == "id" or name.endswith(("_id", SCALED_SUFFIX)):
        return False
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def scale_side_features(
    table: pd.DataFrame, key: str, train_ids: Any, method: str = "zscore"
) -> tuple[pd.DataFrame, Scaler | None]:
    """Add ``<col>_scaled`` for every numeric attribute of an item or user table (see
    :func:`scalable`: ids, categories and flags are never scaled).

    The scaler is fitted on the rows whose ``key`` occurs in ``train_ids`` (what the training
    split knows), then applied to every row, so held-out items are scaled with training
    statistics. The raw columns stay for display and business filters. Returns the table and the
    fitted scaler (None when the table has no numeric attribute).
    """
    numeric = [c for c in table.columns if c != key and scalable(str(c), table[c])]
    if not numeric:
        return table, None
    in_train = table[key].astype(str).isin(pd.Index(np.asarray(train_ids).astype(str)))
    scaler = Scaler(dict.fromkeys(numeric, method)).fit(table.loc[in_train])
    scaled = scaler.transform(table[numeric])
    return table.assign(**{f"{c}{SCALED_SUFFIX}": scaled[c] for c in numeric}), scaler


SIDE_TABLES: dict[str, str] = {ITEMS_FILE: Columns.ITEM_ID, USERS_FILE: Columns.USER_ID}
"""Side tables a split carries through, with the id column their rows are keyed by."""


def write_side_tables(
    source: Path,
    out: Path,
    train: pd.DataFrame,
    method: str | None,
    catalogue: pd.DataFrame | None = None,
) -> list[str]:
    """Write the side tables of the prepared folder ``source`` (``SIDE_TABLES``) into ``out``
    for a split whose training part is ``train``.

    ``catalogue`` (the catalogue as of the split's cut) replaces items.parquet when given. With a
    scaling ``method`` ("zscore" or "minmax"), each table gains ``<col>_scaled`` columns
    (:func:`scale_side_features`, fitted on the rows whose id occurs in ``train``) and its scaler
    is written beside it as ``<table>_scaler.json``; with None the tables are copied unchanged.
    Returns the names of the tables written, in ``SIDE_TABLES`` order.
    """
    written = []
    for name, key in SIDE_TABLES.items():
        src, dst = source / name, out / name
        if not src.is_file():
            continue
        written.append(name)
        given = catalogue if name == ITEMS_FILE else None
        if method is None:
            if given is None:
                shutil.copyfile(src, dst)
            else:
                given.to_parquet(dst, index=False)
            continue
        table = given if given is not None else read_parquet(src)
        table, scaler = scale_side_features(table, key, train[key].unique(), method)
        table.to_parquet(dst, index=False)
        if scaler is not None:
            save_json(scaler, out / name.replace(".parquet", "_scaler.json"))
    return written
