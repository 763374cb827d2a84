"""The jobs queue as the worker sees it: receive, delete, return later, dead-letter.

Every message received is held by the :class:`~batch_worker.heartbeat.Heartbeat` until it
is deleted or returned; each of those first takes the message out of the heartbeat, and
only the one that did acts, so a message is deleted or returned at most once.

A message sent to the dead-letter queue by the worker carries why in its ``reason``
attribute (``malformed_job``, ``unsupported_job_version``) and a ``detail``; the job's own
routing reason moves to ``job_reason``. :func:`restored_attributes` undoes that when the
message is redriven to the jobs queue.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from batch_worker.exceptions import NoDeadLetterQueue, QueueUnreachable
from batch_worker.heartbeat import Heartbeat
from transcription.transcript import utc_now

__all__ = [
    "DEAD_LETTER_MARK",
    "JobConsumer",
    "Received",
    "dead_letter_attributes",
    "dead_letter_queue_url",
    "receive_retrying",
    "restored_attributes",
    "sendable",
]

log = logging.getLogger(__name__)

RECEIVE_RETRY_SECONDS = 300.0  # SQS unreachable this long: give up, exit non-zero
MAX_DETAIL_CHARS = 1000
DEAD_LETTER_MARK = "dead_lettered_at"  # the attribute that says "the worker put this here"
_TRANSIENT_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestThrottled", "ServiceUnavailable",
     "InternalError", "InternalFailure", "KmsThrottled"}
)  # fmt: skip


@dataclass(eq=False)  # identity: each receive of a message is its own Received
class Received:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    attributes: dict[str, dict[str, Any]]  # message attributes, as SQS returns them
    received_at: float = field(default_factory=time.monotonic)
    received_wall: float = field(default_factory=time.time)  # for the time spent queued
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage, for metrics

    @classmethod
    def from_sqs(cls, message: dict[str, Any]) -> Received:
        return cls(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            attributes=message.get("MessageAttributes") or {},
        )


def receive_retrying() -> Retrying:
    """Bounded, jittered retries of ReceiveMessage while SQS is unreachable or throttling."""
    return Retrying(
        retry=retry_if_exception_type(QueueUnreachable),
        stop=stop_after_delay(RECEIVE_RETRY_SECONDS),
        wait=wait_random_exponential(multiplier=1, max=30),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )


class JobConsumer:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        dlq_url: str,
        heartbeat: Heartbeat,
        retrying: Retrying | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.heartbeat = heartbeat
        self.retrying = retrying or receive_retrying()

    # --- receiving -----------------------------------------------------------------------
    def receive(self, max_messages: int, wait_seconds: int) -> list[Received]:
        """Up to ``max_messages`` (≤ 10) messages, each held from now on."""
        raw = self.retrying(self._receive_once, min(max_messages, 10), wait_seconds)
        messages = [Received.from_sqs(m) for m in raw]
        for message in messages:
            self.heartbeat.hold(message, message.receipt_handle)
        return messages

    def _receive_once(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=self.heartbeat.visibility_timeout,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                MessageAttributeNames=["All"],
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _TRANSIENT_CODES:
                raise QueueUnreachable(f"SQS receive failed: {error}") from error
            raise
        except BotoCoreError as error:  # connection refused, timeouts
            raise QueueUnreachable(f"SQS receive failed: {error}") from error
        return list(response.get("Messages", ()))

    def held(self) -> int:
        return len(self.heartbeat)

    # --- letting go ----------------------------------------------------------------------
    def delete(self, message: Received) -> bool:
        """Delete a held message (only after its transcript, or its fate, is written)."""
        if not self.heartbeat.drop(message):
            return False
        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.receipt_handle)
        except (BotoCoreError, ClientError) as error:
            # Its outcome is stored; the next worker to get it finds that and deletes it.
            log.warning("could not delete message %s: %s", message.message_id, error)
            return False
        return True

    def release(self, message: Received, delay_seconds: int) -> bool:
        """Make a held message visible again after ``delay_seconds`` (0: at once)."""
        if not self.heartbeat.drop(message):
            return False
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message.receipt_handle,
                VisibilityTimeout=delay_seconds,
            )
        except (BotoCoreError, ClientError) as error:
            # Not lost: it comes back when its visibility timeout runs out.
            log.warning("could not return message %s: %s", message.message_id, error)
            return False
        return True

    def release_all(self) -> int:
        """Shutdown: every message still held goes back to the queue at once."""
        return sum(self.release(message, 0) for message in self.heartbeat.held())

    def dead_letter(self, message: Received, reason: str, detail: str) -> bool:
        """Copy the message to the DLQ with ``reason``, then delete it here.

        If the copy fails the error propagates and the message stays held, so the caller
        can return it to the queue instead: it is never deleted without its copy.
        """
        self.sqs.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=message.body,
            MessageAttributes=dead_letter_attributes(message.attributes, reason, detail),
        )
        return self.delete(message)


def sendable(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Received message attributes reduced to what SendMessage accepts."""
    keep = ("DataType", "StringValue", "BinaryValue")
    return {
        name: {k: v for k, v in value.items() if k in keep} for name, value in attributes.items()
    }


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def dead_letter_attributes(
    attributes: dict[str, dict[str, Any]], reason: str, detail: str
) -> dict[str, dict[str, Any]]:
    out = sendable(attributes)
    job_reason = out.pop("reason", None)
    if job_reason is not None:
        out["job_reason"] = job_reason
    out["reason"] = _string(reason)
    out["detail"] = _string(detail[:MAX_DETAIL_CHARS] or reason)
    out[DEAD_LETTER_MARK] = _string(utc_now())
    return out


def restored_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The attributes a dead-lettered message had before the worker dead-lettered it.

    Messages that SQS's redrive moved (no mark) keep theirs unchanged.
    """
    out = sendable(attributes)
    if DEAD_LETTER_MARK not in out:
        return out
    for name in ("reason", "detail", DEAD_LETTER_MARK):
        out.pop(name, None)
    job_reason = out.pop("job_reason", None)
    if job_reason is not None:
        out["reason"] = job_reason
    return out


def dead_letter_queue_url(sqs: Any, queue_url: str, configured: str | None = None) -> str:
    """``DLQ_URL``, or else the dead-letter target of the jobs queue's redrive policy."""
    if configured:
        return configured
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    policy = attributes.get("Attributes", {}).get("RedrivePolicy")
    if not policy:
        raise NoDeadLetterQueue(
            "DLQ_URL is empty and the jobs queue has no redrive policy; set DLQ_URL "
            "(see config.env.example)"
        )
    arn = json.loads(policy)["deadLetterTargetArn"]  # arn:aws:sqs:region:account:name
    *_, account, name = arn.split(":")
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
