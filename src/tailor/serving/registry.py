"""Model versions on disk and the active-version pointer.

A registry root holds::

    ROOT/versions/<version>/     model directories as written by ``tailor fit`` (copied in)
    ROOT/ACTIVE                  the name of the active version (one line)
    ROOT/HISTORY                 versions activated so far, oldest first (for rollback), at most
                                 ``history_limit`` lines

Switching versions replaces ``ACTIVE`` with ``os.replace`` (atomic on POSIX), so a reader sees the
old or the new name, never a mix; rollback is the same pointer flip back to the previous entry of
``HISTORY``. A version is loaded and checked (``ModelDir.load``: every array against its
manifest) before the pointer moves, so ``ACTIVE`` never names a version that cannot be served.
Publishing copies into a hidden staging sibling (``versions/.NAME.tmp-*``) renamed into place
when whole; a killed publish leaves only such a hidden folder, which listings ignore and remove
once stale. A plain model directory (one holding ``manifest.json``) also works: it is a registry
with exactly one version, named by its manifest.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tailor.errors import ArtifactError, ConfigError
from tailor.models.artifacts import MANIFEST, read_manifest
from tailor.models.model_dir import ModelDir
from tailor.outputs import output_dir, output_file

VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
"""Version names are safe as directory names and inside Redis keys."""
STALE_S = 3600.0
"""A hidden staging folder under ``versions/`` untouched this long is a killed publish's."""


@dataclass(frozen=True)
class ModelRegistry:
    """Versions under ``root`` and the pointer to the active one.

    Stability: experimental.
    """

    root: Path
    history_limit: int = 50
    """HISTORY keeps this many activations (the oldest are dropped)."""

    @property
    def is_single(self) -> bool:
        """Whether ``root`` is one model directory rather than a registry."""
        return (self.root / MANIFEST).is_file()

    def versions(self) -> list[str]:
        """Published version names, sorted; staging folders and foreign entries are left out
        (and staging folders of a publish killed over an hour ago are removed)."""
        if self.is_single:
            return [self._single_version()]
        base = self.root / "versions"
        if not base.is_dir():
            return []
        names = []
        for entry in base.iterdir():
            if entry.name.startswith("."):
                _remove_if_stale(entry)
            elif VERSION_PATTERN.match(entry.name) and (entry / MANIFEST).is_file():
                names.append(entry.name)
        return sorted(names)

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
            raise ArtifactError(f"version {version!r} is not published")
        return path

    def check(self, version: str) -> None:
        """Load ``version`` (model and popularity fallback) as the server would.

        Raises:
            ArtifactError: naming the file and the problem.
        """
        ModelDir.load(self.path(version))

    def publish(self, model_dir: Path, version: str | None = None) -> str:
        """Check ``model_dir`` loads, then copy it in as a new version (named by its manifest
        unless given); the version appears whole or not at all."""
        self._require_registry()
        folder = ModelDir.load(model_dir)
        name = version or folder.version
        _check_name(name)
        target = self.root / "versions" / name
        if target.exists():
            raise ConfigError(f"version {name!r} already exists in {self.root}")
        with output_dir(target, command="publish") as staging:
            shutil.copytree(model_dir, staging, dirs_exist_ok=True)
        return name

    def activate(self, version: str, *, check: bool = True) -> None:
        """Make ``version`` active with one atomic pointer write and record it in HISTORY.

        With ``check`` (default) the version is loaded first (:meth:`check`); a broken version
        raises ArtifactError and the pointer stays where it was. ``check=False`` is for a caller
        that has just loaded it itself (the server).
        """
        self._require_registry()
        self.path(version)
        if check:
            self.check(version)
        self._write_history([*self._history(), version])
        _atomic_write_text(self.root / "ACTIVE", version + "\n")

    def rollback_target(self) -> str:
        """The version :meth:`rollback` would activate."""
        self._require_registry()
        current = self.active()
        previous = [v for v in self._history() if v != current]
        if not previous:
            raise ConfigError("no earlier version to roll back to")
        return previous[-1]

    def rollback(self, *, check: bool = True) -> str:
        """Re-activate the version active before the current one (checked first, like
        :meth:`activate`); returns its name."""
        target = self.rollback_target()
        if check:
            self.check(target)
        history, current = self._history(), self.active()
        # drop the current entry so repeated rollbacks walk further back
        while history and history[-1] == current:
            history.pop()
        self._write_history(history)
        _atomic_write_text(self.root / "ACTIVE", target + "\n")
        return target

    def public(self, text: str) -> str:
        """``text`` with this registry's absolute location removed, for answers to clients:
        files are named relative to the model store (``versions/v2/params.npz``)."""
        for root in dict.fromkeys((str(self.root.resolve()), str(self.root.absolute()))):
            text = text.replace(root + os.sep, "").replace(root, ".")
        return text

    def _write_history(self, entries: list[str]) -> None:
        kept = entries[-self.history_limit :]
        _atomic_write_text(self.root / "HISTORY", "".join(v + "\n" for v in kept))

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
    """Replace ``target`` in one rename; the file gets the umask's mode like any other output."""
    with output_file(target) as tmp:
        tmp.write_text(text)


def _remove_if_stale(entry: Path) -> None:
    try:
        if time.time() - entry.stat().st_mtime < STALE_S:
            return  # maybe a publish still copying
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    except OSError:
        pass  # gone meanwhile, or not ours to remove: listing must not fail for it
