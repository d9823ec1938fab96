"""Exceptions raised by tailor: every user-facing failure is one of these, with a clear message."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class TailorError(Exception):
    """Base class of every error tailor raises on purpose."""


class ConfigError(TailorError):
    """A configuration file, option or hyperparameter is invalid."""


class DataError(TailorError):
    """Input data is malformed. The message names the file, column, row and problem when known."""

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.column = column
        self.row = row
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        return f"{', '.join(where)}: {self.problem}" if where else self.problem


class NotFittedError(TailorError):
    """A model was used before ``fit`` was called."""


class ModelFitError(TailorError):
    """Training produced an invalid model (for example non-finite parameters)."""


class ArtifactError(TailorError):
    """A saved model directory is missing, incomplete or of an unknown kind."""


def format_validation_error(exc: ValidationError) -> str:
    """A pydantic error as one line: ``interactions.columns: problem; ...`` (``config`` stands
    for the whole object when a problem has no location)."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
