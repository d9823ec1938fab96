"""Model artifacts as data: a directory with manifest.json and params.npz, never a pickle."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from tailor.data.vocab import Vocabulary
from tailor.errors import ArtifactError

MANIFEST = "manifest.json"
PARAMS = "params.npz"
FORMAT_VERSION = 1


def save_model(model: Any, path: Path | str, *, metrics: dict[str, float] | None = None) -> None:
    """Write ``model`` to ``path`` (created if needed), atomically per file."""
    from tailor import __version__

    path = Path(path)
    model._require_fitted()
    path.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "_users": model.users.ids,
        "_items": model.items.ids,
        "_seen_indptr": model.seen.indptr,
        "_seen_indices": model.seen.indices,
    }
    arrays.update(model._get_params())
    _atomic_write(path / PARAMS, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
    manifest = {
        "format": FORMAT_VERSION,
        "model": model.name,
        "tailor_version": __version__,
        "config": model.config.model_dump(mode="json"),
        "version": version_id(model),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_users": len(model.users),
        "n_items": len(model.items),
        "metrics": metrics or {},
    }
    _atomic_write(path / MANIFEST, lambda f: f.write(json.dumps(manifest, indent=2).encode()))


def read_manifest(path: Path | str) -> dict[str, Any]:
    """The manifest of a saved model, with a clear error when it is missing or corrupt."""
    file = Path(path) / MANIFEST
    if not file.is_file():
        raise ArtifactError(f"{path} is not a tailor model directory (no {MANIFEST})")
    try:
        manifest: dict[str, Any] = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{file} is not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise ArtifactError(f"{file}: unsupported artifact format {manifest.get('format')!r}")
    return manifest


def record_metrics(path: Path | str, metrics: dict[str, float]) -> None:
    """Store offline metrics in a saved model's manifest (serving exports them on /metrics)."""
    manifest = read_manifest(path)
    manifest["metrics"] = {**manifest.get("metrics", {}), **metrics}
    data = json.dumps(manifest, indent=2).encode()
    _atomic_write(Path(path) / MANIFEST, lambda f: f.write(data))


def load_model(path: Path | str) -> Any:
    """Construct the model from its manifest's config, then restore its arrays."""
    from tailor.models.registry import model_class

    path = Path(path)
    manifest = read_manifest(path)
    cls = model_class(manifest["model"])
    model = cls(cls.config_class.model_validate(manifest["config"]))
    try:
        with np.load(path / PARAMS, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path / PARAMS} cannot be read: {exc}") from None
    model.users = Vocabulary(arrays.pop("_users"))
    model.items = Vocabulary(arrays.pop("_items"))
    indptr, indices = arrays.pop("_seen_indptr"), arrays.pop("_seen_indices")
    model.seen = sp.csr_array(
        (np.ones(len(indices), np.float32), indices, indptr),
        shape=(len(model.users), len(model.items)),
    )
    model._set_params(arrays)
    return model


def version_id(model: Any) -> str:
    """A timestamp plus a short hash of the config and the learned arrays."""
    digest = hashlib.sha256(model.config.model_dump_json().encode())
    for key, arr in sorted(model._get_params().items()):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(arr).tobytes()[:1_000_000])
    digest.update(model.users.ids.tobytes()[:1_000_000])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{model.name}-{stamp}-{digest.hexdigest()[:8]}"


def _atomic_write(target: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
