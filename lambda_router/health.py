"""The server's health, asked with one short ``GET /health`` and kept for a few seconds.

The answer is cached per server URL in the warm container (``HEALTH_CACHE_SECONDS``), and
at most one request per URL is in flight: concurrent events wait for its answer instead of
asking too (single flight), so a burst of uploads costs one health request, not one each.
What the direct call learns (the server said busy, or could not be reached) updates the
cache too. The server's reported speed (``realtime_factor``: processing ÷ audio seconds)
is kept per URL beyond the cache, for the attempt timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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
    cached: bool = False  # not this caller's own request: a cached or shared answer
    realtime_factor: float | None = None  # the server's processing ÷ audio seconds

    @property
    def counts_against_server(self) -> bool:
        """What the circuit breaker counts as a failure."""
        return self.state in (HealthState.DOWN, HealthState.NOT_READY)


@dataclass
class _Flight:
    """The one health request in flight for a URL, and its answer once it came."""

    done: threading.Event = field(default_factory=threading.Event)
    health: Health | None = None


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
        self._speed: dict[str, float] = {}
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()

    def check(self, server_url: str) -> Health:
        """The cached answer if it is recent enough, the answer in flight, or a new one."""
        with self._lock:
            entry = self._cache.get(server_url)
            if entry is not None and self.clock() - entry[0] < self.cache_seconds:
                return replace(entry[1], cached=True)
            flight = self._flights.get(server_url)
            if flight is None:
                flight = self._flights[server_url] = _Flight()
                leader = True
            else:
                leader = False
        if not leader:
            # The leader's request ends within its timeout (connect, then read).
            if flight.done.wait(2 * self.timeout + 1) and flight.health is not None:
                return replace(flight.health, cached=True)
            return Health(HealthState.DOWN, "the health request in flight did not end", True)
        health = Health(HealthState.DOWN, "health check failed")
        try:
            health = self._ask(server_url)
        finally:
            with self._lock:
                self._cache[server_url] = (self.clock(), health)
                if health.realtime_factor is not None:
                    self._speed[server_url] = health.realtime_factor
                self._flights.pop(server_url, None)
            flight.health = health
            flight.done.set()
        return health

    def speed(self, server_url: str) -> float | None:
        """The server's last reported realtime factor (``None`` until it reported one)."""
        with self._lock:
            return self._speed.get(server_url)

    def remember(self, server_url: str, health: Health) -> None:
        with self._lock:
            self._cache[server_url] = (self.clock(), health)

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
            self._speed.clear()

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
    factor = _positive(answer.get("realtime_factor"))
    if busy:
        detail = f"busy: {answer.get('in_flight')} in flight of {answer.get('capacity')}"
        return Health(HealthState.BUSY, detail, realtime_factor=factor)
    return Health(HealthState.READY, realtime_factor=factor)


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)
