"""The jobs queues as the worker sees them: receive, delete, return later, dead-letter.

Every message received is held by the :class:`~batch_worker.heartbeat.Heartbeat` until it
is deleted or returned; each of those first takes the message out of the heartbeat, and
only the one that did acts, so a message is deleted or returned at most once. Deletes go
out in batches, one :class:`~batch_worker.deleter.Deleter` per queue.

**Priorities.** The worker may drain several queues, highest priority first
(``QUEUE_URL_HIGH``, ``QUEUE_URL``, ``QUEUE_URL_LOW``; see
:attr:`~batch_worker.settings.WorkerSettings.queue_urls`). Each :class:`Received` remembers
its queue, and every later call on it (delete, heartbeat, return, dead-letter) goes there.
With one queue, :meth:`JobConsumer.receive` is one ``ReceiveMessage`` long poll, as it always
was. With several, a receive is:

1. a quick pass: a short poll (``WaitTimeSeconds=0``) of each queue in order, stopping at
   the first that gives messages; any queue but the first gives at most ``max_lower``
   (what the worker can start at once, see :mod:`batch_worker.prefetch`), so a flood of low
   tasks never fills the worker ahead of a high task that comes a moment later;
2. when the quick pass finds nothing (short polls sample a few SQS servers and can miss
   messages), a long poll of each queue in order, ``PRIORITY_WAIT_SECONDS`` each; after an
   empty round the next receive starts with the long polls (no spinning while idle).

Worst case, for an idle worker, a high task waits the long polls of the other queues:
(queues − 1) × ``PRIORITY_WAIT_SECONDS`` (4 s by default with three queues). A busy worker
polls the high queue before every lower receive, so a high task waits for at most the
task running and the one prepared next (two with ``PREFETCH=1``), whatever is queued below
it; it is held off only when a short poll misses it, until the next receive.
Empty means all queues empty: the receive returns nothing only after polling every queue.

A message the worker sends to the dead-letter queue keeps its own attributes and gains one,
``dead_letter``: a JSON object saying why (``reason``: ``malformed_job``,
``unsupported_job_version``…, ``detail``, ``at``) and which message it was (``message_id``).
SQS refuses a message with more than 10 attributes, so when the original already has 10,
the ones that matter least (any but ``reason`` and ``trace_id``) move into that object's
``attributes``. :func:`restored_attributes` undoes all of it when the message is redriven.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Sequence
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

from batch_worker.deleter import Deleter
from batch_worker.exceptions import NoDeadLetterQueue, QueueUnreachable
from batch_worker.heartbeat import Heartbeat
from batch_worker.settings import PRIORITY_WAIT_SECONDS
from transcription.aws_errors import is_retryable
from transcription.transcript import utc_now

__all__ = [
    "DEAD_LETTER",
    "MAX_ATTRIBUTES",
    "MAX_RECEIVE",
    "JobConsumer",
    "Received",
    "dead_letter_attributes",
    "dead_letter_info",
    "dead_letter_queue_url",
    "receive_retrying",
    "restored_attributes",
    "sendable",
]

log = logging.getLogger(__name__)

RECEIVE_RETRY_SECONDS = 300.0  # SQS unreachable this long: give up, exit non-zero
MAX_RECEIVE = 10  # SQS's limit per ReceiveMessage
MAX_DETAIL_CHARS = 1000
MAX_ATTRIBUTES = 10  # SQS's limit of message attributes per message
DEAD_LETTER = "dead_letter"  # the attribute a worker's DLQ copy adds: why, as JSON
KEPT = frozenset({"reason", "trace_id"})  # never folded into DEAD_LETTER


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
    queue_url: str = ""  # the queue it came from ("": the consumer's first)
    rank: int = 0  # its queue's place in the priority order: 0 is taken first

    @classmethod
    def from_sqs(cls, message: dict[str, Any], queue_url: str = "", rank: int = 0) -> Received:
        return cls(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            attributes=message.get("MessageAttributes") or {},
            queue_url=queue_url,
            rank=rank,
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
        queue_urls: str | Sequence[str],  # highest priority first
        dlq_url: str,
        heartbeat: Heartbeat,
        retrying: Retrying | None = None,
        *,
        priority_wait_seconds: int = PRIORITY_WAIT_SECONDS,
    ) -> None:
        self.sqs = sqs
        self.queue_urls = (queue_urls,) if isinstance(queue_urls, str) else tuple(queue_urls)
        self.queue_url = self.queue_urls[0]
        self.dlq_url = dlq_url
        self.heartbeat = heartbeat
        self.retrying = retrying or receive_retrying()
        self.priority_wait_seconds = priority_wait_seconds
        self.deleters = {url: Deleter(sqs, url) for url in self.queue_urls}
        self._quiet = False  # the last receive found every queue empty

    # --- receiving -----------------------------------------------------------------------
    def receive(
        self, max_messages: int, wait_seconds: int, max_lower: int | None = None
    ) -> list[Received]:
        """Up to ``max_messages`` (≤ 10) messages, each held from now on; the highest queue
        that has any gives them, any queue but the first at most ``max_lower``."""
        limit = min(max_messages, MAX_RECEIVE)
        if len(self.queue_urls) == 1:
            return self._take(0, limit, wait_seconds)
        lower = limit if max_lower is None else min(limit, max_lower)
        ranks = [rank for rank in range(len(self.queue_urls)) if rank == 0 or lower > 0]
        limits = {rank: limit if rank == 0 else lower for rank in ranks}
        passes = [min(wait_seconds, self.priority_wait_seconds)]
        if not self._quiet:
            passes.insert(0, 0)
        for wait in passes:
            for rank in ranks:
                messages = self._take(rank, limits[rank], wait)
                if messages:
                    self._quiet = False
                    return messages
        self._quiet = len(ranks) == len(self.queue_urls)  # every queue was polled
        return []

    def _take(self, rank: int, max_messages: int, wait_seconds: int) -> list[Received]:
        url = self.queue_urls[rank]
        raw = self.retrying(self._receive_once, url, max_messages, wait_seconds)
        messages = [Received.from_sqs(m, url, rank) for m in raw]
        for message in messages:
            self.heartbeat.hold(message, message.receipt_handle, url)
        return messages

    def _receive_once(self, url: str, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
        try:
            response = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=self.heartbeat.visibility_timeout,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                MessageAttributeNames=["All"],
            )
        except ClientError as error:
            if is_retryable(error):
                raise QueueUnreachable(f"SQS receive failed: {error}") from error
            raise
        except BotoCoreError as error:  # connection refused, timeouts
            raise QueueUnreachable(f"SQS receive failed: {error}") from error
        return list(response.get("Messages", ()))

    def queue_of(self, message: Received) -> str:
        return message.queue_url or self.queue_url

    def held(self) -> int:
        return len(self.heartbeat)

    # --- letting go ----------------------------------------------------------------------
    def delete(self, message: Received) -> bool:
        """Delete a held message (only after its transcript, or its fate, is written).

        ``True`` once the delete is on its way (see :class:`~batch_worker.deleter.Deleter`).
        """
        if not self.heartbeat.drop(message):
            return False
        self.deleters[self.queue_of(message)].submit(message.message_id, message.receipt_handle)
        return True

    def close(self) -> None:
        """End of a run: send the deletes still pending."""
        for deleter in self.deleters.values():
            deleter.close()

    def release(self, message: Received, delay_seconds: int) -> bool:
        """Make a held message visible again after ``delay_seconds`` (0: at once)."""
        if not self.heartbeat.drop(message):
            return False
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_of(message),
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
            MessageAttributes=dead_letter_attributes(
                message.attributes, reason, detail, message.message_id
            ),
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


def _to_json(value: dict[str, Any]) -> dict[str, str]:
    binary = value.get("BinaryValue")
    if binary is None:
        return {k: v for k, v in value.items() if k != "BinaryValue"}
    return {"DataType": value["DataType"], "BinaryValue": base64.b64encode(binary).decode()}


def _from_json(value: dict[str, str]) -> dict[str, Any]:
    if "BinaryValue" not in value:
        return dict(value)
    return {"DataType": value["DataType"], "BinaryValue": base64.b64decode(value["BinaryValue"])}


def dead_letter_attributes(
    attributes: dict[str, dict[str, Any]], reason: str, detail: str, message_id: str
) -> dict[str, dict[str, Any]]:
    """``attributes`` plus :data:`DEAD_LETTER`, within SQS's limit of 10 attributes."""
    out = sendable(attributes)
    out.pop(DEAD_LETTER, None)
    info: dict[str, Any] = {
        "reason": reason,
        "detail": detail[:MAX_DETAIL_CHARS] or reason,
        "at": utc_now(),
        "message_id": message_id,
    }
    folded = {}
    for name in sorted(set(out) - KEPT, reverse=True):
        if len(out) < MAX_ATTRIBUTES:
            break
        folded[name] = _to_json(out.pop(name))
    if folded:
        info["attributes"] = folded
    out[DEAD_LETTER] = _string(json.dumps(info, ensure_ascii=False))
    return out


def dead_letter_info(attributes: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """What :func:`dead_letter_attributes` recorded; ``None`` for messages SQS moved."""
    raw = (attributes.get(DEAD_LETTER) or {}).get("StringValue")
    if not raw:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


def restored_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The attributes a dead-lettered message had before the worker dead-lettered it.

    Messages that SQS's redrive moved (no :data:`DEAD_LETTER`) keep theirs unchanged.
    """
    out = sendable(attributes)
    info = dead_letter_info(out)
    out.pop(DEAD_LETTER, None)
    for name, value in ((info or {}).get("attributes") or {}).items():
        out[name] = _from_json(value)
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
