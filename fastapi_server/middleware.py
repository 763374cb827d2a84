"""Request middleware (pure ASGI): request id, access log, request metrics, last-resort 500.

Every response carries ``X-Request-ID`` (the client's own if it sent a sane one, else a new
one) and every log line written while the request runs carries ``request_id`` (through
:func:`transcription.logging.log_context`; worker threads inherit it).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_server.metrics import Metrics
from transcription.logging import log_context

__all__ = ["REQUEST_ID_HEADER", "RequestMiddleware"]

log = logging.getLogger("fastapi_server.access")

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UNMATCHED = "unmatched"


def request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SANE_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("unhandled error")
                if response_started:
                    raise
                await _send_internal_error(send_with_id)
            finally:
                self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", _UNMATCHED)
        method = scope.get("method", "")
        self.metrics.requests.labels(method, template, str(status)).inc()
        self.metrics.latency.labels(method, template).observe(seconds)
        if template != "/health" or status != 200:  # probes would drown the log
            log.info(
                "%s %s %s",
                method,
                scope.get("path", ""),
                status,
                extra={"fields": _access_fields(method, template, status, seconds)},
            )


def _access_fields(method: str, route: str, status: int, seconds: float) -> dict[str, Any]:
    return {"method": method, "route": route, "status": status, "ms": round(seconds * 1000, 1)}


async def _send_internal_error(send: Send) -> None:
    body = json.dumps(
        {"error": {"code": "internal_error", "message": "an unexpected error; see the server log"}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
