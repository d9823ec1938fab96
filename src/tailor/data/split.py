"""Honest train/validation/test splits of an interaction frame, tagged with warm/cold segments.

Three strategies, all vectorised (no Python loop over users):

* ``temporal_split``: one global cut time ``c``; train = rows with ``t < c``, test = ``t >= c``.
  No training timestamp is later than the cut, so nothing from the test period leaks into training.
* ``user_temporal_split``: each user's history, ordered by time, loses its last ``N`` (or last
  fraction) rows to test; every user keeps at least one training row.
* ``random_split``: a seeded uniform sample of rows goes to test.

``with_validation`` carves a validation part out of train with the same strategy. Validation rows
are tagged warm/cold relative to train; test rows relative to train + validation (what the model
is refitted on before testing) in ``user_segment``/``item_segment`` and relative to train alone in
``user_segment_train``/``item_segment_train``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.data.segments import (
    COLD,
    TRAIN_SUFFIX,
    WARM,
    part_stats,
    seen_mask,
    segment_labels,
    segment_stats,
    tag_segments,
)
from tailor.errors import ConfigError, DataError
from tailor.random import stable_hash

__all__ = [
    "COLD",
    "WARM",
    "Split",
    "misplaced_option",
    "random_split",
    "split_frame",
    "tag_segments",
    "temporal_split",
    "user_temporal_split",
    "with_validation",
]

STRATEGIES: tuple[str, ...] = ("temporal", "user-temporal", "random")
DEFAULT_QUANTILE = 0.8
"""temporal without a cut: the fraction of rows, in time order, that go to train."""
DEFAULT_LAST_FRACTION = 0.2
"""user-temporal without ``last_n``: the fraction of each user's last rows held out."""
DEFAULT_TEST_FRACTION = 0.2
"""random: the fraction of rows in test."""
DEFAULT_VALIDATION_FRACTION = 0.15
"""The validation part's size relative to train that ``tailor data split`` carves by default."""
STRATEGY_OPTIONS: dict[str, str] = {
    "cut": "temporal",
    "quantile": "temporal",
    "last_n": "user-temporal",
    "last_fraction": "user-temporal",
    "test_fraction": "random",
}
"""The strategy each option of :func:`split_frame` belongs to."""
SPLIT_FILE = "split.json"
_SEGMENT_COLUMNS = (
    Columns.USER_SEGMENT,
    Columns.ITEM_SEGMENT,
    Columns.USER_SEGMENT + TRAIN_SUFFIX,
    Columns.ITEM_SEGMENT + TRAIN_SUFFIX,
)
PART_FILES = {"train": "train.parquet", "validation": "validation.parquet", "test": "test.parquet"}
CutLike: TypeAlias = date | str | pd.Timestamp | np.datetime64

# Rounding half up with a tolerance: 0.29 * 100 is 28.999999999999996 in floating point.
_EPS = 1e-9


