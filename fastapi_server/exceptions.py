"""Named errors of the server, each with its HTTP status and stable ``code``.

The core's own errors (:mod:`transcription.exceptions`) are mapped to statuses in
:mod:`fastapi_server.error_handlers`; these are the ones only the server raises.
"""

from __future__ import annotations

from collections.abc import Mapping

from transcription.exceptions import SettingsError, TranscriptionError

__all__ = [
    "ApiError",
    "InvalidRequest",
    "NoApiKeys",
    "NoSpeech",
    "NotForTheServer",
    "NotFound",
    "NotReady",
    "RateLimited",
    "ServerBusy",
    "Unauthorized",
    "UnsupportedContentType",
    "UploadTooLarge",
]


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with ``status``."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"

    def __init__(
        self, message: str = "a valid API key is required: Authorization: Bearer <key>"
    ) -> None:
        super().__init__(message, {"WWW-Authenticate": "Bearer"})


class NotFound(ApiError):
    status = 404
    code = "not_found"


class UploadTooLarge(ApiError):
    status = 413
    code = "upload_too_large"


class UnsupportedContentType(ApiError):
    status = 415
    code = "unsupported_content_type"


class InvalidRequest(ApiError):
    status = 422
    code = "invalid_request"


class NoSpeech(ApiError):
    """Language detection heard nothing to detect (every window silent)."""

    status = 422
    code = "no_speech"


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, round(seconds)))}


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: float, subject: str = "this API key") -> None:
        super().__init__(
            f"rate limit exceeded for {subject}; retry in {max(1, round(retry_after))} s",
            _retry_after(retry_after),
        )


class ServerBusy(ApiError):
    status = 503
    code = "server_busy"

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "every transcription slot is taken and the waiting line is full; retry later",
            _retry_after(retry_after),
        )


class NotReady(ApiError):
    status = 503
    code = "not_ready"

    def __init__(self, message: str = "the model is still loading", retry_after: float = 5) -> None:
        super().__init__(message, _retry_after(retry_after))


class NoApiKeys(SettingsError):
    """No API key is configured and ALLOW_ANONYMOUS is not set: the server refuses to start."""

    code = "no_api_keys"


class NotForTheServer(TranscriptionError):
    """A queued job only a batch worker does (a translation, a model not in MODELS): the
    draining server returns it to the queue (see :mod:`fastapi_server.drain`). Never an answer."""

    code = "not_for_the_server"
