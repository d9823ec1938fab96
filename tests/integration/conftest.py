"""Fixtures: a model directory fitted on planted data and an app serving it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tailor.serving.app import create_app
from tailor.testing.serving import serve_settings, write_model_dir


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return write_model_dir(tmp_path / "model")


@pytest.fixture
def client(model_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(serve_settings(model_dir))) as c:
        yield c
