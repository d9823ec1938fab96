"""Data versions: content fingerprints of the inputs and outputs of a run.

A fingerprint is a sha256 hex digest:

* :func:`file_sha256`: over a file's bytes (what changes whenever one byte changes; DVC's md5
  plays the same role).
* :func:`frame_fingerprint`: a stable hash of a DataFrame in memory: its column names, dtypes
  and every value (``pandas.util.hash_pandas_object`` per column, the index left out), so the
  same rows in the same order give the same digest whatever file they came from.
* :func:`content_fingerprint`: the content of a file or folder that a tailor command wrote, with
  what differs between two runs of the same command on the same data left out, so that two such
  runs (``dvc repro`` and the commands typed by hand) get equal fingerprints:

  - a folder is the sorted list of its files' relative paths and content fingerprints, without
    tailor's output marker (``.tailor-output.json``: when it was written), hidden staging
    leftovers, and rendered pages (``*.html``: their date and plot ids);
  - a JSON file is its canonical form (sorted keys) without the keys in :data:`VOLATILE_KEYS`
    (``created_at``, ``version`` and ``model version``, ``fit_seconds``, ``evaluated``), at any
    depth;
  - an ``.npz`` archive is its arrays (name, dtype, shape, bytes): the zip's member dates
    change with every save;
  - every other file is its bytes.

:func:`fingerprints` bundles named paths and frames into the record that
:func:`record_fingerprints` writes into a model folder's manifest (``fingerprints``) and
:func:`tailor.training.tracking.log_run` logs to MLflow.

Stability: experimental.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tailor.errors import ArtifactError, DataError
from tailor.outputs import MARKER, is_leftover, output_file

CHUNK = 1 << 20
VOLATILE_KEYS = frozenset({"created_at", "version", "model version", "fit_seconds", "evaluated"})
"""JSON keys whose values differ between two runs of the same command on the same data (when,
how long, the time-stamped model version): left out of :func:`content_fingerprint`."""
SKIPPED_SUFFIXES = (".html",)
"""Files left out of a folder's :func:`content_fingerprint` (rendered reports)."""
FINGERPRINTS_KEY = "fingerprints"
"""The manifest key :func:`record_fingerprints` writes."""


def file_sha256(path: Path | str) -> str:
    """sha256 of the bytes of ``path``.

    Raises:
        DataError: the file is missing or unreadable (naming it).
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise DataError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise DataError("a folder, not a file", file=str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot be read: {exc.strerror}", file=str(path)) from None
    return digest.hexdigest()


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A stable sha256 of a frame: column names and dtypes in order, then each column's values
    hashed by ``pandas.util.hash_pandas_object`` (index excluded). Equal frames (same columns,
    dtypes, values and row order) give equal digests in any process."""
    digest = hashlib.sha256()
    digest.update(f"rows={len(frame)}".encode())
    for name in frame.columns:
        column = frame[name]
        digest.update(f"\x00{name}\x00{column.dtype}\x00".encode())
        hashed = pd.util.hash_pandas_object(column, index=False).to_numpy(dtype=np.uint64)
        digest.update(np.ascontiguousarray(hashed).tobytes())
    return digest.hexdigest()


def content_fingerprint(path: Path | str) -> str:
    """sha256 of what a file or folder holds, without what differs between identical runs (see
    the module docstring: the output marker, ``*.html``, :data:`VOLATILE_KEYS`, zip dates).

    Raises:
        DataError: ``path`` does not exist.
    """
    path = Path(path)
    if path.is_dir():
        digest = hashlib.sha256(b"folder\x00")
        for rel, file in _content_files(path):
            digest.update(f"{rel}\x00{_file_content(file)}\x00".encode())
        return digest.hexdigest()
    if not path.exists():
        raise DataError("file not found", file=str(path))
    return _file_content(path)


def fingerprint_of(value: Path | str | pd.DataFrame) -> dict[str, Any]:
    """One entry of a fingerprint record.

    A frame: ``{"kind": "frame", "sha256": ..., "rows": ..., "columns": [...]}``. A file:
    ``{"kind": "file", "path": ..., "sha256": <bytes>, "content": <content_fingerprint>,
    "bytes": ...}``. A folder: ``{"kind": "folder", "path": ..., "content": ..., "files": n}``.
    """
    if isinstance(value, pd.DataFrame):
        return {
            "kind": "frame",
            "sha256": frame_fingerprint(value),
            "rows": len(value),
            "columns": [str(c) for c in value.columns],
        }
    path = Path(value)
    if path.is_dir():
        return {
            "kind": "folder",
            "path": str(path),
            "content": content_fingerprint(path),
            "files": sum(1 for _ in _content_files(path)),
        }
    return {
        "kind": "file",
        "path": str(path),
        "sha256": file_sha256(path),
        "content": content_fingerprint(path),
        "bytes": path.stat().st_size,
    }


