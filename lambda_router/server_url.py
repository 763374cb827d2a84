"""Where the server is: ``SERVER_URL``, or the SSM parameter ``SERVER_URL_PARAMETER``.

The parameter is read at most once per ``SERVER_URL_TTL_SECONDS`` in a warm container, so
a relaunched GPU box (a new address written to the parameter) is picked up without a
redeploy and without an SSM call per event. If SSM fails, the last known value is kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from lambda_router.parameter import CachedParameter

__all__ = ["ServerUrlSource"]

log = logging.getLogger(__name__)


class ServerUrlSource:
    def __init__(
        self,
        *,
        url: str | None,
        parameter: str | None,
        ssm: Callable[[], Any],
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = _valid(url, "SERVER_URL")
        self.parameter = CachedParameter(parameter, ssm, ttl, clock=clock) if parameter else None
        self._raw: str | None = None  # the parameter's value last seen, and what it gave
        self._known: str | None = None

    def get(self) -> str | None:
        """The server's base URL, or ``None`` when none is configured or known."""
        if self.url or self.parameter is None:
            return self.url
        raw = self.parameter.get()
        if raw != self._raw:  # validate (and log) once per new value, not once per event
            self._raw = raw
            self._known = _valid(raw, f"SSM parameter {self.parameter.name}") or self._known
        return self._known


def _valid(value: str | None, where: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        log.error("%s is not an http(s) URL: %r", where, value)
        return None
    return value.rstrip("/")
