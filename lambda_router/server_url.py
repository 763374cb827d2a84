"""Where the server is: ``SERVER_URL``, or the SSM parameter ``SERVER_URL_PARAMETER``.

The parameter is read at most once per ``SERVER_URL_TTL_SECONDS`` in a warm container, so
a relaunched GPU box (a new address written to the parameter) is picked up without a
redeploy and without an SSM call per event. If SSM fails, the last known value is kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

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
        self.parameter = parameter or None
        self.ssm = ssm  # builds (or returns) the SSM client; only called when needed
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: str | None = None
        self._read_at: float | None = None

    def get(self) -> str | None:
        """The server's base URL, or ``None`` when none is configured or known."""
        if self.url or not self.parameter:
            return self.url
        with self._lock:
            if self._read_at is not None and self.clock() - self._read_at < self.ttl:
                return self._cached
            self._cached = self._read(self._cached)
            self._read_at = self.clock()
            return self._cached

    def _read(self, stale: str | None) -> str | None:
        try:
            response = self.ssm().get_parameter(Name=self.parameter)
        except (ClientError, BotoCoreError) as error:
            log.warning("cannot read SSM parameter %s: %s", self.parameter, error)
            return stale
        return _valid(response["Parameter"]["Value"], f"SSM parameter {self.parameter}") or stale


def _valid(value: str | None, where: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        log.error("%s is not an http(s) URL: %r", where, value)
        return None
    return value.rstrip("/")
