"""Every error as JSON ``{"error": {"code", "message"}}`` with the right status.

The core's named errors map to statuses here, in one place: undecodable or empty audio →
415, audio too long → 413, S3 object missing → 404, malformed S3 path → 422, a bucket or an
output the request may not touch → 403, S3 refusing access → 403. Request
validation errors become 422 in the same shape. The ``openai`` client reads this shape too
(it shows ``error.message``).
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from fastapi_server.exceptions import ApiError
from transcription import exceptions as core
from transcription.aws_errors import error_code, is_access_denied
from transcription.diarization.exceptions import InvalidSpeakerCount

__all__ = ["error_response", "install", "status_of"]

log = logging.getLogger(__name__)

STORAGE_RETRY_AFTER = "5"

# The core's errors → HTTP status. Looked up along the class hierarchy (most specific first).
CORE_STATUS: dict[type[core.TranscriptionError], int] = {
    core.NotAudio: 415,
    core.EmptyAudio: 415,
    core.UnsupportedExtension: 415,
    core.AudioTooLong: 413,
    core.SourceMissing: 404,
    core.InvalidS3Uri: 422,
    core.UnknownLanguage: 422,
    core.UnsupportedLanguage: 422,
    core.UnknownModel: 422,
    InvalidSpeakerCount: 422,
    core.TargetNotAllowed: 403,
    core.StorageAccessDenied: 403,
    core.SourceChanged: 409,
    core.StorageUnavailable: 503,
    core.EngineError: 500,
}


# Public wording for undecodable input: PyAV's own message names the temp file.
AUDIO_MESSAGES = {
    core.NotAudio.code: "not a readable audio file (wav, mp3, m4a, ogg, opus, webm, flac)",
}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The error answer; refusals (4xx, 503) are counted by code in ``rejections``."""
    if status < 500 or status == 503:
        request.app.state.server.metrics.rejections.labels(code).inc()
    body = {"error": {"code": code, "message": message, **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(error: core.TranscriptionError) -> int:
    for cls in type(error).__mro__:
        if cls in CORE_STATUS:
            return CORE_STATUS[cls]
    return 500


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(request, error.status, error.code, error.message, error.headers)


async def _core_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, core.TranscriptionError)
    status = status_of(error)
    if status >= 500:
        log.error("%s: %s", error.code, error, exc_info=status == 500)
    else:
        log.info("refused: %s: %s", error.code, error)
    headers = {"Retry-After": STORAGE_RETRY_AFTER} if status == 503 else None
    message = AUDIO_MESSAGES.get(error.code, str(error))
    return error_response(request, status, error.code, message, headers)


async def _client_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ClientError)
    code = error_code(error)
    if is_access_denied(error):
        return error_response(request, 403, "s3_access_denied", f"S3 refused access: {code}")
    if code in {"NoSuchBucket"}:
        return error_response(request, 404, "bucket_missing", "the S3 bucket does not exist")
    log.error("S3 error %s: %s", code, error)
    return error_response(request, 502, "storage_error", f"S3 answered {code or 'an error'}")


async def _botocore_error(request: Request, error: Exception) -> JSONResponse:
    log.error("AWS unreachable: %s", error)
    return error_response(
        request, 503, "storage_unavailable", "S3 cannot be reached; retry later",
        {"Retry-After": STORAGE_RETRY_AFTER},
    )  # fmt: skip


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = []
    param = None
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body",))
        param = param or where or None
        problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", ""))
    return error_response(
        request, 422, "invalid_request", "; ".join(problems) or "invalid request", param=param
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
    code = codes.get(error.status_code, "http_error")
    headers = dict(error.headers or {})
    return error_response(request, error.status_code, code, str(error.detail), headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(core.TranscriptionError, _core_error)
    app.add_exception_handler(ClientError, _client_error)
    app.add_exception_handler(BotoCoreError, _botocore_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
