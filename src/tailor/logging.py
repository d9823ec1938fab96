"""Structured logging. The library logs; it never prints."""

from __future__ import annotations

from typing import Any

import structlog


def get_logger(name: str, **context: Any) -> Any:
    """Return a structlog logger bound to ``name`` and any extra context."""
    return structlog.get_logger(name).bind(**context)
