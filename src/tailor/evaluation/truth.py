"""Building truth frames from a split's test rows."""

from __future__ import annotations

import pandas as pd

from tailor.data.columns import Columns

_PAIR = [Columns.USER_ID, Columns.ITEM_ID]


def unseen_only(test: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Test rows whose (user, item) pair is absent from ``history``, one row per pair.

    This is the truth for "recommend something new": a product a customer re-buys is not a
    discovery, and a model that excludes seen items could never hit it.
    """
    pairs = test[_PAIR].astype(str).drop_duplicates()
    seen = history[_PAIR].astype(str).drop_duplicates()
    merged = pairs.merge(seen, on=_PAIR, how="left", indicator=True)
    keep = (merged["_merge"] == "left_only").to_numpy()
    first = test.assign(**{c: test[c].astype(str) for c in _PAIR}).drop_duplicates(_PAIR)
    return first.loc[keep].reset_index(drop=True)
