"""The ``movielens-100k`` source: a user-supplied MovieLens 100K folder (its licence forbids
bundling it).

- ``u.data`` (tab-separated user, item, rating, Unix seconds) -> ``rating`` events with
  ``value`` = the rating;
- ``u.user`` (``|``-separated) -> users: ``age``, ``gender``, ``occupation``, ``zip``;
- ``u.item`` (``|``-separated, Latin-1) -> items: ``title``, ``release_date``, ``category`` (the
  first of the movie's genres, in ``u.genre`` order) and one boolean ``genre_<name>`` per genre.

Stability: stable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.data.sources.config import SourceConfig
from tailor.data.sources.raw import RawData
from tailor.data.validate import (
    parse_ids,
    parse_numbers,
    parse_timestamps,
    read_table,
)
from tailor.errors import ConfigError, DataError

NAME = "movielens-100k"
GENRES = (
    "unknown", "action", "adventure", "animation", "childrens", "comedy", "crime",
    "documentary", "drama", "fantasy", "film_noir", "horror", "musical", "mystery",
    "romance", "sci_fi", "thriller", "war", "western",
)  # fmt: skip
"""The 19 genre flags of ``u.item``, in file order (as listed in ``u.genre``)."""
PROVENANCE = {
    "source": NAME,
    "dataset": "MovieLens 100K (GroupLens Research)",
    "citation": "Harper, F. M. and Konstan, J. A. (2015). The MovieLens Datasets: History and "
    "Context. ACM TiiS 5(4), 19:1-19:19.",
    "licence": "GroupLens research licence: not redistributable; supply your own copy",
}


def read_movielens(input: Path | None = None, config: SourceConfig | None = None) -> RawData:
    """Read a MovieLens 100K folder holding ``u.data``, ``u.user`` and ``u.item``.

    Raises:
        ConfigError: no folder given.
        DataError: the folder or one of its files is missing or malformed.
    """
    if input is None:
        raise ConfigError("movielens-100k needs --input FOLDER (the unpacked ml-100k folder)")
    folder = Path(input)
    if not folder.is_dir():
        raise DataError("expected the ml-100k folder (holding u.data, u.user, u.item)",
                        file=str(folder))  # fmt: skip
    ratings = _ratings(folder / "u.data")
    users = _users(folder / "u.user")
    items = _items(folder / "u.item")
    files = [str(folder / n) for n in ("u.data", "u.user", "u.item")]
    return RawData(NAME, ratings, items, users, {**PROVENANCE, "files": files})


def _ratings(path: Path) -> pd.DataFrame:
    names = ["user", "item", "rating", "time"]
    raw = read_table(path, "csv", delimiter="\t", header=False, names=names,
                     text_columns=["user", "item"])  # fmt: skip
    file = str(path)
    _check_columns(raw, file)
    return pd.DataFrame(
        {
            Columns.USER_ID: parse_ids(raw["user"], file=file, column="user"),
            Columns.ITEM_ID: parse_ids(raw["item"], file=file, column="item"),
            Columns.TIMESTAMP: parse_timestamps(raw["time"], "unix", file=file, column="time"),
            Columns.EVENT_TYPE: pd.Series("rating", index=raw.index, dtype="str"),
            Columns.VALUE: parse_numbers(raw["rating"], file=file, column="rating"),
        }
    )


def _users(path: Path) -> pd.DataFrame:
    names = [Columns.USER_ID, "age", "gender", "occupation", "zip"]
    raw = read_table(path, "csv", delimiter="|", header=False, names=names,
                     text_columns=[Columns.USER_ID, "zip"])  # fmt: skip
    file = str(path)
    _check_columns(raw, file)
    return raw.assign(
        user_id=parse_ids(raw[Columns.USER_ID], file=file, column="user id"),
        age=parse_numbers(raw["age"], file=file, column="age"),
    )


def _items(path: Path) -> pd.DataFrame:
    names = [Columns.ITEM_ID, Columns.TITLE, "release_date", "video_release_date", "url",
             *(f"genre_{g}" for g in GENRES)]  # fmt: skip
    raw = read_table(path, "csv", delimiter="|", header=False, names=names, encoding="latin-1",
                     text_columns=[Columns.ITEM_ID, Columns.TITLE])  # fmt: skip
    file = str(path)
    _check_columns(raw, file)
    flags = raw[[f"genre_{g}" for g in GENRES]]
    if not flags.isin([0, 1]).all().all():
        raise DataError("genre flags must be 0 or 1", file=file)
    flag_array = flags.to_numpy(dtype=bool)
    first = np.where(flag_array.any(axis=1), flag_array.argmax(axis=1), -1)
    category = pd.Series(np.asarray(GENRES, dtype=object)[first], dtype="str")
    category = category.mask(first < 0)
    out = pd.DataFrame(
        {
            Columns.ITEM_ID: parse_ids(raw[Columns.ITEM_ID], file=file, column="movie id"),
            Columns.TITLE: raw[Columns.TITLE],
            Columns.CATEGORY: category,
            "release_date": parse_timestamps(
                raw["release_date"], "%d-%b-%Y", file=file, column="release date"
            ),
        }
    )
    return pd.concat([out, flags.astype(bool)], axis=1)


def _check_columns(raw: pd.DataFrame, file: str) -> None:
    """Without a header, a short line shows up as NaN in the last column."""
    last = raw.columns[-1]
    if raw[last].isna().all():
        raise DataError(f"expected {len(raw.columns)} fields per line", file=file)
