"""The key the router sends as ``Authorization: Bearer``.

``API_KEY`` when set (local mode, tests); else the first key of the SSM SecureString
``API_KEY_PARAMETER``, the same parameter the server reads its keys from
(``API_KEYS_PARAMETER``, step-320), so the key is never a plaintext Lambda environment
variable. The parameter is read (decrypted) at most once per ``API_KEY_TTL_SECONDS`` in a
warm container; if SSM fails, the last key read is kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_router.settings import RouterSettings

__all__ = ["ApiKeySource", "CachedParameter", "first_key"]

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


def first_key(value: str | None) -> str | None:
    """The first key of a comma- or newline-separated list (as the server reads it)."""
    keys = [k.strip() for k in (value or "").replace("\n", ",").split(",") if k.strip()]
    return keys[0] if keys else None


class ApiKeySource:
    def __init__(self, *, key: str | None, parameter: CachedParameter | None) -> None:
        self.key = key or None
        self.parameter = parameter

    @classmethod
    def from_settings(cls, settings: RouterSettings, ssm: Callable[[], Any]) -> ApiKeySource:
        parameter = None
        if settings.api_key_parameter and not settings.api_key:
            parameter = CachedParameter(
                settings.api_key_parameter, ssm, settings.api_key_ttl_seconds, decrypt=True
            )
        return cls(key=settings.api_key, parameter=parameter)

    def get(self) -> str | None:
        """The key to send, or ``None`` when there is none (the server then answers 401)."""
        if self.key or self.parameter is None:
            return self.key
        return first_key(self.parameter.get())
