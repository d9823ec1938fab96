"""A small circuit breaker: while a dependency is down, calls fail at once instead of waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed -> open after ``threshold`` consecutive failures; open for ``cooldown_s``; then one
    probe decides.

    While open, :meth:`allow` is False and the caller answers without touching the dependency, so a
    dead Redis costs each request nothing instead of a timeout. After ``cooldown_s`` one caller is
    allowed through (half-open); its success closes the breaker, its failure re-opens it. Recovery
    is therefore noticed within ``cooldown_s`` plus one call. A threshold above 1 keeps one slow
    answer (a CPU hiccup) from sending a whole cooldown's traffic to the fallback.
    """

    def __init__(
        self,
        cooldown_s: float,
        threshold: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cooldown_s = cooldown_s
        self.threshold = threshold
        self._streak = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._failed = False
        self._probing = False
        self._probe_started = 0.0

    @property
    def is_open(self) -> bool:
        """True while failing fast (a dependency failure was seen and not yet cleared)."""
        return self._failed

    def allow(self) -> bool:
        """Whether a call may go to the dependency now."""
        if not self._failed:
            return True
        with self._lock:
            now = self._clock()
            # a probe that never reported back (cancelled) must not block recovery forever
            probe_pending = self._probing and now < self._probe_started + self.cooldown_s
            if probe_pending or now < self._open_until:
                return False
            self._probing = True
            self._probe_started = now
            return True

    def success(self) -> None:
        """Record a successful call: close the breaker."""
        self._streak = 0
        if self._failed:
            with self._lock:
                self._failed = False
                self._probing = False

    def failure(self) -> None:
        """Record a failed call: open (or re-open) for ``cooldown_s`` once the streak is long
        enough (a failed probe re-opens at once)."""
        with self._lock:
            self._streak += 1
            if self._streak < self.threshold and not self._failed:
                return
            self._failed = True
            self._probing = False
            self._open_until = self._clock() + self.cooldown_s
