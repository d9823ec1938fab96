"""Fixtures of the training tests: a planted shop's source and a fresh PostgreSQL database per
test (see training_helpers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from training_helpers import (
    PG_HOST,
    PG_PORT,
    PG_USER,
    _admin,
    pg_available,
    planted_shop,
    write_source,
)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A planted shop's source config (events.csv beside it)."""
    return write_source(tmp_path / "shop", planted_shop())


@pytest.fixture
def pg_url(require: Any) -> Iterator[str]:
    """A fresh PostgreSQL database for one test (dropped after it); its SQLAlchemy URL."""
    require(pg_available(), f"PostgreSQL on {PG_HOST}:{PG_PORT} (and psycopg2) is needed")
    name = f"tailor_tune_{uuid.uuid4().hex[:12]}"
    conn = _admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
