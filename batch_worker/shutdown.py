"""Stopping on SIGTERM (spot interruption, redeploy) or SIGINT without losing a job.

The first signal asks the worker to stop: it receives nothing more, returns the jobs it had
prefetched to the queue at once, and lets the running job finish within
``SHUTDOWN_GRACE_SECONDS``. When the grace period runs out, every message still held goes
back to the queue (visibility 0) and the worker exits. A second signal ends the grace
period at once. A message is deleted only after its transcript is written, so a stop at
any moment leaves each job either finished or back in the queue.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

__all__ = ["Shutdown", "handle_signals"]

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Shutdown:
    """A stop request and its grace deadline, shared by the worker's threads."""

    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self.requested = threading.Event()
        self._deadline: float | None = None
        self._lock = threading.Lock()

    def request(self, why: str = "requested", within: float | None = None) -> None:
        """Stop receiving now; the grace period starts (a second request ends it).

        ``within`` shortens the grace period to that many seconds from now (a Spot notice
        leaves less time than ``SHUTDOWN_GRACE_SECONDS``); a request with ``within`` never
        lengthens a grace period already running, and does not end it either.
        """
        with self._lock:
            now = time.monotonic()
            if self._deadline is None or within is not None:
                grace = self.grace_seconds if within is None else min(within, self.grace_seconds)
                current = math.inf if self._deadline is None else self._deadline
                self._deadline = min(now + max(0.0, grace), current)
                log.info(
                    "stopping (%s): finishing the running job within %.0f s",
                    why,
                    self._deadline - now,
                )
            else:
                self._deadline = now
                log.info("stopping (%s) again: giving up the running job now", why)
            self.requested.set()

    def expired(self) -> bool:
        with self._lock:
            return self._deadline is not None and time.monotonic() >= self._deadline


@contextlib.contextmanager
def handle_signals(shutdown: Shutdown) -> Iterator[None]:
    """SIGTERM and SIGINT request a stop while the block runs (main thread only)."""

    def on_signal(number: int, _frame: FrameType | None) -> None:
        shutdown.request(signal.Signals(number).name)

    previous = {number: signal.signal(number, on_signal) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
