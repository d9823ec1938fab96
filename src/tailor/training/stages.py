"""Stages of a run folder and their fingerprints: a stage whose inputs did not change is skipped.

A stage's fingerprint is the sha256 of

* its name and its config section (canonical JSON),
* the content fingerprints of its external input files (``tailor.training.fingerprints.
  content_fingerprint``: the source files for ``prepare``),
* the fingerprints of the stages it reads from (their outputs are a function of those), and
* extra facts it depends on (e.g. the active model version for ``evaluate``).

Chaining upstream fingerprints instead of re-hashing their output folders keeps the rule exact
while later stages annotate earlier outputs (the test metrics and the gate decision written into
the model's manifest) and avoids hashing large intermediate files twice. Records live in
``RUN/stages.json``; a stage is skipped when its fingerprint equals the recorded one, it
finished, and its outputs are still there.

Stability: experimental.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tailor.outputs import output_file

STAGES_FILE = "stages.json"
RAN, SKIPPED, FAILED, REFUSED = "ran", "skipped", "failed", "refused"


def file_fingerprint(path: Path) -> str:
    """The content fingerprint of a file or folder (the data-fingerprint rules of
    :mod:`tailor.training.fingerprints`)."""
    from tailor.training.fingerprints import content_fingerprint

    return content_fingerprint(path)


def fingerprint(
    stage: str,
    section: Any,
    *,
    files: Mapping[str, Path] | None = None,
    upstream: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """A stage's fingerprint and what went into it (for the record)."""
    parts: dict[str, Any] = {
        "stage": stage,
        "config": section,
        "files": {name: file_fingerprint(path) for name, path in sorted((files or {}).items())},
        "upstream": dict(sorted((upstream or {}).items())),
        "extra": dict(extra or {}),
    }
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest(), parts


@dataclass
class StageResult:
    """What one stage did.

    Attributes:
        name: the stage.
        status: ``ran``, ``skipped`` (unchanged fingerprint), ``failed`` or ``refused``.
        seconds: wall-clock time (0 when skipped).
        fingerprint: the stage's fingerprint.
        summary: a few numbers or words for the summary table.
    """

    name: str
    status: str
    seconds: float
    fingerprint: str
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class RunRecord:
    """``RUN/stages.json``: each stage's fingerprint, status, time and summary."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / STAGES_FILE
        self.stages: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                self.stages = dict(json.loads(self.path.read_text()).get("stages", {}))
            except (ValueError, OSError):
                self.stages = {}  # a damaged record: every stage runs again

    def fingerprint_of(self, stage: str) -> str | None:
        """The recorded fingerprint of a finished stage."""
        entry = self.stages.get(stage)
        return None if entry is None else entry.get("fingerprint")

    def unchanged(self, stage: str, print_: str, outputs: Sequence[Path]) -> bool:
        """Whether ``stage`` finished with fingerprint ``print_`` and its outputs exist."""
        entry = self.stages.get(stage)
        return (
            entry is not None
            and entry.get("fingerprint") == print_
            and entry.get("status") in (RAN, SKIPPED)
            and all(Path(p).exists() for p in outputs)
        )

    def store(self, result: StageResult, parts: Mapping[str, Any]) -> None:
        """Record a stage (atomically rewrites the file)."""
        self.stages[result.name] = {
            "fingerprint": result.fingerprint,
            "status": result.status,
            "seconds": round(result.seconds, 3),
            "summary": result.summary,
            "data": result.data,
            "inputs": parts,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.save()

    def forget(self, stage: str) -> None:
        """Drop a stage's record (it runs next time)."""
        if self.stages.pop(stage, None) is not None:
            self.save()

    def save(self) -> None:
        """Write the record."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with output_file(self.path) as tmp:
            tmp.write_text(json.dumps({"stages": self.stages}, indent=2, default=str) + "\n")


def run_stage(
    record: RunRecord,
    name: str,
    section: Any,
    work: Callable[[], tuple[str, dict[str, Any]]],
    *,
    outputs: Sequence[Path] = (),
    files: Mapping[str, Path] | None = None,
    upstream: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    rerun: bool = False,
    on_stage: Callable[[str, str], None] | None = None,
) -> StageResult:
    """Run ``work`` unless the stage's fingerprint is unchanged (then skip it).

    ``work()`` returns (summary, data); a failure is recorded (the stage runs next time) and
    re-raised. ``on_stage(name, event)`` reports ``start``, ``skip`` and ``done``.
    """
    print_, parts = fingerprint(name, section, files=files, upstream=upstream, extra=extra)
    if not rerun and record.unchanged(name, print_, outputs):
        old = record.stages[name]
        result = StageResult(
            name, SKIPPED, 0.0, print_, old.get("summary", ""), old.get("data", {})
        )
        record.store(result, parts)
        if on_stage is not None:
            on_stage(name, "skip")
        return result
    if on_stage is not None:
        on_stage(name, "start")
    start = time.perf_counter()
    try:
        summary, data = work()
    except BaseException:
        record.forget(name)
        raise
    result = StageResult(name, RAN, time.perf_counter() - start, print_, summary, data)
    record.store(result, parts)
    if on_stage is not None:
        on_stage(name, "done")
    return result
