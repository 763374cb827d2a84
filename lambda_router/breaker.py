"""A circuit breaker for the server, kept in the warm container (across invocations).

Closed: calls go through; ``failure_threshold`` consecutive failures (connection errors,
5xx, an unreachable ``/health``) open it, whether they happen in one invocation or spread
over several. An attempt that outlived its work-based timeout (a hang) opens it at once
(:meth:`trip`). Open: no call is made, events go straight to the queue, until ``cooldown``
seconds pass. Then it is half-open: exactly one caller gets to probe, and only the outcome
of a real direct call decides (a healthy ``/health`` is no proof that transcriptions
finish): success closes the breaker, failure re-opens it for another cool-down. A probe
that proved nothing (``/health`` or the call only said busy) is handed back
(:meth:`release`); one that never reports (its caller crashed) is given up after one more
cool-down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker"]

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._since = clock()  # when the present state (or the probe) began

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state

    @property
    def failures(self) -> int:
        with self._lock:
            return self._failures

    def allow(self) -> bool:
        """May a call be made now? In half-open state, True for the one probe only."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self.clock() - self._since < self.cooldown:
                return False
            # Open and cooled down, or a half-open probe that never reported: probe once.
            self._state = BreakerState.HALF_OPEN
            self._since = self.clock()
            log.info("circuit breaker half-open: one probe goes to the server")
            return True

    def record_success(self) -> None:
        with self._lock:
            if self._state is not BreakerState.CLOSED:
                log.info("circuit breaker closed: the server answered")
            self._state = BreakerState.CLOSED
            self._failures = 0

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            half_open = self._state is BreakerState.HALF_OPEN
            if half_open or self._failures >= self.failure_threshold:
                if self._state is not BreakerState.OPEN:
                    log.warning(
                        "circuit breaker open for %.1f s after %d consecutive failures",
                        self.cooldown,
                        self._failures,
                    )
                self._state = BreakerState.OPEN
                self._since = self.clock()

    def trip(self) -> None:
        """Open now, whatever the count: a call hung past the time its work should take."""
        with self._lock:
            self._failures = max(self._failures + 1, self.failure_threshold)
            if self._state is not BreakerState.OPEN:
                log.warning("circuit breaker open for %.1f s: a direct call hung", self.cooldown)
            self._state = BreakerState.OPEN
            self._since = self.clock()

    def release(self) -> None:
        """The half-open probe proved nothing (busy): the next caller may probe at once."""
        with self._lock:
            if self._state is BreakerState.HALF_OPEN:
                self._state = BreakerState.OPEN
                self._since = self.clock() - self.cooldown

    def reset(self) -> None:
        """Back to closed, e.g. when the server's URL changed (a new box)."""
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._since = self.clock()
