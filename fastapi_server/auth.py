"""Bearer API keys, compared in constant time.

Keys come from ``API_KEYS`` (comma-separated) and, when ``API_KEYS_PARAMETER`` names one,
from an SSM SecureString parameter (comma- or newline-separated), read once at start (a
parameter that does not exist adds no keys, with a warning). With
no key at all the server refuses to start, unless ``ALLOW_ANONYMOUS=true`` is set explicitly;
then it warns at every start and serves anyone who can reach it.

A key is never logged: requests are labelled with a short hash of it (``key_id``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from fastapi_server.exceptions import NoApiKeys
from fastapi_server.settings import ServerSettings
from transcription.aws_errors import error_code
from transcription.exceptions import SettingsError
from transcription.settings import PLACEHOLDERS

__all__ = ["ANONYMOUS", "KeyRing", "key_id", "load_keys"]

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
SHORT_KEY = 16  # keys shorter than this are accepted but warned about


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def key_id(key: str) -> str:
    """A short, stable label for ``key`` that is safe to log and to use as a metric label."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class KeyRing:
    """The accepted keys. ``identify`` compares digests, so timing says nothing of a key."""

    def __init__(self, keys: Iterable[str], allow_anonymous: bool = False) -> None:
        self._digests = {_digest(k): key_id(k) for k in keys}
        self.anonymous = allow_anonymous and not self._digests

    def __len__(self) -> int:
        return len(self._digests)

    def identify(self, token: str | None) -> str | None:
        """The ``key_id`` of ``token`` if it is a valid key, else ``None``."""
        if token is None:
            return None
        digest = _digest(token)
        found = None
        for known, ident in self._digests.items():  # no early exit: every key is compared
            if hmac.compare_digest(digest, known):
                found = ident
        return found


def load_keys(settings: ServerSettings, ssm: Callable[[], Any]) -> KeyRing:
    """Build the key ring; raises :class:`NoApiKeys` when the server must not start."""
    keys = [k for k in settings.api_keys if k]
    if settings.api_keys_parameter:
        keys += _parameter_keys(ssm(), settings.api_keys_parameter)
    for key in keys:
        if key.lower() in PLACEHOLDERS:
            raise SettingsError(f"{settings.api_keys_parameter} holds a placeholder API key")
        if len(key) < SHORT_KEY:
            log.warning("an API key (id %s) is shorter than %d characters", key_id(key), SHORT_KEY)
    if not keys and not settings.allow_anonymous:
        raise NoApiKeys(
            "no API key configured: set API_KEYS (or API_KEYS_PARAMETER), "
            "or ALLOW_ANONYMOUS=true to serve without authentication"
        )
    ring = KeyRing(keys, settings.allow_anonymous)
    if ring.anonymous:
        log.warning(
            "ALLOW_ANONYMOUS=true and no API key configured: every endpoint is open to "
            "anyone who can reach %s:%s",
            settings.host,
            settings.port,
        )
    elif settings.allow_anonymous:
        log.info("ALLOW_ANONYMOUS is set but API keys are configured: keys are required")
    log.info("API keys loaded: %d", len(ring))
    return ring


def _parameter_keys(ssm: Any, name: str) -> list[str]:
    """The keys in SecureString ``name``; none (with a warning) when it does not exist.

    A missing parameter only narrows what is accepted (fail closed): with no key left at
    all, the server still refuses to start. Any other failure (access denied, unreachable)
    stops the start, so a misconfiguration is not mistaken for "no keys there".
    """
    try:
        value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as error:
        code = error_code(error)
        if code == "ParameterNotFound":
            log.warning("API_KEYS_PARAMETER %s does not exist; it adds no keys", name)
            return []
        raise SettingsError(
            f"API_KEYS_PARAMETER={name!r} cannot be read: {code or error}"
        ) from None
    return [k.strip() for k in str(value).replace("\n", ",").split(",") if k.strip()]
