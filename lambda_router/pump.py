"""The local event pump: EventBridge → Lambda, stood in for by SQS → ``lambda_handler``.

moto cannot run Lambda code, so locally the EventBridge rule targets an SQS queue
(``EVENTS_QUEUE_URL``). ``python -m lambda_router.pump`` long-polls it and calls
:func:`lambda_router.handler.lambda_handler` in-process for each event, with a stand-in
context whose deadline is ``LAMBDA_TIMEOUT_SECONDS`` away, as Lambda's would be. An event is
deleted only after the handler returned; if it raised, the message stays and comes back
after its visibility timeout (Lambda's retry), or goes to the queue's dead-letter queue.
``PUMP_CONCURRENCY`` workers poll at once, as Lambda runs invocations concurrently.

With the managed overflow on (``OVERFLOW=transcribe``) the pump also stands in for the
"Transcribe Job State Change" rule, which moto's Transcribe never triggers: every
``OVERFLOW_POLL_SECONDS`` it runs the router's collector over the overflow's open tickets
(:meth:`transcription.managed.Collector.collect_pending`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_router.handler import get_router, lambda_handler
from lambda_router.settings import PumpSettings
from transcription.aws import make_client
from transcription.exceptions import TranscriptionError
from transcription.logging import configure
from transcription.settings import load

__all__ = ["Pump", "StandInContext", "main"]

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]
VISIBILITY_MARGIN_SECONDS = 30


@dataclass
class StandInContext:
    """What the router uses of Lambda's context object."""

    aws_request_id: str
    timeout_seconds: float
    function_name: str = "lambda-router-local-pump"
    clock: Callable[[], float] = time.monotonic
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = self.clock() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


