"""The Lambda entry points: the API behind a function URL, the tracker, the webhook sender.

The API runs through Mangum, not the AWS Lambda Web Adapter. Mangum is a small pure-Python
ASGI adapter, shipped in the zip like the router's code, that turns a function URL's event
(payload format 2.0) into an ASGI request for the FastAPI app inside the handler's own
process: no extension or layer to deploy, no second web server started per cold start and no
localhost proxy hop per request, and the same zip runs under plain ``python3.12`` Lambda
runtimes. The Web Adapter suits apps that must keep running their own server (a container
image with uvicorn); this app does not need to. The app and every client are built on the
first invocation and reused while the container is warm.

- ``api_handler``: Mangum around :func:`jobs_api.main.create_app`, with Mangum's lifespan
  off (it would run the app's start-up on every invocation): the bootstrap admin key is
  stored once, at the cold start (:func:`jobs_api.main.store_bootstrap_key`);
- ``tracker_handler``: EventBridge ``Object Created`` events of result objects, or an SQS
  batch of them (``batchItemFailures`` names the records to retry);
- ``webhook_handler``: the delivery queue's SQS batches; a failed attempt stays on the queue
  (hidden for its backoff) through ``batchItemFailures``.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from mangum import Mangum

from jobs_api.exceptions import JobsError
from jobs_api.main import create_app, store_bootstrap_key
from jobs_api.settings import JobsSettings
from jobs_api.tracker import Tracker, build_tracker
from jobs_api.webhooks.sender import WebhookSender, build_sender
from transcription.logging import configure
from transcription.settings import load

__all__ = ["api_handler", "tracker_handler", "webhook_handler"]

log = logging.getLogger(__name__)


@functools.cache
def _settings() -> JobsSettings:
    settings = load(JobsSettings)
    configure("jobs-api", level=settings.log_level.upper())
    return settings


@functools.cache
def _api() -> Mangum:
    app = create_app(_settings())
    store_bootstrap_key(app)
    return Mangum(app, lifespan="off")


@functools.cache
def _tracker() -> Tracker:
    return build_tracker(_settings())


@functools.cache
def _sender() -> WebhookSender:
    return build_sender(_settings())


def api_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _api()(event, context)


def tracker_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One EventBridge event, or an SQS batch of them (each record tracked on its own)."""
    tracker = _tracker()
    if "Records" not in event:
        outcomes = tracker.handle(event)
        return {"outcomes": [o.what for o in outcomes]}
    failures = []
    for record in event["Records"]:
        try:
            tracker.handle({"Records": [record]})
        except JobsError as error:
            log.error("record %s not tracked: %s", record.get("messageId"), error)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def webhook_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An SQS batch of deliveries; the ones not done are reported back to stay queued."""
    sender = _sender()
    failures = []
    for record in event["Records"]:
        count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        if not sender.handle(record["body"], record["receiptHandle"], count):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
