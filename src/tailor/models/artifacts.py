"""Model artifacts as data: a directory with manifest.json and params.npz, never a pickle.

``params.npz`` holds ``model.state_arrays()`` (derived from the model's ``params_spec``);
loading constructs the model from the manifest's config and hands the checked arrays to
``model.load_state``. Nothing here knows a model's arrays.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from tailor.errors import ArtifactError, TailorError, format_validation_error
from tailor.outputs import file_mode, output_dir

if TYPE_CHECKING:
    from tailor.models.base import Recommender, RecommenderBase

MANIFEST = "manifest.json"
PARAMS = "params.npz"
FORMAT_VERSION = 1


def save_model(
    model: Recommender,
    path: Path | str,
    *,
    metrics: dict[str, float] | None = None,
    fit_seconds: float | None = None,
    force: bool = False,
) -> None:
    """Write ``model`` to folder ``path`` whole or not at all (see :mod:`tailor.outputs`).

    A folder tailor wrote before is replaced; another non-empty folder is refused unless
    ``force``.
    """
    with output_dir(path, command="save", force=force) as staging:
        write_model(model, staging, metrics=metrics, fit_seconds=fit_seconds)


def write_model(
    model: Recommender,
    folder: Path,
    *,
    metrics: dict[str, float] | None = None,
    fit_seconds: float | None = None,
) -> dict[str, Any]:
    """Write ``manifest.json`` and ``params.npz`` into ``folder`` (a staging folder: callers
    that need atomicity build the whole output there first); returns the manifest.

    Besides the model's name, config, version and sizes the manifest records ``params`` (every
    hyperparameter, the config in full), ``fit_seconds`` (None when unknown, e.g. a loaded model
    saved again) and ``metrics`` (e.g. validation metrics from ``fit_model_dir``), so scripts
    read them instead of scraping output.
    """
    from tailor import __version__

    model.require_fitted()
    folder.mkdir(parents=True, exist_ok=True)
    arrays = model.state_arrays()
    with open(folder / PARAMS, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "model": model.name,
        "tailor_version": __version__,
        "config": model.config.model_dump(mode="json"),
        "version": version_id(model, arrays),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_users": len(model.users),
        "n_items": len(model.items),
        "params": model.config.model_dump(mode="json"),
        "fit_seconds": None if fit_seconds is None else round(float(fit_seconds), 6),
        "metrics": metrics or {},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def read_manifest(path: Path | str) -> dict[str, Any]:
    """The manifest of a saved model, with a clear error naming the file when it is missing,
    unreadable, not a JSON object, or lacks a key."""
    file = Path(path) / MANIFEST
    if not file.is_file():
        raise ArtifactError(f"{path} is not a tailor model directory (no {MANIFEST})")
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ArtifactError(f"{file} is not UTF-8 text") from None
    except OSError as exc:
        raise ArtifactError(f"{file} cannot be read: {exc.strerror}") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{file} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{file} must hold a JSON object, not a {type(manifest).__name__}")
    if manifest.get("format") != FORMAT_VERSION:
        raise ArtifactError(f"{file}: unsupported artifact format {manifest.get('format')!r}")
    for key, kind in _MANIFEST_KEYS.items():
        if key not in manifest:
            raise ArtifactError(f"{file}: the key {key!r} is missing")
        value = manifest[key]
        if not isinstance(value, kind) or isinstance(value, bool) or value == "":
            raise ArtifactError(f"{file}: {key!r} must be a {_KIND_NAMES[kind]}")
    if manifest["n_users"] < 0 or manifest["n_items"] < 0:
        raise ArtifactError(f"{file}: n_users and n_items must not be negative")
    return manifest


def record_metrics(path: Path | str, metrics: dict[str, float]) -> None:
    """Store offline metrics in a saved model's manifest (serving exports them on /metrics)."""
    manifest = read_manifest(path)
    manifest["metrics"] = {**manifest.get("metrics", {}), **metrics}
    data = json.dumps(manifest, indent=2).encode()
    _atomic_write(Path(path) / MANIFEST, lambda f: f.write(data))


def load_model(path: Path | str) -> RecommenderBase[Any]:
    """Construct the model from its manifest's config, then ``load_state`` its arrays.

    Every array is checked against the manifest's sizes and the model's ``params_spec`` (dtype,
    shape, finite values, CSR structure) before the model takes it, so a damaged or foreign
    artifact is refused here with an ArtifactError naming the file and the array, instead of
    being served as empty lists or zero scores.
    """
    from pydantic import ValidationError

    from tailor.models._params import BASE_SPEC, check_params
    from tailor.models.registry import model_class

    path = Path(path)
    manifest = read_manifest(path)
    file = path / MANIFEST
    try:
        cls = model_class(manifest["model"])
    except TailorError as exc:
        raise ArtifactError(f"{file}: {exc}") from None
    try:
        config = cls.config_class.model_validate(manifest["config"])
    except ValidationError as exc:
        raise ArtifactError(f"{file}: invalid config: {format_validation_error(exc)}") from None
    model = cls(config)
    params = path / PARAMS
    arrays = _read_params(params)
    # the vocabularies against the manifest first: every other size is checked against them
    ids = {k: arrays[k] for k in BASE_SPEC if k in arrays}
    check_params(ids, BASE_SPEC, manifest["n_users"], manifest["n_items"], str(params))
    model.load_state(arrays, source=str(params))
    return model


_MANIFEST_KEYS: dict[str, type] = {
    "model": str,
    "config": dict,
    "version": str,
    "n_users": int,
    "n_items": int,
}
_KIND_NAMES = {str: "non-empty string", dict: "JSON object", int: "whole number"}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip


def _read_params(file: Path) -> dict[str, np.ndarray]:
    """Every array of ``params.npz``, never through pickle.

    Errors name the file (and the array when one is at fault) in tailor's words: numpy's own
    messages suggest loading with pickle, which must never be followed for a model file.
    """
    try:
        with file.open("rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise ArtifactError(f"{file} is missing") from None
    except OSError as exc:
        raise ArtifactError(f"{file} cannot be read: {exc.strerror}") from None
    if not head:
        raise ArtifactError(f"{file} is empty")
    if head not in _ZIP_MAGIC:
        raise ArtifactError(f"{file} is not an .npz archive")
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(file, allow_pickle=False) as npz:
            for name in npz.files:
                try:
                    arrays[name] = npz[name]
                except ValueError as exc:
                    if "pickle" in str(exc):
                        raise ArtifactError(
                            f"{file}: array {name!r} holds Python objects (never loaded)"
                        ) from None
                    raise
                except Exception as exc:
                    raise ArtifactError(
                        f"{file}: array {name!r} is truncated or corrupt ({type(exc).__name__})"
                    ) from None
    except ArtifactError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, EOFError, OSError, ValueError, MemoryError
        raise ArtifactError(f"{file} is truncated or corrupt ({type(exc).__name__})") from None
    return arrays


def version_id(model: Recommender, arrays: dict[str, np.ndarray] | None = None) -> str:
    """A timestamp plus a short hash of the config and the learned state (``arrays``:
    ``model.state_arrays()`` when already at hand)."""
    digest = hashlib.sha256(model.config.model_dump_json().encode())
    state = model.state_arrays() if arrays is None else arrays
    for key, arr in sorted(state.items()):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(arr).tobytes()[:1_000_000])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{model.name}-{stamp}-{digest.hexdigest()[:8]}"


def _atomic_write(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, file_mode())  # mkstemp creates 0600; outputs follow the umask
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
