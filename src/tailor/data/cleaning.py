"""Cleaning: raw data -> tailor's contract, every rule configurable and every row counted.

Row rules run in this order; a row that several rules would drop is counted once, under the first:

1. ``duplicates``: exact duplicate rows (every column, item/user attributes on the row included);
   the first copy stays.
2. ``missing_user_id``, ``missing_item_id``, ``missing_timestamp`` (always on: a row without them
   cannot enter the contract).
3. ``unknown_event_type``: event types (after normalisation) with no weight configured, with
   ``unknown_event_types = "drop"``. By default (``"error"``) such types are an error naming
   them and their row counts; with ``"keep"`` they get ``unknown_event_weight``.
4. ``bots``: every row of a user with more than ``max_events_per_user_day`` events on one UTC
   day (crawlers, scripts; 0 = off).
5. ``cancellation``: ``session_id`` starts with ``cancellation_prefix`` (Online Retail: ``C``).
6. ``nonpositive_quantity``: ``value <= 0`` on ``quantity_event_types`` (returns, corrections).
7. ``nonpositive_price``: ``price <= 0`` (a missing price is kept).
8. ``missing_value``: a value-weighted event (a rating) without a ``value``: it has no weight.
   (Other events may lack a value, e.g. a view without a quantity.)
9. ``nonfinite_value``: ``value`` or ``price`` is infinite, or a value-weighted event's value is
   beyond float32 (its weight would be infinite).
10. ``negative_weight``: a value-weighted event (a rating) with ``value < 0``: models need
   weights >= 0.
11. ``merged``: with ``aggregate = true``, the rows folded into their (user, item) pair.
12. ``k_core``: rows of users with fewer than ``k_core_users`` or items with fewer than
   ``k_core_items`` interactions, removed repeatedly until both hold.

So ``rows_in - rows_out == sum(dropped.values())`` holds exactly, and :class:`CleaningReport`
checks it. Cleaning that would leave no row at all raises a DataError naming the rules that
removed them (the k-core filter on its own, with its thresholds). Weighting:
``weight = event_weights[event_type]``, or ``value`` for ``value_weighted_events`` (ratings), as
float32.

Stability: stable.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tailor.data import _attributes
from tailor.data.columns import Columns, event_label
from tailor.data.prepared import Prepared
from tailor.data.sources.raw import ITEM_PREFIX, USER_PREFIX, RawData
from tailor.errors import ConfigError, DataError, format_validation_error

StepCallback = Callable[[str], None]


class CleaningConfig(BaseModel):
    """What cleaning does; the ``[cleaning]`` table of a source config file.

    Stability: stable.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    drop_duplicates: bool = True
    """Drop exact duplicate rows, keeping the first."""
    normalise_labels: bool = True
    """Trim and collapse whitespace of event types and text attributes, lower-case event types
    and ``label_columns``, and merge case variants when choosing one value per id."""
    label_columns: tuple[str, ...] = (Columns.CATEGORY,)
    """Item/user text attributes that are labels (lower-cased when normalising)."""
    unknown_event_types: Literal["error", "drop", "keep"] = "error"
    """Event types without a weight: ``error`` (name them and their counts; map them in
    ``[interactions.event_names]`` or weigh them in ``event_weights``), ``drop`` (counted
    under ``unknown_event_type``) or ``keep`` (with ``unknown_event_weight``). The older
    ``drop_unknown_event_types = true|false`` means ``drop``|``keep``."""
    unknown_event_weight: float = 1.0
    """Weight of a kept unknown event type."""
    max_events_per_user_day: int = Field(0, ge=0)
    """Drop every row of a user with more events than this on one UTC day (bots); 0 = off."""
    cancellation_prefix: str = ""
    """Rows whose ``session_id`` starts with this are cancellations and dropped; "" = off."""
    drop_nonpositive_quantities: bool = True
    """Drop rows with ``value <= 0`` whose event type is in ``quantity_event_types``."""
    quantity_event_types: tuple[str, ...] = ("purchase", "add_to_cart")
    """Event types whose ``value`` is a quantity."""
    drop_nonpositive_prices: bool = True
    """Drop rows with ``price <= 0``; such catalog prices count as unknown."""
    event_weights: dict[str, float] = Field(
        default_factory=lambda: {"view": 1.0, "click": 2.0, "add_to_cart": 3.0, "purchase": 5.0}
    )
    """Weight of one event of each type; these types and ``value_weighted_events`` are known."""
    value_weighted_events: tuple[str, ...] = ("rating",)
    """Event types whose weight is their ``value`` (e.g. the rating)."""
    impute_categorical: _attributes.CategoricalStrategy = "unknown"
    """Missing text attributes: ``unknown`` (the token), ``most_frequent`` or ``none``. Booleans
    always take the most frequent value (unless ``none``)."""
    unknown_token: str = "unknown"
    """The token for missing text attributes."""
    impute_numeric: _attributes.NumericStrategy = "median"
    """Missing numbers and dates: ``median``, ``mean`` or ``none``."""
    aggregate: bool = False
    """Fold repeated (user, item) events into one row: summed weight and value, latest
    timestamp; event type, session and price of the latest event."""
    k_core_users: int = Field(0, ge=0)
    """Keep users with at least this many interactions (0 = off); iterated with k_core_items."""
    k_core_items: int = Field(0, ge=0)
    """Keep items with at least this many interactions (0 = off)."""

    @classmethod
    def from_table(
        cls, table: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
    ) -> CleaningConfig:
        """Validate a ``[cleaning]`` table on top of a source's defaults.

        Raises:
            ConfigError: unknown or invalid options.
        """
        try:
            return cls.model_validate({**(defaults or {}), **table})
        except ValidationError as exc:
            raise ConfigError(f"[cleaning]: {format_validation_error(exc)}") from None

    @classmethod
    def from_toml(
        cls, path: Path | str, defaults: Mapping[str, Any] | None = None
    ) -> CleaningConfig:
        """Read the ``[cleaning]`` table of a TOML file (other tables are ignored)."""
        try:
            table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        return cls.from_table(table.get("cleaning", {}), defaults)

    @model_validator(mode="before")
    @classmethod
    def _older_spelling(cls, data: Any) -> Any:
        """``drop_unknown_event_types = true|false`` (before ``unknown_event_types``)."""
        if isinstance(data, Mapping) and "drop_unknown_event_types" in data:
            data = dict(data)
            old = data.pop("drop_unknown_event_types")
            if "unknown_event_types" in data:
                raise ValueError(
                    "give unknown_event_types, not also drop_unknown_event_types (its older "
                    "spelling)"
                )
            if not isinstance(old, bool):
                raise ValueError("drop_unknown_event_types must be true or false")
            data["unknown_event_types"] = "drop" if old else "keep"
        return data

    @field_validator("event_weights")
    @classmethod
    def _usable_weights(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"the weight of {name!r} must be a finite number >= 0")
        return value

    @field_validator("unknown_event_weight")
    @classmethod
    def _usable_weight(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError("must be a finite number >= 0")
        return value

    def known_event_types(self) -> set[str]:
        """Event types that have a weight."""
        return set(self.event_weights) | set(self.value_weighted_events)


@dataclass
class CleaningReport:
    """What cleaning did, row by row.

    Attributes:
        source: the source name.
        rows_in: rows read.
        rows_out: interaction rows written.
        dropped: rule -> rows it removed (every rule that ran, zeros included).
        changed: what was modified without dropping rows (see :mod:`tailor.data._attributes`
            and ``event_types_normalised``).
        items: rows in the items table written.
        users: rows in the users table written.
        config: the CleaningConfig used.
        provenance: where the data came from.
        warnings: what looks wrong but was left as it is (e.g. a user-day busy enough to be a
            bot while ``max_events_per_user_day`` is off).

    Stability: stable.
    """

    source: str
    rows_in: int
    rows_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    items: int = 0
    users: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Assert conservation: ``rows_in - rows_out == sum(dropped)``."""
        if self.rows_in - self.rows_out != sum(self.dropped.values()):
            raise RuntimeError(f"cleaning lost rows without a count: {self.to_dict()}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with stable keys."""
        return {
            "source": self.source,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "dropped": dict(self.dropped),
            "changed": dict(self.changed),
            "items": self.items,
            "users": self.users,
            "config": self.config,
            "provenance": self.provenance,
            "warnings": list(self.warnings),
        }

    def save(self, path: Path | str) -> None:
        """Write as JSON (``report.json``)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")


def clean(
    raw: RawData, config: CleaningConfig | None = None, *, on_step: StepCallback | None = None
) -> tuple[Prepared, CleaningReport]:
    """Apply the cleaning rules (see the module docstring) and build the three tables.

    Args:
        raw: data as read.
        config: the rules; defaults when None.
        on_step: called with a short name before each stage (the CLI shows progress).

    Returns:
        The prepared tables and the report (already checked for row conservation).
    """
    config = config or CleaningConfig()
    step = on_step or (lambda _name: None)
    report = CleaningReport(
        raw.name,
        raw.raw_rows,
        config=config.model_dump(mode="json"),
        provenance=dict(raw.provenance),
    )
    step("removing duplicates and invalid rows")
    frame, distinct, keep = _select_rows(raw.interactions, config, report)
    step("resolving item and user attributes")
    items = _attribute_table(
        raw.items, frame, distinct, Columns.ITEM_ID, ITEM_PREFIX, "items", config, report, raw
    )
    users = _attribute_table(
        raw.users, frame, distinct, Columns.USER_ID, USER_PREFIX, "users", config, report, raw
    )
    frame = _contract_columns(frame)[keep]
    step("weighting events")
    frame = frame.assign(**{Columns.WEIGHT: _weights(frame, config)})
    frame = _merge_and_filter(frame, config, report, step)
    items = _ids_only(frame, Columns.ITEM_ID) if items is None else items
    users = _ids_only(frame, Columns.USER_ID) if users is None else users
    report.rows_out = len(frame)
    report.items, report.users = len(items), len(users)
    report.check()
    if report.rows_in and not report.rows_out:
        counts = ", ".join(f"{rule} {n:,}" for rule, n in report.dropped.items() if n)
        raise DataError(f"cleaning removes every row ({counts}); check the mapping and [cleaning]")
    prepared = Prepared(
        frame.reset_index(drop=True), items, users, item_properties=raw.item_properties
    )
    return prepared, report


def _select_rows(
    frame: pd.DataFrame, config: CleaningConfig, report: CleaningReport
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Count rules 1-6 into ``report.dropped``.

    Returns:
        The frame with normalised event types, the mask of rows left after duplicate removal,
        and the mask of rows every rule keeps. One mask and a single row filter at the end,
        because filtering the string columns is what costs.
    """
    keep = np.ones(len(frame), dtype=bool)
    if config.drop_duplicates:
        keep = ~frame.duplicated().to_numpy()
        report.dropped["duplicates"] = int((~keep).sum())
    distinct = keep.copy()
    frame = _normalise_event_types(frame, config, distinct, report)
    for rule, rejects in _row_rules(frame, config):
        mask = rejects(keep) if callable(rejects) else rejects
        if rule == UNKNOWN_EVENT_TYPE and config.unknown_event_types == "error":
            _refuse_unknown_event_types(frame, mask & keep, config)
            report.dropped[rule] = 0
            continue
        report.dropped[rule] = int((mask & keep).sum())
        keep &= ~mask
    if not config.max_events_per_user_day:
        busiest = _busiest_user_day(frame, keep)
        if busiest[0] > BOT_HINT:
            report.warnings.append(
                f"user {busiest[1]} has {busiest[0]:,} events on {busiest[2]}: a bot? set "
                "[cleaning] max_events_per_user_day to drop such users (see `tailor data "
                "profile` for the busiest user-days)"
            )
    return frame, distinct, keep


BOT_HINT = 1000
"""With ``max_events_per_user_day`` off, a user-day busier than this is reported as a warning."""


UNKNOWN_EVENT_TYPE = "unknown_event_type"
BOTS = "bots"


def _refuse_unknown_event_types(
    frame: pd.DataFrame, unknown: np.ndarray, config: CleaningConfig
) -> None:
    """With ``unknown_event_types = "error"``: one error naming every unknown type and its rows."""
    if not unknown.any():
        return
    types = frame[Columns.EVENT_TYPE][unknown]
    counts = types.value_counts()
    listed = [f"{name!r} ({n:,} rows)" for name, n in counts.head(10).items()]
    if len(counts) > 10:
        listed.append(f"{len(counts) - 10} more")
    blank = int(types.isna().sum())
    if blank:
        listed.append(f"blank ({blank:,} rows)")
    known = ", ".join(sorted(config.known_event_types()))
    example = f' (e.g. {counts.index[0]} = "view")' if len(counts) else ""
    raise DataError(
        f"unknown event types: {', '.join(listed)}; map each to a weighted type ({known}) in "
        f"[interactions.event_names]{example}, weigh it in [cleaning.event_weights], or set "
        '[cleaning] unknown_event_types = "drop" (or "keep")'
    )


def _user_days(
    frame: pd.DataFrame, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Per (user, UTC day) of the kept rows: ``(users, uniques, pairs, counts, width, first)``
    with ``users`` the row codes over ``uniques`` and ``pair = user * width + day - first``."""
    users, uniques = pd.factorize(frame[Columns.USER_ID])
    days = frame[Columns.TIMESTAMP].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    counted = keep & (users >= 0) & ~np.isnat(days)
    if not counted.any():
        empty = np.zeros(0, dtype=np.int64)
        return users, np.asarray(uniques), empty, empty, 1, 0
    user, day = users[counted].astype(np.int64), days[counted].view(np.int64)
    first = int(day.min())
    width = int(day.max()) - first + 1
    pairs, counts = np.unique(user * width + (day - first), return_counts=True)
    return users, np.asarray(uniques), pairs, counts, width, first


def _bots(frame: pd.DataFrame, cap: int) -> Callable[[np.ndarray], np.ndarray]:
    """Rows of users with more than ``cap`` events on one UTC day, among the rows kept so far."""

    def rejects(keep: np.ndarray) -> np.ndarray:
        users, _, pairs, counts, width, _ = _user_days(frame, keep)
        busy = np.unique(pairs[counts > cap] // width)
        return np.isin(users, busy)

    return rejects


def _busiest_user_day(frame: pd.DataFrame, keep: np.ndarray) -> tuple[int, str, str]:
    """(events, user id, day) of the busiest (user, UTC day) among the kept rows."""
    _, uniques, pairs, counts, width, first = _user_days(frame, keep)
    if not len(counts):
        return 0, "", ""
    top = int(np.argmax(counts))
    day = np.datetime64(first + int(pairs[top] % width), "D")
    return int(counts[top]), str(uniques[pairs[top] // width]), str(day)


def _merge_and_filter(
    frame: pd.DataFrame, config: CleaningConfig, report: CleaningReport, step: StepCallback
) -> pd.DataFrame:
    """Rules 7 and 8: aggregation and the k-core filter, when configured."""
    if config.aggregate:
        step("aggregating repeated (user, item) events")
        before = len(frame)
        frame = aggregate(frame)
        report.dropped["merged"] = before - len(frame)
        overflow = ~np.isfinite(frame[Columns.WEIGHT].to_numpy(dtype=np.float64))
        if overflow.any():
            pair = frame.iloc[int(np.flatnonzero(overflow)[0])]
            raise DataError(
                f"the summed weight of user {pair[Columns.USER_ID]!r} and item "
                f"{pair[Columns.ITEM_ID]!r} overflows float32; lower the weights or values"
            )
    if config.k_core_users or config.k_core_items:
        step("k-core filtering")
        before = len(frame)
        frame = k_core(frame, config.k_core_users, config.k_core_items)
        report.dropped["k_core"] = before - len(frame)
        if before and not len(frame):
            raise DataError(
                f"the k-core filter (k_core_users = {config.k_core_users}, k_core_items = "
                f"{config.k_core_items}) removes every row: no user and item set of the "
                f"{before:,} rows left by the other rules meets both; lower the thresholds in "
                "[cleaning]"
            )
    return frame


def _normalise_event_types(
    frame: pd.DataFrame, config: CleaningConfig, distinct: np.ndarray, report: CleaningReport
) -> pd.DataFrame:
    """``" Add to cart"`` -> ``"add_to_cart"``: trim, lower-case, spaces and dashes to ``_``.

    Changes are counted on the rows left after duplicate removal (``distinct``).
    """
    if not config.normalise_labels:
        return frame
    raw = frame[Columns.EVENT_TYPE]
    codes, uniques = pd.factorize(raw)
    norm = pd.Series([event_label(str(u)) for u in uniques], dtype="str")
    changed = (norm != pd.Series(uniques, dtype="str")).to_numpy()
    counted = codes[distinct]
    n_changed = int(changed[counted[counted >= 0]].sum())
    if n_changed:
        report.changed["event_types_normalised"] = n_changed
    lookup = np.empty(len(norm) + 1, dtype=object)  # the last entry, None, for code -1 (missing)
    lookup[:-1] = norm.to_numpy(dtype=object)
    values = lookup[codes]
    return frame.assign(**{Columns.EVENT_TYPE: pd.Series(values, index=frame.index, dtype="str")})


Rejects = np.ndarray | Callable[[np.ndarray], np.ndarray]
"""The rows a rule rejects, or a function of the rows kept so far (counting rules)."""


def _row_rules(frame: pd.DataFrame, config: CleaningConfig) -> list[tuple[str, Rejects]]:
    """(rule, rows it rejects) in the order they are applied."""
    rules: list[tuple[str, Rejects]] = [
        ("missing_user_id", frame[Columns.USER_ID].isna().to_numpy()),
        ("missing_item_id", frame[Columns.ITEM_ID].isna().to_numpy()),
        ("missing_timestamp", frame[Columns.TIMESTAMP].isna().to_numpy()),
    ]
    events = frame[Columns.EVENT_TYPE]
    if config.unknown_event_types != "keep":
        known = sorted(config.known_event_types())
        rules.append((UNKNOWN_EVENT_TYPE, ~events.isin(known).to_numpy()))
    if config.max_events_per_user_day:
        rules.append((BOTS, _bots(frame, config.max_events_per_user_day)))
    if config.cancellation_prefix and Columns.SESSION_ID in frame:
        sessions = frame[Columns.SESSION_ID].astype("str")
        cancelled = sessions.str.startswith(config.cancellation_prefix).fillna(False)
        rules.append(("cancellation", cancelled.to_numpy(dtype=bool)))
    if config.drop_nonpositive_quantities:
        quantity = events.isin(list(config.quantity_event_types)).to_numpy()
        rules.append(("nonpositive_quantity", quantity & frame[Columns.VALUE].le(0).to_numpy()))
    if config.drop_nonpositive_prices and Columns.PRICE in frame:
        rules.append(("nonpositive_price", frame[Columns.PRICE].le(0).to_numpy()))
    values = frame[Columns.VALUE].to_numpy(dtype=np.float64, na_value=np.nan)
    weighted = events.isin(list(config.value_weighted_events)).to_numpy()
    nonfinite = np.isinf(values) | (weighted & (np.abs(values) > np.finfo(np.float32).max))
    if Columns.PRICE in frame:
        nonfinite |= np.isinf(frame[Columns.PRICE].to_numpy(dtype=np.float64, na_value=np.nan))
    rules.append(("missing_value", weighted & np.isnan(values)))
    rules.append(("nonfinite_value", nonfinite))
    rules.append(("negative_weight", weighted & (values < 0)))
    return rules


def _attribute_table(
    table: pd.DataFrame | None,
    frame: pd.DataFrame,
    distinct: np.ndarray,
    key: str,
    prefix: str,
    name: str,
    config: CleaningConfig,
    report: CleaningReport,
    raw: RawData,
) -> pd.DataFrame | None:
    """One row per id from the table as read plus the attributes carried on interaction rows.

    Inline attributes are taken from every row that survived duplicate removal, so a product's
    canonical title also counts the rows later dropped (e.g. cancellations).
    """
    inline = [c for c in frame.columns if str(c).startswith(prefix)]
    parts = []
    if table is not None:
        parts.append(table)
    if inline:
        rows = frame[[key, *inline]][distinct]
        parts.append(rows.rename(columns={c: c[len(prefix) :] for c in inline}))
    if not parts:
        return None
    rows = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    types = raw.types.get(name, {})
    resolved = _attributes.resolve_table(
        rows,
        key,
        table=name,
        normalise=config.normalise_labels,
        label_columns=_attributes.labels(rows.columns, config.label_columns, types),
        drop_nonpositive_prices=config.drop_nonpositive_prices,
        changed=report.changed,
    )
    filled = _attributes.impute_table(
        resolved,
        key,
        table=name,
        categorical=config.impute_categorical,
        numeric=config.impute_numeric,
        unknown_token=config.unknown_token,
        changed=report.changed,
    )
    return filled.assign(**{c: _attributes.plain_flags(filled[c]) for c in filled.columns})


def _ids_only(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Without any attributes, the table lists the ids present in the clean interactions."""
    return pd.DataFrame({key: pd.Series(pd.unique(frame[key]), dtype="str")})


def _contract_columns(frame: pd.DataFrame) -> pd.DataFrame:
    cols = [*Columns.INTERACTION_REQUIRED, Columns.EVENT_TYPE, Columns.VALUE]
    cols += [c for c in (Columns.SESSION_ID, Columns.PRICE) if c in frame.columns]
    return frame[cols]


def _weights(frame: pd.DataFrame, config: CleaningConfig) -> np.ndarray:
    """``event_weights[type]``, the value for value-weighted types, else the unknown weight."""
    codes, types = pd.factorize(frame[Columns.EVENT_TYPE])
    per_type = np.array(
        [config.event_weights.get(t, config.unknown_event_weight) for t in types] + [np.nan]
    )
    weights = per_type[codes]  # code -1 (missing type) picks the trailing NaN
    by_value = np.isin(codes, [i for i, t in enumerate(types) if t in config.value_weighted_events])
    weights = np.where(by_value, frame[Columns.VALUE].to_numpy(dtype=np.float64), weights)
    return np.nan_to_num(weights, nan=config.unknown_event_weight).astype(np.float32)


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, item): weight and value summed, the latest timestamp, and the event
    type, session and price of the latest event. Rows keep the order of first appearance.
    """
    ordered = frame.sort_values(Columns.TIMESTAMP, kind="stable")
    grouped = ordered.groupby([Columns.USER_ID, Columns.ITEM_ID], sort=False)
    last = grouped.tail(1).set_index([Columns.USER_ID, Columns.ITEM_ID])
    with np.errstate(over="ignore"):  # an overflowing weight sum is reported by the caller
        sums = grouped[[Columns.WEIGHT, Columns.VALUE]].sum()
    out = last.assign(
        **{
            Columns.WEIGHT: sums[Columns.WEIGHT].astype(np.float32),
            Columns.VALUE: sums[Columns.VALUE],
        }
    )
    order = frame[[Columns.USER_ID, Columns.ITEM_ID]].drop_duplicates()
    out = out.reindex(pd.MultiIndex.from_frame(order)).reset_index()
    return out[list(frame.columns)]


def k_core(frame: pd.DataFrame, min_user: int, min_item: int) -> pd.DataFrame:
    """Remove users with < ``min_user`` and items with < ``min_item`` rows, until stable.

    Each pass can push other users or items under their threshold, so it repeats until a pass
    removes nothing (at most as many passes as rows).
    """
    while len(frame):
        users = frame[Columns.USER_ID].map(frame[Columns.USER_ID].value_counts())
        items = frame[Columns.ITEM_ID].map(frame[Columns.ITEM_ID].value_counts())
        keep = (users >= min_user).to_numpy() & (items >= min_item).to_numpy()
        if keep.all():
            break
        frame = frame[keep]
    return frame