@dataclass(frozen=True, eq=False)
class Split:
    """A train/validation/test split of interactions.

    Attributes:
        train: the rows a model is fitted on.
        validation: rows for tuning and early stopping (carved from train), or None.
        test: held-out rows, tagged with ``user_segment``/``item_segment`` (and ``*_train``).
        info: strategy, parameters and per-part / per-segment statistics (JSON-serialisable).

    Stability: stable.
    """

    train: pd.DataFrame
    validation: pd.DataFrame | None
    test: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def strategy(self) -> str:
        """The strategy name, one of ``STRATEGIES``."""
        return str(self.info.get("strategy", ""))

    def fit_frame(self) -> pd.DataFrame:
        """Train and validation rows together: what a model is refitted on before testing."""
        if self.validation is None:
            return self.train
        seg_cols = [c for c in self.validation.columns if c not in self.train.columns]
        return pd.concat([self.train, self.validation.drop(columns=seg_cols)], ignore_index=True)

    def save(self, path: str | Path) -> None:
        """Write ``train/validation/test.parquet`` and ``split.json`` into directory ``path``."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        self.train.to_parquet(out / PART_FILES["train"], index=False)
        self.test.to_parquet(out / PART_FILES["test"], index=False)
        val_file = out / PART_FILES["validation"]
        if self.validation is not None:
            self.validation.to_parquet(val_file, index=False)
        elif val_file.exists():
            val_file.unlink()  # a stale validation part from an earlier split would be read back
        (out / SPLIT_FILE).write_text(json.dumps(self.info, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Split:
        """Read a directory written by ``save`` (or ``tailor data split``)."""
        src = Path(path)
        for name in (PART_FILES["train"], PART_FILES["test"], SPLIT_FILE):
            if not (src / name).is_file():
                raise DataError("not a split directory (file is missing)", file=str(src / name))
        val_file = src / PART_FILES["validation"]
        return cls(
            train=pd.read_parquet(src / PART_FILES["train"]),
            validation=pd.read_parquet(val_file) if val_file.is_file() else None,
            test=pd.read_parquet(src / PART_FILES["test"]),
            info=json.loads((src / SPLIT_FILE).read_text()),
        )


def temporal_split(
    frame: pd.DataFrame, *, cut: CutLike | None = None, quantile: float | None = None
) -> Split:
    """Split at one global time: train ``t < cut``, test ``t >= cut``.

    Args:
        frame: interactions with a datetime ``timestamp`` column.
        cut: the first instant of the test period (a date, ISO string or Timestamp; a time-zone
            aware value is converted to naive UTC like the timestamps).
        quantile: instead of ``cut``, put about this fraction ``q`` of the rows in train: with the
            ``n`` timestamps sorted ascending, ``cut = t_(floor(q n))`` (0-based), so train has
            exactly ``floor(q n)`` rows when no timestamps tie, fewer when the cut time repeats.

    Raises:
        ConfigError: not exactly one of ``cut`` and ``quantile``, or ``q`` outside (0, 1).
        DataError: no usable timestamps, or the cut leaves train or test empty.
    """
    _exactly_one(cut=cut, quantile=quantile)
    coded = _Coded.of(frame, need_times=True)
    in_test, params = _temporal_mask(coded, cut, quantile)
    parts = _parts(in_test, what=f"the cut {params['cut']}")
    return _finish(coded, "temporal", params, parts)


def user_temporal_split(
    frame: pd.DataFrame, *, last_n: int | None = None, last_fraction: float | None = None
) -> Split:
    """Hold out the end of each user's history.

    Each user's ``c`` rows are ordered by timestamp, ties broken by ``item_id`` and then by row
    position, so the order does not depend on how the input happens to be sorted. The last ``k``
    go to test, where ``k = min(N, c - 1)`` for ``last_n=N`` and
    ``k = min(floor(f c + 1/2), c - 1)`` (f c rounded half up) for ``last_fraction=f``. Every user
    keeps at least one training row, so a user with a single interaction stays in train and no
    test user is cold. For every user, ``max(train times) <= min(test times)``.

    Raises:
        ConfigError: not exactly one of ``last_n`` and ``last_fraction``, or a bad value
            (``last_n`` longer than every user's history included).
        DataError: missing ids or timestamps, or no user has enough rows to hold any out.
    """
    _exactly_one(last_n=last_n, last_fraction=last_fraction)
    if last_n is not None and (isinstance(last_n, bool) or int(last_n) != last_n or last_n < 1):
        raise ConfigError(f"last_n must be a positive integer, got {last_n!r}")
    fraction = None if last_fraction is None else _fraction(last_fraction, "last_fraction")
    coded = _Coded.of(frame, need_times=True)
    longest = int(np.bincount(coded.users).max())
    if last_n is not None and last_n > longest:
        raise ConfigError(
            f"--last-n {last_n} is longer than every user's history: the longest user history "
            f"has {longest} row{'s' if longest != 1 else ''}, and every user keeps at least one "
            f"row for training; choose --last-n below {longest}"
        )
    parts = _parts(_user_tail(coded, last_n, fraction), what="the per-user holdout")
    params = {"last_n": last_n, "last_fraction": last_fraction}
    return _finish(coded, "user-temporal", params, parts)


def random_split(
    frame: pd.DataFrame, *, test_fraction: float = 0.2, seed: int | None = None
) -> Split:
    """Send a uniformly random ``round(f n)`` of the ``n`` rows to test (half rounded up).

    Args:
        frame: interactions (a timestamp column is optional here).
        test_fraction: ``f`` in (0, 1).
        seed: a non-negative integer; the same seed gives the same split; None draws a fresh
            seed, which is recorded in ``info["parameters"]["seed"]`` so the split can be
            repeated.
    """
    f = _fraction(test_fraction, "test_fraction")
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    coded = _Coded.of(frame, need_times=False)
    parts = _parts(_random_mask(len(frame), f, seed), what=f"test_fraction {f}")
    return _finish(coded, "random", {"test_fraction": f, "seed": seed}, parts)


def misplaced_option(strategy: str, **options: object) -> str | None:
    """The first of ``options`` (names of ``STRATEGY_OPTIONS``) given, i.e. not None, that
    belongs to another strategy than ``strategy``, or None."""
    for name, value in options.items():
        if value is not None and STRATEGY_OPTIONS[name] != strategy:
            return name
    return None


def split_frame(
    frame: pd.DataFrame,
    strategy: str,
    *,
    cut: CutLike | None = None,
    quantile: float | None = None,
    last_n: int | None = None,
    last_fraction: float | None = None,
    test_fraction: float | None = None,
    seed: int | None = None,
    validation_fraction: float = 0.0,
) -> Split:
    """``frame`` split by ``strategy`` with its defaults for what is not given, then (with a
    ``validation_fraction`` other than 0) a validation part carved by :func:`with_validation`.

    Defaults: temporal without ``cut`` or ``quantile`` cuts at ``DEFAULT_QUANTILE``;
    user-temporal without ``last_n`` or ``last_fraction`` holds out ``DEFAULT_LAST_FRACTION``;
    random holds out ``DEFAULT_TEST_FRACTION`` with ``seed``.

    Raises:
        ConfigError: an unknown strategy, an option of another strategy (``STRATEGY_OPTIONS``),
            or a bad value (the strategy's own checks).
    """
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"unknown split strategy {strategy!r}; use one of {', '.join(STRATEGIES)}"
        )
    name = misplaced_option(
        strategy,
        cut=cut,
        quantile=quantile,
        last_n=last_n,
        last_fraction=last_fraction,
        test_fraction=test_fraction,
    )
    if name is not None:
        raise ConfigError(f"{name} applies to strategy {STRATEGY_OPTIONS[name]} only")
    if strategy == "temporal":
        if cut is None and quantile is None:
            quantile = DEFAULT_QUANTILE
        split = temporal_split(frame, cut=cut, quantile=quantile)
    elif strategy == "user-temporal":
        if last_n is None and last_fraction is None:
            last_fraction = DEFAULT_LAST_FRACTION
        split = user_temporal_split(frame, last_n=last_n, last_fraction=last_fraction)
    else:
        fraction = DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction
        split = random_split(frame, test_fraction=fraction, seed=seed)
    if validation_fraction == 0:
        return split
    return with_validation(split, fraction=validation_fraction)


def with_validation(
    split: Split, how: str = "same", fraction: float = 0.15, *, seed: int | None = None
) -> Split:
    """Carve a validation part out of ``split.train``; test rows stay as they are.

    ``how="same"`` uses the split's own strategy: temporal cuts train at its ``1 - fraction``
    time quantile (validation = the latest ``fraction`` of train); user-temporal takes each user's
    last ``fraction`` of their training rows (rounded as in ``user_temporal_split``); random
    samples ``fraction`` of the training rows. Any strategy name may be given instead.

    Args:
        split: a split without validation.
        how: ``"same"`` or one of ``STRATEGIES``.
        fraction: size of validation relative to train, in (0, 1); 0.1-0.2 is usual.
        seed: for random validation; default derived from the split's own seed.
    """
    if split.validation is not None:
        raise ConfigError("this split already has a validation part")
    strategy = split.strategy if how == "same" else how
    f = _fraction(fraction, "validation fraction")
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"unknown split strategy {strategy!r}; use one of {', '.join(STRATEGIES)}"
        )
    test = split.test.drop(columns=list(_SEGMENT_COLUMNS), errors="ignore")
    whole = _Coded.of(pd.concat([split.train, test], ignore_index=True), need_times=False)
    n_train = len(split.train)
    train = whole.head(n_train)
    info: dict[str, Any] = {"strategy": strategy, "fraction": f}
    if strategy == "temporal":
        train = train.with_times()
        in_val, params = _temporal_mask(train, None, 1.0 - f)
        info["cut"] = params["cut"]
    elif strategy == "user-temporal":
        in_val = _user_tail(train.with_times(), None, f)
        if not in_val.any():
            raise DataError(_no_user_validation(train, f, split.info.get("parameters", {})))
    else:
        if seed is None:
            seed = stable_hash(split.info.get("parameters", {}).get("seed"), "validation") % 2**31
        in_val = _random_mask(n_train, f, seed)
        info["seed"] = seed
    fit_idx, _, val_idx = _parts(in_val, what=f"the validation fraction {f}")
    parts = (fit_idx, val_idx, np.arange(n_train, len(whole.frame)))
    params = split.info.get("parameters", {})
    return _finish(whole, split.strategy, params, parts, validation_info=info)


def _no_user_validation(train: _Coded, fraction: float, params: dict[str, Any]) -> str:
    """Why a per-user validation part came out empty, naming the option to change."""
    longest = int(np.bincount(train.users).max())
    cause = (
        f"the longest training history left by --last-n {params['last_n']} has {longest} "
        f"row{'s' if longest != 1 else ''}; lower --last-n"
        if params.get("last_n") is not None
        else f"the longest training history has {longest} row{'s' if longest != 1 else ''}"
    )
    return (
        f"the validation fraction {fraction} takes no row from any user's training history: "
        f"{cause}, raise --validation-fraction, or set --validation-fraction 0"
    )


def _temporal_mask(
    coded: _Coded, cut: CutLike | None, quantile: float | None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Rows at or after the cut (given, or the timestamps' ``quantile``), and the parameters."""
    times = coded.require_times()
    if cut is not None:
        cut_ns = _cut_ns(cut)
    else:
        cut_ns = _quantile_cut(times, _fraction(quantile, "quantile"))
    return times >= cut_ns, {"cut": _iso_ns(cut_ns), "quantile": quantile}


def _random_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    """A uniformly random set of ``round(fraction n)`` rows out of ``n``."""
    in_test = np.zeros(n, dtype=bool)
    in_test[np.random.default_rng(seed).permutation(n)[: _round_half_up(fraction * n)]] = True
    return in_test


@dataclass(frozen=True)
class _Coded:
    """A frame with its user and item ids as integer codes (and its timestamps in ns, if any)."""

    frame: pd.DataFrame
    users: np.ndarray
    items: np.ndarray
    times: np.ndarray | None

    @classmethod
    def of(cls, frame: pd.DataFrame, *, need_times: bool) -> _Coded:
        """Code ``frame``; timestamps are required when ``need_times``, else used when usable."""
        _check_ids(frame)
        ts = frame.get(Columns.TIMESTAMP)
        usable = ts is not None and pd.api.types.is_datetime64_any_dtype(ts) and not ts.isna().any()
        times = _times(frame) if need_times or usable else None
        # sorted item codes: the per-user tie-break follows item_id, not the input order
        items = _codes(frame, Columns.ITEM_ID, sort=True)
        return cls(frame, _codes(frame, Columns.USER_ID), items, times)

    def head(self, n: int) -> _Coded:
        """The first ``n`` rows (codes keep their meaning)."""
        times = None if self.times is None else self.times[:n]
        return _Coded(self.frame.iloc[:n], self.users[:n], self.items[:n], times)

    def with_times(self) -> _Coded:
        """This frame with its timestamps read (raises DataError when they are unusable)."""
        if self.times is not None:
            return self
        return _Coded(self.frame, self.users, self.items, _times(self.frame))

    def require_times(self) -> np.ndarray:
        assert self.times is not None  # of(need_times=True) raised otherwise
        return self.times


Parts = tuple[np.ndarray, np.ndarray | None, np.ndarray]
"""Row positions of train, validation (or None) and test in a coded frame."""


def _parts(in_test: np.ndarray, *, what: str) -> Parts:
    """Row positions where ``in_test`` is False / True, failing when either side is empty."""
    test = np.flatnonzero(in_test)
    n = len(in_test)
    if len(test) == 0:
        raise DataError(f"{what} leaves no rows in the test part ({n} rows in all)")
    if len(test) == n:
        raise DataError(f"{what} leaves no rows in the training part ({n} rows in all)")
    return np.flatnonzero(~in_test), None, test


def _finish(
    coded: _Coded,
    strategy: str,
    params: dict[str, Any],
    parts: Parts,
    *,
    validation_info: dict[str, Any] | None = None,
) -> Split:
    """Cut the frame into parts, tag validation/test rows and compute the split's ``info``.

    Validation rows are tagged against train; test rows against train + validation (the plain
    columns) and against train alone (the ``_train`` columns).
    """
    train_idx, val_idx, test_idx = parts
    base = coded.frame.drop(columns=list(_SEGMENT_COLUMNS), errors="ignore")
    n_users, n_items = int(coded.users.max()) + 1, int(coded.items.max()) + 1
    user_seen = seen_mask(coded.users[train_idx], n_users)
    item_seen = seen_mask(coded.items[train_idx], n_items)
    stats: dict[str, Any] = {"train": _part_stats(coded, train_idx)}
    validation = None
    user_fit, item_fit = user_seen, item_seen
    if val_idx is not None:
        user_warm, item_warm = user_seen[coded.users[val_idx]], item_seen[coded.items[val_idx]]
        validation = _with_tags(base.take(val_idx), user_warm, item_warm, "")
        stats["validation"] = _part_stats(coded, val_idx, user_warm, item_warm)
        user_fit = user_seen | seen_mask(coded.users[val_idx], n_users)
        item_fit = item_seen | seen_mask(coded.items[val_idx], n_items)
    user_warm, item_warm = user_fit[coded.users[test_idx]], item_fit[coded.items[test_idx]]
    test = _with_tags(base.take(test_idx), user_warm, item_warm, "")
    stats["test"] = _part_stats(coded, test_idx, user_warm, item_warm)
    user_warm, item_warm = user_seen[coded.users[test_idx]], item_seen[coded.items[test_idx]]
    test = _with_tags(test, user_warm, item_warm, TRAIN_SUFFIX)
    test_users, test_items = coded.users[test_idx], coded.items[test_idx]
    stats["test"]["segments_vs_train"] = segment_stats(test_users, test_items, user_warm, item_warm)
    info = {
        "strategy": strategy,
        "parameters": params,
        "validation": validation_info,
        "segments": (
            "validation rows: relative to train; test rows: user_segment/item_segment relative to "
            "train + validation, user_segment_train/item_segment_train relative to train alone"
        ),
        "rows": len(coded.frame),
        "parts": stats,
    }
    return Split(base.take(train_idx).reset_index(drop=True), validation, test, info)


def _with_tags(
    frame: pd.DataFrame, user_warm: np.ndarray, item_warm: np.ndarray, suffix: str
) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    return frame.assign(
        **{
            Columns.USER_SEGMENT + suffix: segment_labels(user_warm, frame.index),
            Columns.ITEM_SEGMENT + suffix: segment_labels(item_warm, frame.index),
        }
    )


def _part_stats(
    coded: _Coded,
    idx: np.ndarray,
    user_warm: np.ndarray | None = None,
    item_warm: np.ndarray | None = None,
) -> dict[str, Any]:
    users, items = coded.users[idx], coded.items[idx]
    stats = part_stats(users, items, None if coded.times is None else coded.times[idx])
    if user_warm is not None and item_warm is not None:
        stats["segments"] = segment_stats(users, items, user_warm, item_warm)
    return stats


def _user_tail(coded: _Coded, last_n: int | None, fraction: float | None) -> np.ndarray:
    """Boolean mask of the rows that end each user's time-ordered history (see the caller)."""
    times, users = coded.require_times(), coded.users
    order = _history_order(users, times, coded.items)
    n = len(users)
    counts = np.bincount(users)
    if last_n is not None:
        k = np.minimum(last_n, counts - 1)
    else:
        assert fraction is not None
        k = np.minimum(np.floor(fraction * counts + 0.5 + _EPS).astype(np.int64), counts - 1)
    sorted_users = users[order]
    position = np.arange(n) - (np.cumsum(counts) - counts)[sorted_users]
    from_end = counts[sorted_users] - 1 - position
    in_test = np.empty(n, dtype=bool)
    in_test[order] = from_end < k[sorted_users]
    return in_test


def _history_order(users: np.ndarray, times: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Row order by (user, time, item code); full ties keep their input order (stable sort)."""
    time_values, time_rank = np.unique(times, return_inverse=True)
    n_times, n_items = len(time_values), int(items.max()) + 1
    if (int(users.max()) + 1) * n_times * n_items < 2**62:
        # one int64 key sorts about twice as fast as a three-key lexsort
        key = (users.astype(np.int64) * n_times + time_rank) * n_items + items
        return np.argsort(key, kind="stable")
    return np.lexsort((items, times, users))


def _times(frame: pd.DataFrame) -> np.ndarray:
    """The timestamp column as int64 nanoseconds since the epoch (naive UTC)."""
    if Columns.TIMESTAMP not in frame.columns:
        raise DataError("required column is missing", column=Columns.TIMESTAMP)
    ts = frame[Columns.TIMESTAMP]
    if not pd.api.types.is_datetime64_any_dtype(ts):
        raise DataError(f"timestamps must be datetimes, not {ts.dtype}", column=Columns.TIMESTAMP)
    missing = ts.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} timestamps are missing",
            column=Columns.TIMESTAMP,
            row=int(np.argmax(missing)) + 1,
        )
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _check_ids(frame: pd.DataFrame) -> None:
    if len(frame) == 0:
        raise DataError("there are no interactions to split")
    for col in (Columns.USER_ID, Columns.ITEM_ID):
        if col not in frame.columns:
            raise DataError("required column is missing", column=col)


def _codes(frame: pd.DataFrame, column: str, *, sort: bool = False) -> np.ndarray:
    codes = pd.factorize(frame[column], sort=sort)[0]
    if (codes < 0).any():
        row = int(np.argmax(codes < 0)) + 1
        raise DataError("ids must not be missing", column=column, row=row)
    return codes


def _quantile_cut(times: np.ndarray, q: float) -> np.int64:
    index = min(math.floor(q * len(times) + _EPS), len(times) - 1)
    return np.partition(times, index)[index]


def _cut_ns(cut: CutLike) -> np.int64:
    try:
        stamp = pd.Timestamp(cut)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read the cut {cut!r} as a date or time") from exc
    if stamp is pd.NaT:
        raise ConfigError(f"cannot read the cut {cut!r} as a date or time")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    try:
        return np.int64(stamp.as_unit("ns").value)
    except (OverflowError, ValueError):  # pandas' OutOfBoundsDatetime
        raise ConfigError(
            f"the cut {cut!r} is out of range: timestamps lie between "
            f"{pd.Timestamp.min.date()} and {pd.Timestamp.max.date()}"
        ) from None


def _iso_ns(value: np.int64) -> str:
    return pd.Timestamp(int(value), unit="ns").isoformat()


def _exactly_one(**options: object) -> None:
    given = [name for name, value in options.items() if value is not None]
    if len(given) != 1:
        names = " or ".join(options)
        raise ConfigError(f"give exactly one of {names} (got {', '.join(given) or 'neither'})")


def _fraction(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 1.0:
        raise ConfigError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5 + _EPS)
