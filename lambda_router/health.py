"""The server's health, asked with one short ``GET /health`` and kept for a few seconds.

The answer is cached per server URL in the warm container (``HEALTH_CACHE_SECONDS``), so a
burst of uploads costs one health request, not one each. What the direct call learns
(the server said busy, or could not be reached) updates the cache too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lambda_router.transport import Transport, TransportError

__all__ = ["Health", "HealthClient", "HealthState"]

log = logging.getLogger(__name__)


class HealthState(StrEnum):
    READY = "ready"  # ready and not busy: call it
    BUSY = "busy"  # up, but at capacity
    NOT_READY = "not_ready"  # up, still loading its model (503)
    DOWN = "down"  # no answer, a timeout, or an unexpected status


@dataclass(frozen=True)
class Health:
    state: HealthState
    detail: str = ""
    cached: bool = False

    @property
    def counts_against_server(self) -> bool:
        """What the circuit breaker counts as a failure."""
        return self.state in (HealthState.DOWN, HealthState.NOT_READY)


class HealthClient:
    def __init__(
        self,
        transport: Transport,
        *,
        timeout: float,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._cache: dict[str, tuple[float, Health]] = {}
        self._lock = threading.Lock()

    def check(self, server_url: str, *, fresh: bool = False) -> Health:
        """The cached answer if it is recent enough (and ``fresh`` is false), else ask."""
        if not fresh:
            with self._lock:
                entry = self._cache.get(server_url)
            if entry is not None and self.clock() - entry[0] < self.cache_seconds:
                return Health(entry[1].state, entry[1].detail, cached=True)
        health = self._ask(server_url)
        self.remember(server_url, health)
        return health

    def remember(self, server_url: str, health: Health) -> None:
        with self._lock:
            self._cache[server_url] = (self.clock(), health)

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def _ask(self, server_url: str) -> Health:
        url = server_url.rstrip("/") + "/health"
        try:
            response = self.transport("GET", url, timeout=self.timeout)
        except TransportError as error:
            log.warning("health check failed: %s", error)
            return Health(HealthState.DOWN, str(error))
        if response.status == 503:
            return Health(HealthState.NOT_READY, "HTTP 503: not ready")
        if response.status != 200:
            return Health(HealthState.DOWN, f"HTTP {response.status} from /health")
        return interpret(response.json())


def interpret(answer: Any) -> Health:
    """``{"ready", "busy", "in_flight", "capacity", ...}`` → a state."""
    if not isinstance(answer, dict):
        return Health(HealthState.DOWN, "/health did not answer a JSON object")
    if answer.get("ready") is False:
        return Health(HealthState.NOT_READY, "ready: false")
    busy = answer.get("busy")
    if busy is None:
        in_flight, capacity = answer.get("in_flight"), answer.get("capacity")
        busy = isinstance(in_flight, int) and isinstance(capacity, int) and in_flight >= capacity
    if busy:
        detail = f"busy: {answer.get('in_flight')} in flight of {answer.get('capacity')}"
        return Health(HealthState.BUSY, detail)
    return Health(HealthState.READY)