def fingerprints(
    inputs: Mapping[str, Path | str | pd.DataFrame | None] | None = None,
    outputs: Mapping[str, Path | str | pd.DataFrame | None] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{"inputs": {name: entry}, "outputs": {name: entry}}`` (:func:`fingerprint_of` of each
    value; None values are left out)."""
    return {
        "inputs": {k: fingerprint_of(v) for k, v in (inputs or {}).items() if v is not None},
        "outputs": {k: fingerprint_of(v) for k, v in (outputs or {}).items() if v is not None},
    }


def model_fingerprint(model_dir: Path | str) -> str:
    """The content fingerprint of a model folder's learned state and settings: its
    ``params.npz`` arrays and manifest without the volatile keys (the popularity fallback and
    catalogue included), the same for two fits of the same data with the same seed."""
    return content_fingerprint(model_dir)


def record_fingerprints(model_dir: Path | str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Add ``record`` (e.g. :func:`fingerprints` of the fit's inputs) to the ``fingerprints``
    key of a model folder's ``manifest.json``, merged into what is there, with the folder's own
    ``outputs.model`` fingerprint; the manifest is rewritten atomically (a temporary sibling
    renamed over it), as :func:`tailor.models.artifacts.record_metrics` does. Returns the
    recorded fingerprints.

    Raises:
        ArtifactError: the folder holds no readable manifest.
    """
    from tailor.models.artifacts import MANIFEST, read_manifest

    folder = Path(model_dir)
    manifest = read_manifest(folder)
    current = manifest.get(FINGERPRINTS_KEY)
    merged: dict[str, Any] = dict(current) if isinstance(current, dict) else {}
    for section, entries in record.items():
        if isinstance(entries, Mapping):
            merged[section] = {**(merged.get(section) or {}), **entries}
        else:
            merged[section] = entries
    outputs = dict(merged.get("outputs") or {})
    outputs["model"] = {"kind": "folder", "content": content_fingerprint(folder)}
    merged["outputs"] = outputs
    manifest[FINGERPRINTS_KEY] = merged
    data = json.dumps(manifest, indent=2)
    with output_file(folder / MANIFEST) as tmp:
        tmp.write_text(data)
    return merged


def read_fingerprints(model_dir: Path | str) -> dict[str, Any]:
    """The ``fingerprints`` a model folder's manifest holds (empty when none were recorded)."""
    from tailor.models.artifacts import read_manifest

    found = read_manifest(model_dir).get(FINGERPRINTS_KEY)
    return dict(found) if isinstance(found, dict) else {}


# ---- internals ------------------------------------------------------------------------------
def _content_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """(relative posix path, file) of the files that count, sorted by path."""
    found = []
    for file in folder.rglob("*"):
        rel = file.relative_to(folder)
        if not file.is_file() or any(is_leftover(p) or p == MARKER for p in rel.parts):
            continue
        if file.suffix.lower() in SKIPPED_SUFFIXES:
            continue
        found.append((rel.as_posix(), file))
    yield from sorted(found)


def _file_content(file: Path) -> str:
    suffix = file.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(file.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError):
            return file_sha256(file)
        return _json_digest(data)
    if suffix == ".npz" and zipfile.is_zipfile(file):
        return _npz_digest(file)
    return file_sha256(file)


def _json_digest(data: Any) -> str:
    text = json.dumps(_without_volatile(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_volatile(v)
            for k, v in value.items()
            if k not in VOLATILE_KEYS and k != FINGERPRINTS_KEY
        }
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def _npz_digest(file: Path) -> str:
    digest = hashlib.sha256(b"npz\x00")
    try:
        with np.load(file, allow_pickle=False) as npz:
            for name in sorted(npz.files):
                arr = np.ascontiguousarray(npz[name])
                digest.update(f"{name}\x00{arr.dtype.str}\x00{arr.shape}\x00".encode())
                digest.update(arr.tobytes())
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{file}: cannot be fingerprinted ({exc})") from None
    return digest.hexdigest()
