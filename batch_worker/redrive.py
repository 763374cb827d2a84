"""``python -m batch_worker redrive``: move dead-lettered jobs back to the jobs queue.

Run it after the fix (a new worker version that reads the message, an IAM change, a bucket
that exists again). Each message is sent to the jobs queue first and deleted from the DLQ
after, so a failure in between leaves a duplicate (settled by the conditional writes), never
a loss. Messages the worker dead-lettered itself get their original attributes back (see
:func:`~batch_worker.consumer.restored_attributes`).

``--dry-run`` moves nothing: it counts the messages by ``reason`` and makes them visible
again at once.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from batch_worker.consumer import restored_attributes

__all__ = ["RedriveResult", "redrive"]

log = logging.getLogger(__name__)

HOLD_SECONDS = 300  # a dry run keeps what it counted invisible this long at most
MAX_RECEIVE = 10


@dataclass(frozen=True)
class RedriveResult:
    dry_run: bool
    moved: int  # with dry_run: how many would move
    by_reason: dict[str, int] = field(default_factory=dict)


def _reason(message: dict[str, Any]) -> str:
    value = (message.get("MessageAttributes") or {}).get("reason") or {}
    return str(value.get("StringValue") or "unknown")


def redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    *,
    dry_run: bool = False,
    max_messages: int | None = None,
    wait_seconds: int = 1,
) -> RedriveResult:
    """Move (or with ``dry_run`` count) up to ``max_messages`` DLQ messages."""
    reasons: Counter[str] = Counter()
    counted: list[str] = []  # dry run: receipt handles to make visible again
    try:
        while max_messages is None or sum(reasons.values()) < max_messages:
            room = MAX_RECEIVE if max_messages is None else max_messages - sum(reasons.values())
            messages = sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=min(MAX_RECEIVE, room),
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=HOLD_SECONDS,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                reasons[_reason(message)] += 1
                if dry_run:
                    counted.append(message["ReceiptHandle"])
                else:
                    _move(sqs, message, dlq_url, queue_url)
    finally:
        for handle in counted:
            sqs.change_message_visibility(
                QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0
            )
    result = RedriveResult(dry_run=dry_run, moved=sum(reasons.values()), by_reason=dict(reasons))
    log.info("redrive %s", "counted" if dry_run else "done", extra={"fields": result.__dict__})
    return result


def _move(sqs: Any, message: dict[str, Any], dlq_url: str, queue_url: str) -> None:
    attributes = restored_attributes(message.get("MessageAttributes") or {})
    sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], MessageAttributes=attributes)
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
