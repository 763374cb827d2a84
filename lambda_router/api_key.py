"""The key the router sends as ``Authorization: Bearer``.

``API_KEY`` when set (local mode, tests); else the first key of the SSM SecureString
``API_KEY_PARAMETER``, the same parameter the server reads its keys from
(``API_KEYS_PARAMETER``, step-320), so the key is never a plaintext Lambda environment
variable. The parameter is read (decrypted) at most once per ``API_KEY_TTL_SECONDS`` in a
warm container; if SSM fails, the last key read is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambda_router.parameter import CachedParameter
from lambda_router.settings import RouterSettings

__all__ = ["ApiKeySource", "first_key"]


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
