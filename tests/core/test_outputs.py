"""tailor.outputs: whole-or-nothing folders and files, never over inputs or foreign folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tailor.errors import ConfigError
from tailor.outputs import (
    MARKER,
    check_output,
    is_leftover,
    output_dir,
    output_file,
    remove_leftovers,
)


def _tree(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir()) if p.name != MARKER}


def test_output_dir_creates_folder_with_marker(tmp_path: Path) -> None:
    out = tmp_path / "a" / "out"
    with output_dir(out, command="test") as staging:
        assert staging.parent == out.parent and staging.name.startswith(".out.tmp-")
        (staging / "x.txt").write_text("new")
    assert _tree(out) == {"x.txt": "new"}
    assert (out / MARKER).is_file()
    assert [p.name for p in out.parent.iterdir()] == ["out"]  # no staging left


def test_rerun_replaces_whole_folder_no_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_dir(out, command="test") as staging:
        (staging / "old.txt").write_text("old")
        (staging / "learning_curve.html").write_text("curve")
    with output_dir(out, command="test") as staging:
        (staging / "new.txt").write_text("new")
    assert _tree(out) == {"new.txt": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failure_leaves_old_folder_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_dir(out, command="test") as staging:
        (staging / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="boom"), output_dir(out, command="test") as staging:
        (staging / "half.txt").write_text("half")
        raise RuntimeError("boom")
    assert _tree(out) == {"old.txt": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_foreign_non_empty_folder_refused_unless_force(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.csv").write_text("data")
    with pytest.raises(ConfigError, match="non-empty folder that tailor did not create"):
        with output_dir(out, command="test"):
            pass
    assert _tree(out) == {"precious.csv": "data"}
    with output_dir(out, command="test", force=True) as staging:
        (staging / "x").write_text("x")
    assert _tree(out) == {"x": "x"}


def test_empty_existing_folder_is_accepted(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    with output_dir(out, command="test") as staging:
        (staging / "x").write_text("x")
    assert _tree(out) == {"x": "x"}


def test_inputs_are_never_outputs(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    source = folder / "interactions.parquet"
    source.write_text("raw")
    with pytest.raises(ConfigError, match="would overwrite the input"):
        check_output(folder, [source], force=True)  # the folder holds an input
    with pytest.raises(ConfigError, match="would overwrite the input"):
        check_output(source, [source], folder=False)  # the file is the input
    link = tmp_path / "alias"
    link.symlink_to(folder)
    with pytest.raises(ConfigError, match="would overwrite the input"):
        check_output(link, [source], force=True)  # also through a symlink
    check_output(folder / "sub", [source])  # a new sub-folder is fine
    assert source.read_text() == "raw"


def test_output_is_a_file_or_folder_mismatch(tmp_path: Path) -> None:
    file = tmp_path / "f.txt"
    file.write_text("x")
    with pytest.raises(ConfigError, match="is a file; give a folder"):
        check_output(file)
    with pytest.raises(ConfigError, match="is a folder; give a file name"):
        check_output(tmp_path, folder=False)
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        with output_dir(file / "out", command="test"):
            pass


def test_leftovers_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (tmp_path / ".out.tmp-abc").mkdir()
    (tmp_path / ".out.tmp-abc" / "half").write_text("x")
    (tmp_path / ".out.old-123").mkdir()
    (tmp_path / ".other.tmp-1").mkdir()  # another output's staging: not ours to remove
    assert is_leftover(".out.tmp-abc") and not is_leftover("out")
    remove_leftovers(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-1"]


def test_output_file_is_atomic_and_follows_umask(tmp_path: Path) -> None:
    out = tmp_path / "recs.csv"
    out.write_text("old")
    with pytest.raises(RuntimeError), output_file(out, suffix=".csv") as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert out.read_text() == "old"
    old_mask = os.umask(0o022)
    try:
        with output_file(out) as tmp:
            tmp.write_text("new")
        with output_dir(tmp_path / "d", command="test") as staging:
            (staging / "x").write_text("x")
    finally:
        os.umask(old_mask)
    assert out.read_text() == "new"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "recs.csv"]


def test_a_running_writers_staging_is_kept(tmp_path: Path) -> None:
    """Two runs into one output: the second never deletes the first's work in progress."""
    import subprocess
    import sys

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        alive = tmp_path / f".out.tmp-{sleeper.pid}-abc"
        alive.mkdir()
        dead = tmp_path / ".out.tmp-999999999-abc"  # no such process
        dead.mkdir()
        remove_leftovers(tmp_path / "out")
        assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name]
    finally:
        sleeper.kill()
        sleeper.wait()
    remove_leftovers(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
