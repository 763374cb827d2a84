"""Every error as JSON ``{"error": {"code", "message", "field"?}}`` with its status.

The jobs API's named errors carry their status; request validation errors are 422 naming
the first field at fault (``items.3.audio_url``); malformed JSON, or a body that is not
text, is 422 naming ``body``. A 405 lists in ``Allow`` every method the path has.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from jobs_api.exceptions import ApiError, JobsError

__all__ = ["error_response", "install"]

log = logging.getLogger(__name__)

RETRY_AFTER_UNAVAILABLE = "5"


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field:
        detail["field"] = field
    return JSONResponse({"error": detail}, status_code=status, headers=headers)


async def _jobs_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, JobsError)
    if isinstance(error, ApiError):
        return error_response(
            error.status, error.code, error.message, field=error.field, headers=error.headers
        )
    if error.status >= 500:
        log.error("%s: %s", error.code, error, exc_info=error.status == 500)
    headers = {"Retry-After": RETRY_AFTER_UNAVAILABLE} if error.status == 503 else None
    message = str(error) if error.status < 500 else f"{error.code}: retry later"
    return error_response(error.status, error.code, message, headers=headers)


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts[:1] in (["body"], ["query"], ["path"], ["header"]):
        parts = parts[1:] if len(parts) > 1 else parts
    return ".".join(parts) or "body"


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = list(error.errors())
    first = problems[0] if problems else {}
    field = _field_of(tuple(first.get("loc", ())))
    if first.get("type") == "json_invalid":
        field = "body"
    messages = [
        f"{_field_of(tuple(p.get('loc', ())))}: {p.get('msg', 'invalid')}" for p in problems
    ]
    return error_response(422, "invalid_request", "; ".join(messages[:5]), field=field)


def _allowed_methods(request: Request) -> str:
    """Every method of every route on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
    headers = dict(error.headers or {})
    if error.status_code == 400:  # FastAPI's answer to a body it cannot read (not UTF-8…)
        return error_response(422, "invalid_request", str(error.detail), field="body")
    if error.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return error_response(
        error.status_code,
        codes.get(error.status_code, "http_error"),
        str(error.detail),
        headers=headers,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(JobsError, _jobs_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