class Pump:
    def __init__(
        self,
        settings: PumpSettings,
        sqs: Any,
        handler: Handler = lambda_handler,
        collect: Callable[[], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.sqs = sqs
        self.handler = handler
        self.collect = collect  # the managed overflow's poll, if on
        self.collected = 0  # polls run
        self.visibility = math.ceil(settings.lambda_timeout_seconds) + VISIBILITY_MARGIN_SECONDS
        self._lock = threading.Lock()
        self._in_flight = 0
        self.handled = 0  # events whose handler returned (and that were deleted)
        self.failed = 0  # events whose handler raised (left on the queue)
        self.last_activity = time.monotonic()
        self.stopping = threading.Event()  # set: received events are given back, not handled

    # --- one round ---------------------------------------------------------------------
    def poll_once(self, wait_seconds: int | None = None, max_messages: int = 1) -> int:
        """Receive up to ``max_messages`` events and handle each; returns how many came."""
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.settings.events_queue_url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=self.settings.pump_wait_seconds
                if wait_seconds is None
                else wait_seconds,
                VisibilityTimeout=self.visibility,
                AttributeNames=["ApproximateReceiveCount"],
            )
        except (ClientError, BotoCoreError) as error:
            log.warning("cannot receive from the events queue: %s", error)
            time.sleep(1.0)
            return 0
        messages = response.get("Messages", [])
        for message in messages:
            if self.stopping.is_set():
                self._give_back(message)
            else:
                self.process(message)
        return len(messages)

    def process(self, message: dict[str, Any]) -> bool:
        """Run the handler on one event; delete it only after the handler returned."""
        message_id = message.get("MessageId", "")
        fields: dict[str, Any] = {
            "message_id": message_id,
            "receive_count": message.get("Attributes", {}).get("ApproximateReceiveCount"),
        }
        with self._lock:
            self._in_flight += 1
            self.last_activity = time.monotonic()
        try:
            context = StandInContext(message_id, self.settings.lambda_timeout_seconds)
            try:
                results = self.handler(json.loads(message["Body"]), context)
            except Exception as error:  # noqa: BLE001 - like Lambda: any failure keeps the event
                self._failed(error, fields)
                return False
            self._delete(message)
            with self._lock:
                self.handled += 1
            count = len(results) if isinstance(results, list) else None
            log.info("event handled", extra={"fields": {**fields, "objects": count}})
            return True
        finally:
            with self._lock:
                self._in_flight -= 1
                self.last_activity = time.monotonic()

    def _failed(self, error: BaseException, fields: dict[str, Any]) -> None:
        with self._lock:
            self.failed += 1
        log.error(
            "handler failed; the event stays on the queue for a retry: %s",
            error,
            exc_info=error,
            extra={"fields": fields},
        )

    def _delete(self, message: dict[str, Any]) -> None:
        try:
            self.sqs.delete_message(
                QueueUrl=self.settings.events_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        except (ClientError, BotoCoreError) as error:
            # Handled but not deleted: it comes back, and the router skips it (idempotent).
            log.warning("cannot delete event %s: %s", message.get("MessageId"), error)

    def _give_back(self, message: dict[str, Any]) -> None:
        """Make an event received while stopping visible again at once (for the next pump)."""
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.settings.events_queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
        except (ClientError, BotoCoreError) as error:
            log.warning("cannot give back event %s: %s", message.get("MessageId"), error)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def _collect(self) -> None:
        assert self.collect is not None
        try:
            self.collect()
        except (TranscriptionError, ClientError, BotoCoreError) as error:
            log.warning("managed overflow poll failed (next poll retries): %s", error)
        self.collected += 1

    # --- the loop ----------------------------------------------------------------------
    def run(
        self,
        stop: threading.Event,
        *,
        exit_when_idle: float | None = None,
        max_events: int | None = None,
    ) -> None:
        """Poll with ``PUMP_CONCURRENCY`` workers until ``stop`` is set (or idle / enough).

        On stop, running handlers finish (their events are deleted as usual), long polls end
        within PUMP_WAIT_SECONDS, and what they still receive is given back to the queue.
        """

        def worker() -> None:
            while not self.stopping.is_set():
                self.poll_once()

        workers = [
            threading.Thread(target=worker, name=f"pump-{i}", daemon=True)
            for i in range(self.settings.pump_concurrency)
        ]
        for thread in workers:
            thread.start()
        next_collect = time.monotonic()
        while not stop.wait(0.2):
            if self.collect is not None and time.monotonic() >= next_collect:
                self._collect()
                next_collect = time.monotonic() + self.settings.overflow_poll_seconds
            idle = time.monotonic() - self.last_activity
            if exit_when_idle is not None and self.in_flight == 0 and idle >= exit_when_idle:
                stop.set()
            if max_events is not None and self.handled + self.failed >= max_events:
                stop.set()
        self.stopping.set()
        deadline = (
            time.monotonic()
            + self.settings.lambda_timeout_seconds
            + self.settings.pump_wait_seconds
            + 5
        )
        for thread in workers:
            thread.join(max(0.0, deadline - time.monotonic()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lambda_router.pump",
        description="Read S3 events from EVENTS_QUEUE_URL and run the router on each (local mode).",
    )
    parser.add_argument(
        "--exit-when-idle",
        type=float,
        metavar="SECONDS",
        help="stop after this long without events",
    )
    parser.add_argument("--max-events", type=int, metavar="N", help="stop after handling N events")
    args = parser.parse_args(argv)
    configure("lambda-router")
    settings = load(PumpSettings)
    sqs = make_client("sqs", settings.aws, read_timeout=settings.pump_wait_seconds + 10)
    pump = Pump(
        settings, sqs, collect=_managed_poll() if settings.overflow == "transcribe" else None
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info(
        "event pump started",
        extra={
            "fields": {
                "queue_url": settings.events_queue_url,
                "concurrency": settings.pump_concurrency,
            }
        },
    )
    pump.run(stop, exit_when_idle=args.exit_when_idle, max_events=args.max_events)
    log.info(
        "event pump stopped", extra={"fields": {"handled": pump.handled, "failed": pump.failed}}
    )
    return 0


def _managed_poll() -> Callable[[], Any]:
    """The warm router's collector over the overflow's open tickets (built on first use)."""

    def poll() -> Any:
        collector = get_router().collector
        return collector.collect_pending() if collector is not None else []

    return poll


if __name__ == "__main__":
    sys.exit(main())
