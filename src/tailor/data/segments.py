"""Warm/cold segment tags of evaluation rows and the per-segment statistics of a split.

A validation or test row is *warm* for its user when that user has at least one interaction in the
reference (training) data, and *cold* otherwise; the same for its item. Evaluation reports cold
start separately from these tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tailor.data.columns import Columns

WARM = "warm"
COLD = "cold"
SEGMENTS = (WARM, COLD)
TRAIN_SUFFIX = "_train"
"""Suffix of the test tags taken relative to the train part alone (see ``tag_segments``)."""

_KINDS = {"user": (Columns.USER_ID, Columns.USER_SEGMENT), "item": (Columns.ITEM_ID, Columns.ITEM_SEGMENT)}


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
    tags: dict[str, np.ndarray] = {}
    for id_col, seg_col in _KINDS.values():
        known = pd.concat([r[id_col] for r in refs], ignore_index=True).unique()
        tags[seg_col + suffix] = np.where(frame[id_col].isin(known), WARM, COLD)
    return frame.assign(**{name: pd.Series(v, index=frame.index, dtype="str") for name, v in tags.items()})


def part_stats(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, distinct users and items, and the time range ``[start, end]`` of one split part."""
    stats: dict[str, Any] = {
        "rows": len(frame),
        "users": int(frame[Columns.USER_ID].nunique()),
        "items": int(frame[Columns.ITEM_ID].nunique()),
    }
    if Columns.TIMESTAMP in frame.columns:
        ts = frame[Columns.TIMESTAMP]
        stats["start"] = _iso(ts.min()) if len(ts) else None
        stats["end"] = _iso(ts.max()) if len(ts) else None
    return stats


def segment_stats(frame: pd.DataFrame, *, suffix: str = "") -> dict[str, dict[str, dict[str, int]]]:
    """Rows, users and items per segment: ``{"user"|"item": {"warm"|"cold": {...}}}``.

    Args:
        frame: rows tagged by ``tag_segments``.
        suffix: which pair of tag columns to read (``""`` or ``"_train"``).
    """
    out: dict[str, dict[str, dict[str, int]]] = {}
    for kind, (_, seg_col) in _KINDS.items():
        tags = frame[seg_col + suffix]
        out[kind] = {}
        for seg in SEGMENTS:
            sub = frame.loc[tags == seg]
            out[kind][seg] = {
                "rows": len(sub),
                "users": int(sub[Columns.USER_ID].nunique()),
                "items": int(sub[Columns.ITEM_ID].nunique()),
            }
    return out


def _iso(value: Any) -> str | None:
    if pd.isna(value):
        return None
    return pd.Timestamp(value).isoformat()
