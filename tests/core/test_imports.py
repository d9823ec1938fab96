"""The import-direction rules of docs/architecture.md, checked on the source tree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tailor"

TRAINING_DATA = ("tailor.data.cleaning", "tailor.data.sources")
FORBIDDEN = {
    "data": (
        "tailor.models",
        "tailor.pipeline",
        "tailor.evaluation",
        "tailor.serving",
        "tailor.cli",
    ),
    "models": ("tailor.pipeline", "tailor.evaluation", "tailor.serving", "tailor.cli"),
    "pipeline": ("tailor.evaluation", "tailor.serving", "tailor.cli", *TRAINING_DATA),
    "evaluation": ("tailor.serving", "tailor.cli", "tailor.training"),
    "serving": ("tailor.evaluation", "tailor.cli", "tailor.training", *TRAINING_DATA),
    # training publishes through the model store, never through the HTTP app
    "training": ("tailor.cli", "tailor.serving.app", "tailor.serving.routes", "fastapi"),
    # the consumer writes the servers' cache and store, never through the HTTP app
    "streaming": (
        "tailor.cli",
        "tailor.evaluation",
        "tailor.training",
        "tailor.serving.app",
        "tailor.serving.routes",
        "fastapi",
    ),
    # A/B tests: configuration, assignment, exposures and the analysis of an event log; the
    # server imports the first three, never the analysis
    "experiments": (
        "tailor.models",
        "tailor.pipeline",
        "tailor.evaluation",
        "tailor.serving",
        "tailor.training",
        "tailor.cli",
        "fastapi",
        *TRAINING_DATA,
    ),
    # the monitor reads the log, the store and the server's /metrics text, never the HTTP app
    # the simulator talks to a server over HTTP; it sets the shop up through the model store
    "simulation": (
        "tailor.cli",
        "tailor.training",
        "tailor.serving.app",
        "tailor.serving.routes",
        "fastapi",
    ),
    "monitoring": (
        "tailor.cli",
        "tailor.evaluation",
        "tailor.training",
        "tailor.serving.app",
        "tailor.serving.routes",
        "fastapi",
    ),
}
"""data <- models <- pipeline <- {evaluation, serving} <- {training, streaming} <- cli
(docs/architecture.md)."""
SERVING_MUST_NOT_LOAD = (
    "numba",
    "implicit",
    "plotly",
    "scipy.stats",
    "sklearn",
    "tailor.evaluation",
    "tailor.cli",
    "tailor.experiments.analysis",
    "tailor.experiments.stats",
    "tailor.experiments.report",
    *TRAINING_DATA,
    "tailor.models._mf_kernels",
    "tailor.models._sparse_kernels",
    "tailor.models._mf_validation",
    "tailor.models.ease",
    "tailor.models.recency_ease",
    "tailor.models.knn",
    "tailor.models.mf_sgd",
    "tailor.models.implicit_models",
    "torch",
    "lightgbm",
    "shap",
    "lime",
    "onnxruntime",
    "pyspark",
    "tailor.models.content",
    "tailor.models.ranker",
    "tailor.models.wide_deep",
    "tailor.training",
)
"""Training code: numba-compiled fit kernels, implicit, plots, statistics, the model classes
(a served folder loads only its own model's module, when it loads)."""


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


def test_evaluation_serving_and_cli_reach_models_through_the_pipeline() -> None:
    """The lists users get are built in one place: the pipeline (the mask + top-n step and the
    fallback are not rebuilt elsewhere)."""
    for package in ("serving", "evaluation"):
        users = [
            str(path.relative_to(SRC))
            for path in (SRC / package).rglob("*.py")
            if "tailor.pipeline" in _imports(path)
        ]
        assert users, f"{package} does not use tailor.pipeline"
    fit_cli = _imports(SRC / "cli" / "fit.py")
    assert "tailor.pipeline" in fit_cli


def test_serving_app_loads_no_training_code() -> None:
    """``import tailor.serving.app`` (what ``tailor serve`` starts with) in a fresh process."""
    code = (
        "import sys, tailor.serving.app; "
        f"print(sorted(m for m in sys.modules if m.startswith({SERVING_MUST_NOT_LOAD!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_tailor_is_light() -> None:
    heavy = ("fastapi", "redis", "implicit", "plotly", "torch", "lightgbm", "shap", "pyspark")
    loaded = f"sorted(m for m in {heavy!r} if m in sys.modules)"
    code = f"import sys, tailor, tailor.models; print({loaded})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
