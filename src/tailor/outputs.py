"""Safe outputs: every command's result appears whole or not at all, and never over its inputs.

A folder output is built in a temporary sibling (``.NAME.tmp-*``) and swapped into place in one
step (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two renames with the old folder kept until
the new one is in place). Until then the old folder stays whole. A marker file says the folder
is tailor's, so a later run may replace it; a non-empty folder without the marker is refused
unless ``force``. A file output is written to a temporary sibling and renamed over the target.

Leftovers of a killed run (``.NAME.tmp-*``, ``.NAME.old-*``) are removed by the next run into
the same place and never look like outputs.

Stability: stable.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from tailor.errors import ConfigError

MARKER = ".tailor-output.json"
"""Written into every folder tailor creates; its presence lets a later run replace the folder."""

_TMP = ".tmp-"
_OLD = ".old-"
_RENAME_EXCHANGE = 2


def check_output(
    out: Path | str,
    inputs: Iterable[Path | str | None] = (),
    *,
    force: bool = False,
    folder: bool = True,
) -> Path:
    """Refuse an output that would destroy data: one of the inputs, a folder that holds an
    input, or (for folders) a non-empty folder tailor did not create, unless ``force``.

    Raises:
        ConfigError: naming the output and the reason.
    """
    out = Path(out)
    target = _resolved(out)
    for given in inputs:
        if given is None:
            continue
        source = _resolved(Path(given))
        if source == target or (folder and target in source.parents):
            raise ConfigError(
                f"--out {out} would overwrite the input {given}; choose another output"
            )
    if not folder:
        if out.is_dir():
            raise ConfigError(f"--out {out} is a folder; give a file name")
        return out
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder")
    if out.is_dir() and not force and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ConfigError(
            f"--out {out} is a non-empty folder that tailor did not create; "
            "choose an empty or new folder, or pass --force to replace it"
        )
    return out


@contextmanager
def output_dir(
    out: Path | str,
    *,
    command: str,
    inputs: Iterable[Path | str | None] = (),
    force: bool = False,
) -> Iterator[Path]:
    """Yield an empty staging folder; on normal exit it replaces ``out`` in one step.

    On an exception (or a kill) ``out`` is untouched and the staging folder is removed (or left
    as a hidden ``.NAME.tmp-*`` sibling that the next run removes).
    """
    inputs = list(inputs)
    out = check_output(out, inputs, force=force)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(out)
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=_staging_prefix(out)))
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"--out {out}: {parent} is a file, not a folder") from None
    except OSError as exc:  # name the user's path, not our hidden staging name
        raise ConfigError(f"--out {out} cannot be written: {exc.strerror}") from None
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp creates 0700; outputs follow the umask
        yield staging
        (staging / MARKER).write_text(
            json.dumps(
                {"command": command, "created_at": datetime.now(UTC).isoformat(timespec="seconds")},
                indent=2,
            )
            + "\n"
        )
        check_output(out, inputs, force=force)  # the world may have changed while we worked
        _swap_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def output_file(
    out: Path | str, *, inputs: Iterable[Path | str | None] = (), suffix: str = ""
) -> Iterator[Path]:
    """Yield a temporary path beside ``out``; on normal exit it is renamed over ``out``."""
    inputs = list(inputs)
    out = check_output(out, inputs, folder=False)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=_staging_prefix(out), suffix=suffix)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"--out {out}: {out.parent} is a file, not a folder") from None
    except OSError as exc:  # name the user's path, not our hidden staging name
        raise ConfigError(f"--out {out} cannot be written: {exc.strerror}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())  # mkstemp creates 0600
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def is_leftover(name: str) -> bool:
    """True for the hidden staging names a killed run may leave behind."""
    return name.startswith(".") and (_TMP in name or _OLD in name)


def remove_leftovers(out: Path) -> None:
    """Remove staging folders and files that a killed run into ``out`` left beside it.

    A staging name carries its writer's process id: a run still in progress (another process
    writing the same output) keeps its staging; only those of dead processes are removed.
    """
    if not out.parent.is_dir():
        return
    for prefix in (f".{out.name}{_TMP}", f".{out.name}{_OLD}"):
        for path in out.parent.glob(f"{prefix}*"):
            if _writer_alive(path.name[len(prefix) :]):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _staging_prefix(out: Path) -> str:
    return f".{out.name}{_TMP}{os.getpid()}-"


def _writer_alive(rest: str) -> bool:
    """Whether the process whose id starts ``rest`` ("1234-abcd") is running (not this one)."""
    pid_text = rest.split("-", 1)[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _swap_into_place(staging: Path, out: Path) -> None:
    if not out.exists():
        os.rename(staging, out)  # atomic; also replaces an empty folder created meanwhile
        return
    if _exchange(staging, out):
        return  # staging now holds the old folder; the caller removes it
    old = out.parent / f".{out.name}{_OLD}{os.getpid()}"
    os.rename(out, old)
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the call is unavailable."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(
        at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), ctypes.c_uint(_RENAME_EXCHANGE)
    )
    if result == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: file system or kernel without it
        return False
    raise OSError(errno, os.strerror(errno), str(b))


_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL | None:
    global _LIBC
    if _LIBC is None:
        name = ctypes.util.find_library("c")
        if name is None:
            return None
        _LIBC = ctypes.CDLL(name, use_errno=True)
    return _LIBC


def file_mode() -> int:
    """The mode a new file gets under the current umask (what ``open`` would give it)."""
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask is racy)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))
