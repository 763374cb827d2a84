"""The local stand-in for the Lambda triggers of the jobs tracker and the webhook sender.

On AWS, the job results rule (step-375) invokes the tracker Lambda with each result's
"Object Created" event, and an SQS event source mapping invokes the webhook sender Lambda
with batches of the delivery queue. moto runs neither, so ``python -m local_stack.jobs_pump``
(started by ``make up``) calls the Lambdas' own handlers (:mod:`jobs_api.handler`)
in-process:

- the result-events queue (``RESULT_EVENTS_QUEUE_URL``, the rule's local target) →
  ``tracker_handler``, through the event pump's loop (:class:`lambda_router.pump.Pump`, with
  its settings: an event is deleted once the handler returned, left for a retry if it
  raised);
- the delivery queue (``WEBHOOK_QUEUE_URL``) → ``webhook_handler``, as an event source
  mapping with ``ReportBatchItemFailures`` calls it (:class:`SqsTrigger`): the received
  messages as Lambda's SQS records; those the handler does not report failed are deleted,
  the failed ones stay on the queue hidden for the backoff the sender gave them, and come
  back (or go to the DLQ) as SQS decides.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from jobs_api.handler import tracker_handler, webhook_handler
from lambda_router.pump import Pump
from lambda_router.settings import PumpSettings
from transcription.aws import make_client
from transcription.exceptions import SettingsError
from transcription.logging import configure
from transcription.settings import AwsSettings, load

__all__ = ["JobsPumpSettings", "SqsTrigger", "main"]

log = logging.getLogger(__name__)

BatchHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
BATCH_SIZE = 10  # SQS's largest receive, the event source mapping's default batch


@dataclass(frozen=True)
class JobsPumpSettings:
    """Its own two queues (config.env.example); PUMP_* and LAMBDA_TIMEOUT_SECONDS are the
    event pump's (:class:`lambda_router.settings.PumpSettings`)."""

    result_events_queue_url: str
    webhook_queue_url: str | None = None  # None: no webhooks to deliver
    aws: AwsSettings = field(default_factory=AwsSettings)

    def tracker_pump_settings(self, environ: dict[str, str]) -> PumpSettings:
        """The event pump's settings, pointed at the result-events queue."""
        return load(PumpSettings, {**environ, "EVENTS_QUEUE_URL": self.result_events_queue_url})


def sqs_record(message: dict[str, Any], queue_url: str) -> dict[str, Any]:
    """One received message as Lambda's SQS event source hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_url,  # (the URL: the handlers do not read it)
    }


class SqsTrigger:
    """An SQS event source mapping with ``ReportBatchItemFailures``, in-process."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: BatchHandler,
        *,
        wait_seconds: int = 5,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.wait_seconds = wait_seconds
        self.batch_size = batch_size
        self.deleted = 0  # messages the handler finished with
        self.kept = 0  # messages it reported failed (or all of a batch when it raised)

    def poll_once(self) -> int:
        """Receive one batch and hand it to the handler; returns how many messages came."""
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=self.wait_seconds,
                AttributeNames=["ApproximateReceiveCount"],
            )
        except (ClientError, BotoCoreError) as error:
            log.warning("cannot receive from %s: %s", self.queue_url, error)
            return 0
        messages = response.get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [sqs_record(m, self.queue_url) for m in messages]}
        try:
            result = self.handler(event, None)
        except Exception as error:  # like Lambda: any failure leaves the batch queued
            log.error("handler failed; the batch stays on the queue: %s", error, exc_info=error)
            self.kept += len(messages)
            return len(messages)
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:
                self.kept += 1
            else:
                self._delete(message)
        return len(messages)

    def _delete(self, message: dict[str, Any]) -> None:
        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            self.deleted += 1
        except (ClientError, BotoCoreError) as error:  # it comes back: a repeat, not a loss
            log.warning("cannot delete message %s: %s", message.get("MessageId"), error)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.poll_once()


def main(argv: Sequence[str] | None = None) -> int:
    configure("jobs-pump")
    try:
        settings = load(JobsPumpSettings)
        pump_settings = settings.tracker_pump_settings(dict(os.environ))
    except SettingsError as error:
        log.error("not starting: %s", error)
        return 2
    sqs = make_client("sqs", settings.aws, read_timeout=pump_settings.pump_wait_seconds + 10)
    tracker = Pump(pump_settings, sqs, handler=tracker_handler)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threads = []
    if settings.webhook_queue_url:
        webhooks = SqsTrigger(
            sqs,
            settings.webhook_queue_url,
            webhook_handler,
            wait_seconds=pump_settings.pump_wait_seconds,
        )
        threads.append(threading.Thread(target=webhooks.run, args=(stop,), name="webhooks"))
    else:
        log.warning("WEBHOOK_QUEUE_URL is empty: no webhooks are delivered")
    for thread in threads:
        thread.start()
    log.info(
        "jobs pump started",
        extra={
            "fields": {
                "result_events_queue_url": settings.result_events_queue_url,
                "webhook_queue_url": settings.webhook_queue_url,
            }
        },
    )
    tracker.run(stop)
    for thread in threads:
        thread.join(pump_settings.pump_wait_seconds + 15)
    log.info("jobs pump stopped", extra={"fields": {"tracked": tracker.handled}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
