"""The import-direction rules of docs/architecture.md, checked on the source tree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tailor"

FORBIDDEN = {
    "data": ("tailor.models", "tailor.evaluation", "tailor.serving", "tailor.cli"),
    "models": ("tailor.evaluation", "tailor.serving", "tailor.cli"),
    "evaluation": ("tailor.serving", "tailor.cli"),
    "serving": ("tailor.evaluation", "tailor.cli", "tailor.data.cleaning", "tailor.data.sources"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_import_direction(package: str) -> None:
    bad = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in (SRC / package).rglob("*.py")
        for name in _imports(path)
        if name.startswith(FORBIDDEN[package])
    ]
    assert not bad, bad


def test_import_tailor_is_light() -> None:
    heavy = ("fastapi", "redis", "implicit", "plotly", "torch")
    code = f"import sys, tailor; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
