"""Model versions on disk and the active-version pointer.

A registry root holds::

    ROOT/versions/<version>/     model directories as written by ``tailor fit`` (copied in)
    ROOT/ACTIVE                  the name of the active version (one line)
    ROOT/HISTORY                 versions activated so far, oldest first (for rollback)

Switching versions replaces ``ACTIVE`` with ``os.replace`` (atomic on POSIX), so a reader sees the
old or the new name, never a mix; rollback is the same pointer flip back to the previous entry of
``HISTORY``. A plain model directory (one holding ``manifest.json``) also works: it is a registry
with exactly one version, named by its manifest.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tailor.errors import ArtifactError, ConfigError
from tailor.models.artifacts import MANIFEST, read_manifest

VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
"""Version names are safe as directory names and inside Redis keys."""


@dataclass(frozen=True)
class ModelRegistry:
    """Versions under ``root`` and the pointer to the active one.

    Stability: experimental.
    """

    root: Path

    @property
    def is_single(self) -> bool:
        """Whether ``root`` is one model directory rather than a registry."""
        return (self.root / MANIFEST).is_file()

    def versions(self) -> list[str]:
        """Published version names, sorted."""
        if self.is_single:
            return [self._single_version()]
        base = self.root / "versions"
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def active(self) -> str | None:
        """The active version's name, or None when nothing is active."""
        if self.is_single:
            return self._single_version()
        try:
            name = (self.root / "ACTIVE").read_text().strip()
        except FileNotFoundError:
            return None
        return name or None

    def path(self, version: str) -> Path:
        """Directory of ``version``."""
        if self.is_single:
            if version != self._single_version():
                raise ArtifactError(f"{self.root} holds only version {self._single_version()!r}")
            return self.root
        _check_name(version)
        path = self.root / "versions" / version
        if not (path / MANIFEST).is_file():
            raise ArtifactError(f"version {version!r} is not published in {self.root}")
        return path

    def publish(self, model_dir: Path, version: str | None = None) -> str:
        """Copy ``model_dir`` in as a new version (named by its manifest unless given)."""
        self._require_registry()
        name = version or str(read_manifest(model_dir)["version"])
        _check_name(name)
        target = self.root / "versions" / name
        if target.exists():
            raise ConfigError(f"version {name!r} already exists in {self.root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}."))
        shutil.copytree(model_dir, staging, dirs_exist_ok=True)
        staging.rename(target)  # a half-copied version is never visible under its name
        return name

    def activate(self, version: str) -> None:
        """Make ``version`` active with one atomic pointer write, and record it in HISTORY."""
        self._require_registry()
        self.path(version)
        with open(self.root / "HISTORY", "a") as f:
            f.write(version + "\n")
        _atomic_write_text(self.root / "ACTIVE", version + "\n")

    def rollback(self) -> str:
        """Re-activate the version active before the current one; returns its name."""
        self._require_registry()
        history = self._history()
        current = self.active()
        previous = [v for v in history if v != current]
        if not previous:
            raise ConfigError("no earlier version to roll back to")
        target = previous[-1]
        # drop the current entry so repeated rollbacks walk further back
        while history and history[-1] == current:
            history.pop()
        _atomic_write_text(self.root / "HISTORY", "".join(v + "\n" for v in history))
        _atomic_write_text(self.root / "ACTIVE", target + "\n")
        return target

    def _history(self) -> list[str]:
        try:
            lines = (self.root / "HISTORY").read_text().splitlines()
        except FileNotFoundError:
            return []
        return [line.strip() for line in lines if line.strip()]

    def _single_version(self) -> str:
        return str(read_manifest(self.root)["version"])

    def _require_registry(self) -> None:
        if self.is_single:
            raise ConfigError(f"{self.root} is a single model directory, not a registry root")


def _check_name(version: str) -> None:
    if not VERSION_PATTERN.match(version):
        raise ConfigError(f"invalid version name {version!r} (letters, digits, '._-', <= 128)")


def _atomic_write_text(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
