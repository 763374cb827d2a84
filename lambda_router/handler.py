"""The Lambda entry point: parse the event, route each object, return the results.

``lambda_handler`` keeps one :class:`~lambda_router.router.Router` per warm container
(settings, AWS clients, the server's address, health cache and circuit breaker). The
work is in :meth:`Router.route`; :func:`handle` is the same thing with any router.

Returns ``[{"route", "reason", "output_key", "attempts", "elapsed_ms", ...}, ...]``, one
per object. Raises (so Lambda retries and finally keeps the event in its on-failure
destination) when the event cannot be read or the queue cannot be reached.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from lambda_router.deadline import Deadline
from lambda_router.events import parse_event
from lambda_router.router import Router
from lambda_router.settings import RouterSettings
from transcription.logging import configure, log_context
from transcription.settings import load

__all__ = ["get_router", "handle", "lambda_handler", "reset_router"]

log = logging.getLogger(__name__)

SERVICE = "lambda-router"

_router: Router | None = None
_lock = threading.Lock()


def lambda_handler(event: dict[str, Any], context: Any) -> list[dict[str, Any]]:
    return handle(get_router(), event, context)


def handle(router: Router, event: Any, context: Any) -> list[dict[str, Any]]:
    deadline = Deadline.from_context(context)
    objects = parse_event(
        event, eventbridge_keys_encoded=router.settings.keys_encoded_in_eventbridge
    )
    results: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    with log_context(request_id=getattr(context, "aws_request_id", None)):
        for obj in objects:
            identity = (obj.bucket, obj.key, obj.etag or "")
            if obj.etag and identity in seen:
                results.append(router.duplicate(obj))  # the same upload twice in one batch
                continue
            seen.add(identity)
            results.append(router.route(obj, deadline))
    return results


def get_router() -> Router:
    """The warm container's router, built on the first (cold) invocation."""
    global _router
    with _lock:
        if _router is None:
            if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # in Lambda: JSON log lines
                configure(SERVICE)
            _router = Router.from_settings(load(RouterSettings))
        return _router


def reset_router() -> None:
    """Forget the warm router (tests, and the pump after its settings changed)."""
    global _router
    with _lock:
        _router = None
