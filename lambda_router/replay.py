"""Replay the router's failed events: ``python -m lambda_router.replay``.

When an asynchronous invocation of the router Lambda (EventBridge's) still fails after
Lambda's retries, or grows older than its maximum event age, Lambda sends an invocation
record to the function's on-failure destination: the router failure queue
(``ROUTER_FAILURE_QUEUE_URL``, made by step-020). The record wraps the event::

    {"version": "1.0", "requestContext": {"condition": "RetriesExhausted", ...},
     "requestPayload": <the EventBridge event>, "responsePayload": {"errorType": ...}}

(``tests/events/lambda-destination-on-failure.json``). These are not jobs: the batch
worker would dead-letter them. Replay hands each record's ``requestPayload`` to the router
again, once the cause (an SQS outage, say) is over:

- locally (``AWS_ENDPOINT_URL`` set; moto cannot run Lambda code) or with ``--in-process``:
  :func:`lambda_router.handler.lambda_handler` in this process, with a stand-in context of
  ``LAMBDA_TIMEOUT_SECONDS``, as the event pump calls it (router settings from the
  environment);
- on AWS: an asynchronous invocation of ``ROUTER_FUNCTION_ARN``, as EventBridge made it.

A record replayed (the handler returned, or Lambda accepted the invocation) is deleted. One
that fails again, or is not a Lambda invocation record, stays on the queue and is reported.
Bounded: one run takes at most the messages that were there when it started (and at most
``--max``), each at most once by message id, holding them invisible until the end; so
records that come back during the run (an event that failed again on AWS) wait for the next
run instead of going round in circles. The report (the last line on stdout, JSON) counts
what was there, replayed, failed, skipped and left; the exit status is 1 when any failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_router.exceptions import NotAFailureRecord
from lambda_router.handler import lambda_handler
from lambda_router.pump import StandInContext
from transcription.aws import make_client
from transcription.exceptions import SettingsError
from transcription.logging import configure
from transcription.settings import AwsSettings, load

__all__ = [
    "ReplayReport",
    "ReplaySettings",
    "Replayer",
    "failure_payload",
    "in_process",
    "main",
    "via_lambda",
]

log = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any], str], None]  # (event, record id); raises when it fails
BATCH = 10  # SQS's most messages per receive
HOLD_SECONDS = 900  # records taken stay invisible this long (held until the run ends)


@dataclass(frozen=True)
class ReplaySettings:
    """``python -m lambda_router.replay`` (documented in config.env.example)."""

    router_failure_queue_url: str  # the router's on-failure destination (step-020)
    aws: AwsSettings = field(default_factory=AwsSettings)
    router_function_arn: str | None = None  # on AWS: the function to invoke (step-340)
    lambda_timeout_seconds: float = 300.0  # in process: the stand-in context's deadline


@dataclass
class ReplayReport:
    at_start: int  # records in the queue when the run began (SQS's approximate count)
    replayed: list[str] = field(default_factory=list)  # message ids, deleted
    failed: dict[str, str] = field(default_factory=dict)  # message id → why; left queued
    skipped: dict[str, str] = field(default_factory=dict)  # not invocation records; left
    left: int | None = None  # records in the queue after the run


def failure_payload(body: str) -> dict[str, Any]:
    """The event inside a Lambda on-failure invocation record, or :class:`NotAFailureRecord`."""
    try:
        record = json.loads(body)
    except json.JSONDecodeError as error:
        raise NotAFailureRecord(f"not JSON: {error}") from None
    payload = record.get("requestPayload") if isinstance(record, dict) else None
    if not isinstance(payload, dict) or "requestContext" not in record:
        raise NotAFailureRecord("not a Lambda invocation record (no requestPayload)")
    return payload


def _why(body: str) -> dict[str, Any]:
    """What the record says about the failure, for the log."""
    record = json.loads(body)
    context, response = record.get("requestContext", {}), record.get("responsePayload") or {}
    return {
        "condition": context.get("condition"),
        "invocations": context.get("approximateInvokeCount"),
        "error_type": response.get("errorType") if isinstance(response, dict) else None,
    }


class Replayer:
    def __init__(self, sqs: Any, queue_url: str, invoke: Invoke) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.invoke = invoke

    def run(self, *, limit: int | None = None, dry_run: bool = False) -> ReplayReport:
        report = ReplayReport(at_start=self._count())
        budget = report.at_start if limit is None else min(report.at_start, limit)
        seen: set[str] = set()
        held: list[dict[str, Any]] = []  # taken but not deleted: visible again at the end
        try:
            while len(seen) < budget:
                messages = self._receive(min(BATCH, budget - len(seen)))
                if not messages:
                    break
                for message in messages:
                    if message["MessageId"] in seen or len(seen) >= budget:
                        held.append(message)  # came round again, or more than there was
                        continue
                    seen.add(message["MessageId"])
                    if not self._replay(message, report, dry_run):
                        held.append(message)
        finally:
            for message in held:
                self._give_back(message)
        report.left = self._count()
        return report

    def _replay(self, message: dict[str, Any], report: ReplayReport, dry_run: bool) -> bool:
        """Replay one record; ``True`` when it was replayed and deleted."""
        message_id, body = message["MessageId"], message["Body"]
        try:
            payload = failure_payload(body)
        except NotAFailureRecord as error:
            report.skipped[message_id] = str(error)
            log.warning("record %s left on the queue: %s", message_id, error)
            return False
        fields = {"message_id": message_id, **_why(body)}
        if dry_run:
            log.info("would replay", extra={"fields": fields})
            return False
        try:
            self.invoke(payload, message_id)
        except Exception as error:  # like Lambda: any failure keeps the record
            report.failed[message_id] = f"{type(error).__name__}: {error}"
            log.error("replay failed; the record stays on the queue: %s", error, exc_info=error)
            return False
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        report.replayed.append(message_id)
        log.info("replayed", extra={"fields": fields})
        return True

    def _count(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def _receive(self, count: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=1,
            VisibilityTimeout=HOLD_SECONDS,
        )
        return list(response.get("Messages", []))

    def _give_back(self, message: dict[str, Any]) -> None:
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        except (ClientError, BotoCoreError) as error:  # it comes back after HOLD_SECONDS anyway
            log.warning("cannot give back record %s: %s", message["MessageId"], error)


def in_process(timeout_seconds: float, handler: Callable[[Any, Any], Any] | None = None) -> Invoke:
    """Run the router here, as the local event pump does."""
    run = handler or lambda_handler

    def invoke(event: dict[str, Any], record_id: str) -> None:
        run(event, StandInContext(f"replay-{record_id}", timeout_seconds))

    return invoke


def via_lambda(lambda_client: Any, function: str) -> Invoke:
    """Invoke the deployed router asynchronously, as EventBridge does."""

    def invoke(event: dict[str, Any], record_id: str) -> None:
        response = lambda_client.invoke(
            FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode()
        )
        if response.get("StatusCode") != 202:
            raise RuntimeError(f"Lambda answered {response.get('StatusCode')}, not 202")

    return invoke


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lambda_router.replay",
        description="Hand the router's failed events (its failure queue) to the router again.",
    )
    parser.add_argument("--max", type=int, metavar="N", help="replay at most N records")
    parser.add_argument("--dry-run", action="store_true", help="count and show, change nothing")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the router in this process (the default in local mode)",
    )
    args = parser.parse_args(argv)
    configure("lambda-router-replay")
    settings = load(ReplaySettings)
    if args.in_process or settings.aws.aws_endpoint_url:
        invoke = in_process(settings.lambda_timeout_seconds)
    elif settings.router_function_arn:
        invoke = via_lambda(make_client("lambda", settings.aws), settings.router_function_arn)
    else:
        raise SettingsError(
            "ROUTER_FUNCTION_ARN is required on AWS (step-340 records it), or pass --in-process"
        )
    replayer = Replayer(make_client("sqs", settings.aws), settings.router_failure_queue_url, invoke)
    report = replayer.run(limit=args.max, dry_run=args.dry_run)
    # One line, the last on stdout (the router in process writes its metric lines there too).
    sys.stdout.write(json.dumps(asdict(report)) + "\n")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
