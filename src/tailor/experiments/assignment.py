"""Deterministic assignment: (salt, unit id) -> a bucket in [0, 1) -> a variant.

``bucket = blake2b(salt + "\\x1f" + unit) / 2**64`` (:func:`tailor.random.stable_hash`: the
same in every process, machine and Python version; never Python's ``hash()``, which is salted
per process). A unit is enrolled when ``bucket < traffic``; its variant is the first whose
cumulative weight exceeds ``bucket / traffic``. The same unit always gets the same variant of
the same experiment, and a new salt reshuffles everybody.

The unit (the stickiness rule, docs/experiments.md): the **user id** when the caller knows one
(a signed-in customer: the same variant on every device), else the **session id**. A session
that later signs in is asked for under the user id from then on, so it moves to the user's
variant; its earlier, anonymous lists stay counted under the session's variant (they were
shown), and the analysis joins the two ids only through an event that carries both
(:func:`tailor.experiments.analysis.visitor_map`).

This is the server's hot path: one hash and a few comparisons, no I/O.
"""

from __future__ import annotations

import bisect
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from tailor.experiments.config import Experiment, Status, Variant
from tailor.random import stable_hash

_SCALE = float(2**64)


def bucket(salt: str, unit: str) -> float:
    """The unit's place in [0, 1) for ``salt``."""
    return stable_hash(salt, unit) / _SCALE


def unit_of(user_id: str | None, session_id: str | None) -> str:
    """The id a visitor is assigned by: the user id when there is one, else the session id.

    Raises:
        ValueError: neither is given.
    """
    if user_id:
        return user_id
    if session_id:
        return session_id
    raise ValueError("give a user id or a session id")


@dataclass(frozen=True, slots=True)
class Assignment:
    """A unit's experiment and variant."""

    experiment: Experiment
    variant: Variant

    @property
    def label(self) -> str:
        """``experiment:variant`` (what a ``recommendation_id`` ends with)."""
        return f"{self.experiment.name}:{self.variant.name}"


class Splitter:
    """One experiment's split, with everything the hot path needs precomputed (the salt's
    bytes, the cumulative weights, the running window as epoch seconds)."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        edges = list(accumulate(experiment.weights))
        edges[-1] = 1.0  # no unit falls past the last edge by rounding
        self._edges = edges
        self._variants = experiment.variants
        self._last = len(edges) - 1
        self._traffic = experiment.traffic
        self._prefix = f"{experiment.salt}\x1f".encode()  # stable_hash(salt, unit)'s bytes
        self._on = experiment.status == "running"
        self._start = experiment.start.timestamp() if experiment.start else float("-inf")
        self._stop = experiment.stop.timestamp() if experiment.stop else float("inf")

    def running(self, now_s: float) -> bool:
        """Whether it assigns at epoch seconds ``now_s``."""
        return self._on and self._start <= now_s < self._stop

    def bucket(self, unit: str) -> float:
        """:func:`bucket` of the experiment's salt (the same value, fewer steps)."""
        digest = hashlib.blake2b(self._prefix + unit.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") / _SCALE

    def variant(self, unit: str) -> Variant | None:
        """The unit's variant; None when the unit is not enrolled (``traffic`` < 1)."""
        u = self.bucket(unit)
        if u >= self._traffic:
            return None
        index = bisect.bisect_right(self._edges, u / self._traffic)
        return self._variants[min(index, self._last)]


class Assigner:
    """Assigns units over the running experiments: the first running experiment (in declared
    order) that enrolls the unit decides (run experiments that must not overlap with
    ``traffic`` shares, or one at a time)."""

    def __init__(self, experiments: Sequence[Experiment]) -> None:
        self.splitters = [Splitter(e) for e in experiments]

    def __bool__(self) -> bool:
        return bool(self.splitters)

    @property
    def experiments(self) -> list[Experiment]:
        """The experiments, in the order they are tried."""
        return [s.experiment for s in self.splitters]

    def versions(self, name: str | None = None) -> set[str]:
        """Model versions named by variants of experiments not stopped (of ``name`` only,
        when given)."""
        return {
            v.version
            for e in self.experiments
            if (e.name == name if name is not None else e.status != "stopped")
            for v in e.variants
            if v.version is not None
        }

    def set_status(self, name: str, status: Status) -> Experiment:
        """Start (``running``) or stop (``stopped``) the experiment ``name`` in this process
        (one reference swap; requests in flight keep the split they read).

        Raises:
            KeyError: no experiment is called ``name``.
        """
        for index, splitter in enumerate(self.splitters):
            if splitter.experiment.name == name:
                changed = splitter.experiment.model_copy(update={"status": status})
                splitters = list(self.splitters)
                splitters[index] = Splitter(changed)
                self.splitters = splitters
                return changed
        raise KeyError(name)

    def assign(self, unit: str, now_s: float | None = None) -> Assignment | None:
        """The unit's assignment at ``now_s`` (default: now); None outside every experiment."""
        if not self.splitters:
            return None
        now = time.time() if now_s is None else now_s
        for splitter in self.splitters:
            if splitter.running(now):
                variant = splitter.variant(unit)
                if variant is not None:
                    return Assignment(splitter.experiment, variant)
        return None

    def assign_visitor(
        self, user_id: str | None, session_id: str | None, now_s: float | None = None
    ) -> Assignment | None:
        """The assignment of a visitor by the stickiness rule (:func:`unit_of`)."""
        return self.assign(unit_of(user_id, session_id), now_s)


RECOMMENDATION_ID = r"^[^:]+:(?P<experiment>[^:]+):(?P<variant>[^:]+)$"
"""A ``recommendation_id`` served in an experiment: ``HEX:EXPERIMENT:VARIANT`` (named groups
``experiment`` and ``variant``)."""


def split_recommendation_id(recommendation_id: str) -> tuple[str | None, str | None]:
    """(experiment, variant) carried by a ``recommendation_id`` (``HEX:EXPERIMENT:VARIANT``),
    (None, None) for a list served outside any experiment."""
    parts = recommendation_id.split(":")
    if len(parts) != 3:
        return None, None
    return parts[1], parts[2]
