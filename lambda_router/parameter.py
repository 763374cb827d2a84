"""An SSM parameter read at most once per TTL in a warm container.

The router reads two: the server's URL (``SERVER_URL_PARAMETER``) and its API key
(``API_KEY_PARAMETER``, a SecureString). Both keep their last value when SSM fails.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["CachedParameter"]

log = logging.getLogger(__name__)


class CachedParameter:
    """An SSM parameter's value, read at most once per ``ttl`` seconds (thread-safe).

    A failed read keeps the last value read for another ``ttl``; before the first success
    it returns ``None`` and the next ``get`` tries again.
    """

    def __init__(
        self,
        name: str,
        ssm: Callable[[], Any],
        ttl: float,
        *,
        decrypt: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.ssm = ssm  # builds (or returns) the SSM client; only called when needed
        self.ttl = ttl
        self.decrypt = decrypt
        self.clock = clock
        self._lock = threading.Lock()
        self._value: str | None = None
        self._read_at: float | None = None

    def get(self) -> str | None:
        with self._lock:
            if self._read_at is None or self.clock() - self._read_at >= self.ttl:
                try:
                    response = self.ssm().get_parameter(Name=self.name, WithDecryption=self.decrypt)
                    self._value = str(response["Parameter"]["Value"])
                except (ClientError, BotoCoreError) as error:
                    log.warning("cannot read SSM parameter %s: %s", self.name, error)
                    if self._value is None:
                        return None  # nothing known yet: the next call asks again
                self._read_at = self.clock()
            return self._value
