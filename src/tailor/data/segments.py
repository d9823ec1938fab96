"""Warm/cold segment tags of evaluation rows and the per-segment statistics of a split.

A validation or test row is *warm* for its user when that user has at least one interaction in the
reference (training) data, and *cold* otherwise; the same for its item. Evaluation reports cold
start separately from these tags.

The work is done on integer id codes (one ``pd.factorize`` per id column) so that tagging and
counting hundreds of thousands of rows takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tailor.data.columns import Columns

WARM = "warm"
COLD = "cold"
SEGMENTS = (WARM, COLD)
TRAIN_SUFFIX = "_train"
"""Suffix of the test tags taken relative to the train part alone."""

_LABELS = pa.array([COLD, WARM])


def tag_segments(
    frame: pd.DataFrame,
    reference: pd.DataFrame | Sequence[pd.DataFrame],
    *,
    suffix: str = "",
) -> pd.DataFrame:
    """Return ``frame`` with ``user_segment`` and ``item_segment`` columns added.

    ``user_segment[r] = "warm"`` if ``user_id[r]`` occurs in any reference frame, else ``"cold"``;
    likewise ``item_segment`` for ``item_id``. Existing tag columns of the same name are replaced.

    Args:
        frame: validation or test rows.
        reference: the data the model is trained on: one frame, or several whose union counts
            (e.g. ``[train, validation]`` when the model is refitted on both before testing).
        suffix: appended to the two column names (``"_train"`` gives ``user_segment_train``).

    Returns:
        A new frame; ``frame`` is not modified.
    """
    refs = [reference] if isinstance(reference, pd.DataFrame) else list(reference)
    tags = {}
    for id_col, seg_col in (
        (Columns.USER_ID, Columns.USER_SEGMENT),
        (Columns.ITEM_ID, Columns.ITEM_SEGMENT),
    ):
        ids = pd.concat([frame[id_col], *(r[id_col] for r in refs)], ignore_index=True)
        codes, uniques = pd.factorize(ids)
        codes[codes < 0] = len(uniques)  # a missing id is never seen, so it is cold
        own, ref = codes[: len(frame)], codes[len(frame) :]
        seen = seen_mask(ref, len(uniques) + 1)
        seen[-1] = False
        tags[seg_col + suffix] = segment_labels(seen[own], frame.index)
    return frame.assign(**tags)


def seen_mask(codes: np.ndarray, size: int) -> np.ndarray:
    """Boolean array of length ``size``: True at every code that occurs in ``codes``."""
    seen = np.zeros(size, dtype=bool)
    seen[codes] = True
    return seen


def segment_labels(warm: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """``"warm"`` where ``warm`` is True, else ``"cold"``, as a string Series."""
    # Through Arrow: building a str column from a numpy string array costs ~20x more.
    codes = pa.array(warm.astype(np.int8))
    labels = pa.DictionaryArray.from_arrays(codes, _LABELS).dictionary_decode()
    return pd.Series(pd.array(labels, dtype="str"), index=index)


def part_stats(users: np.ndarray, items: np.ndarray, times: np.ndarray | None) -> dict[str, Any]:
    """Rows, distinct users and items, and the time range of one split part.

    Args:
        users: the part's user codes (non-negative integers).
        items: the part's item codes.
        times: the part's timestamps as int64 nanoseconds, or None when the data has none.
    """
    stats: dict[str, Any] = {
        "rows": len(users),
        "users": _distinct(users),
        "items": _distinct(items),
    }
    if times is not None:
        stats["start"] = _iso(times.min()) if len(times) else None
        stats["end"] = _iso(times.max()) if len(times) else None
    return stats


def segment_stats(
    users: np.ndarray, items: np.ndarray, user_warm: np.ndarray, item_warm: np.ndarray
) -> dict[str, dict[str, dict[str, int]]]:
    """Rows, users and items per segment: ``{"user"|"item": {"warm"|"cold": {...}}}``.

    Args:
        users: the part's user codes.
        items: the part's item codes.
        user_warm: per row, whether its user is warm.
        item_warm: per row, whether its item is warm.
    """
    out: dict[str, dict[str, dict[str, int]]] = {}
    for kind, warm in (("user", user_warm), ("item", item_warm)):
        out[kind] = {}
        for seg, mask in ((WARM, warm), (COLD, ~warm)):
            out[kind][seg] = {
                "rows": int(mask.sum()),
                "users": _distinct(users[mask]),
                "items": _distinct(items[mask]),
            }
    return out


def _distinct(codes: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(codes))) if len(codes) else 0


def _iso(value: np.int64) -> str:
    return pd.Timestamp(int(value), unit="ns").isoformat()
