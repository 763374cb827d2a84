"""A small HTTP client on the standard library (urllib): no dependency, fast cold start.

:class:`UrllibTransport` returns every HTTP answer, whatever its status, and raises
:class:`TransportError` only when there is no answer: connection refused or reset, DNS
failure, or a timeout (``timed_out``). Redirects are never followed: a 3xx is returned as
it is (the caller treats it as a failure), so the ``Authorization`` header never goes to
another address.
"""

from __future__ import annotations

import email.utils
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPException
from typing import Any, Protocol

__all__ = ["HttpResponse", "Transport", "TransportError", "UrllibTransport", "retry_after_seconds"]

USER_AGENT = "transcription-lambda-router/1"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON; ``None`` when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


class TransportError(Exception):
    """No HTTP answer: the server could not be reached, or did not answer in time."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class Transport(Protocol):
    def __call__(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand a 3xx back as an answer (``HTTPError``) instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class UrllibTransport:
    """:class:`Transport` over ``urllib.request``; the timeout applies to connect and each read."""

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(_NoRedirect())

    def __call__(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        request = urllib.request.Request(
            url, data=body, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})}
        )
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return HttpResponse(response.status, response.read(), dict(response.headers))
        except urllib.error.HTTPError as error:
            with error:
                return HttpResponse(error.code, _read_error_body(error), dict(error.headers or {}))
        except urllib.error.URLError as error:
            reason = error.reason
            timed_out = isinstance(reason, TimeoutError)
            raise TransportError(f"{method} {url}: {reason}", timed_out=timed_out) from None
        except TimeoutError as error:
            raise TransportError(f"{method} {url}: timed out ({error})", timed_out=True) from None
        except (ConnectionError, HTTPException, OSError) as error:
            raise TransportError(f"{method} {url}: {error!r}") from None


def _read_error_body(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except (OSError, HTTPException):
        return b""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; ``None`` if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)
