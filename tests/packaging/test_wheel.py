"""The wheel users install: its name, its bundled data, and `tailor demo` from a clean venv."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tailor.cli import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: object, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.slow
def test_wheel_installs_into_a_clean_venv_and_runs_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, ROOT,
                 timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("*.whl")
    assert wheel.name.startswith(DISTRIBUTION.replace("-", "_") + "-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "tailor/datasets/online_retail.parquet" in names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)

    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", venv, timeout=120).returncode == 0
    pip = venv / "bin" / "pip"
    lock = ROOT / "requirements" / "lock.txt"
    installed = _run(pip, "install", "-q", "-c", lock, wheel, timeout=900)
    assert installed.returncode == 0, installed.stderr[-2000:]

    out = tmp_path / "demo"
    demo = _run(venv / "bin" / "tailor", "demo", "--out", out, "--models", "ease", timeout=600)
    assert demo.returncode == 0, demo.stderr[-2000:]
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert manifest["model"] == "ease"
    assert (out / "evaluation" / "report.html").is_file()
    version = _run(venv / "bin" / "tailor", "--version", timeout=60)
    assert version.stdout.strip() == "tailor, version 0.1.0"
