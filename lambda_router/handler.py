"""The Lambda entry point: parse the event, route each object, return the results.

``lambda_handler`` keeps one :class:`~lambda_router.router.Router` per warm container
(settings, AWS clients, the server's address, health cache and circuit breaker): it is
built on the first invocation and never rebuilt, so the breaker counts failures across
invocations. The work is in :meth:`Router.route`; :func:`handle` is the same thing with any
router.

Each record of a batch is read and routed on its own: a malformed one gets a ``failed``
result (reason ``malformed_record``) and the others go on. Returns ``[{"route", "reason",
"output_key", "attempts", "elapsed_ms", ...}, ...]``, one per object; for an SQS batch
(Lambda's SQS event source with ``ReportBatchItemFailures``) ``{"batchItemFailures":
[{"itemIdentifier": messageId}], "results": [...]}``, naming only the records to retry:
the malformed ones, and the ones not routed because S3 or the queue could not be reached.
Outside an SQS batch, an unreachable queue or S3 raises (so Lambda retries and finally
keeps the event in its on-failure destination), as does an event that cannot be read at all.

With the managed overflow on, the same function takes EventBridge's "Transcribe Job State
Change" events: the collector writes the completed job's transcript
(:class:`~transcription.managed.Collector`); the result is ``[{"route": "managed",
"reason": <written | exists | pending | failed | unknown>, ...}]``.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from lambda_router.deadline import Deadline
from lambda_router.events import EventRecord, parse_records
from lambda_router.exceptions import EnqueueFailed, MalformedEvent
from lambda_router.router import Router
from lambda_router.settings import RouterSettings
from transcription.exceptions import StorageUnavailable
from transcription.logging import configure, log_context
from transcription.settings import load

__all__ = ["Handled", "get_router", "handle", "lambda_handler", "process", "reset_router"]

log = logging.getLogger(__name__)

SERVICE = "lambda-router"
TRANSIENT = (EnqueueFailed, StorageUnavailable)  # worth a retry of the record

_router: Router | None = None
_lock = threading.Lock()


@dataclass
class Handled:
    """What one invocation did: a result per object, and the SQS records to retry."""

    results: list[dict[str, Any]] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)  # messageIds
    sqs_batch: bool = False

    def response(self) -> list[dict[str, Any]] | dict[str, Any]:
        if not self.sqs_batch:
            return self.results
        failures = [{"itemIdentifier": message_id} for message_id in self.retry]
        return {"batchItemFailures": failures, "results": self.results}


def lambda_handler(event: dict[str, Any], context: Any) -> list[dict[str, Any]] | dict[str, Any]:
    return process(get_router(), event, context).response()


def handle(router: Router, event: Any, context: Any) -> list[dict[str, Any]]:
    """The results of :func:`process` (tests and scripts that need no batch response)."""
    return process(router, event, context).results


def process(router: Router, event: Any, context: Any) -> Handled:
    if router.collector is not None and isinstance(event, dict):
        collected = router.collector.collect_event(event)
        if collected is not None:
            result = {"route": "managed", "reason": collected.outcome, **asdict(collected)}
            return Handled(results=[result])
    deadline = Deadline.from_context(context)
    records = parse_records(
        event, eventbridge_keys_encoded=router.settings.keys_encoded_in_eventbridge
    )
    handled = Handled(sqs_batch=any(r.from_sqs for r in records))
    seen: set[tuple[str, str, str]] = set()
    with log_context(request_id=getattr(context, "aws_request_id", None)):
        for index, record in enumerate(records):
            if record.error is not None:
                _malformed(router, record, handled)
                continue
            try:
                _route_record(router, record, deadline, seen, handled)
            except TRANSIENT as error:
                if not record.from_sqs or not record.message_id:
                    raise
                rest = [r.message_id for r in records[index:] if r.message_id]
                log.error("%s: %d record(s) left for a retry", error, len(rest))
                handled.retry += rest
                break
    if handled.sqs_batch and any(r.from_sqs and not r.message_id for r in records if r.error):
        raise MalformedEvent("a malformed SQS record has no messageId: the batch must be retried")
    return handled


def _route_record(
    router: Router,
    record: EventRecord,
    deadline: Deadline,
    seen: set[tuple[str, str, str]],
    handled: Handled,
) -> None:
    for obj in record.objects:
        identity = (obj.bucket, obj.key, obj.etag or "")
        if obj.etag and identity in seen:
            handled.results.append(router.duplicate(obj))  # the same upload twice in one batch
            continue
        seen.add(identity)
        handled.results.append(router.route(obj, deadline))


def _malformed(router: Router, record: EventRecord, handled: Handled) -> None:
    log.error(
        "malformed record: %s",
        record.error,
        extra={"fields": {"event_message_id": record.message_id}},
    )
    handled.results.append(router.malformed(record.error or "", record.message_id))
    if record.message_id:
        handled.retry.append(record.message_id)


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
