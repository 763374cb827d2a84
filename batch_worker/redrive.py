"""``python -m batch_worker redrive``: move dead-lettered jobs back to the jobs queue, once.

Run it after the fix (a new worker version that reads the message, an IAM change, a bucket
that exists again). It moves at most what the DLQ held when it started (and at most
``--max``), each message at most once, then stops: a job that fails again and is
dead-lettered again while the run goes on *came back*; it is counted, left in the DLQ and
not moved a second time, so a job that still fails cannot ping-pong between the queues.
Messages that arrived after the start, or past ``--max``, are left for the next run.

A message is recognised by its id: SQS keeps it when its redrive policy moves a message to
the DLQ, and the worker's own DLQ copies name the original in their ``dead_letter``
attribute (see :mod:`batch_worker.consumer`), so the ids of the copies this run sends tell
what came back. Each message is sent to the jobs queue first and deleted from the DLQ after,
so a failure in between leaves a duplicate (settled by the conditional writes), never a
loss. Messages the worker dead-lettered itself get their original attributes back.

``--dry-run`` moves nothing: it counts the messages by reason and makes them visible again.

The high, normal and low queues share the DLQ: a batch job's task goes back to the queue of
its ``priority`` (when the worker has that queue), anything else to ``QUEUE_URL``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from batch_worker.consumer import dead_letter_info, restored_attributes

__all__ = ["RedriveResult", "redrive"]

log = logging.getLogger(__name__)

HOLD_SECONDS = 300  # what a run received stays invisible this long at most
MAX_BATCH = 10  # SQS's limit per ReceiveMessage and per batch call


@dataclass(frozen=True)
class RedriveResult:
    dry_run: bool
    moved: int  # with dry_run: how many would move
    by_reason: dict[str, int] = field(default_factory=dict)
    came_back: int = 0  # moved by this run, dead-lettered again before it ended: left there
    left: int = 0  # not moved: arrived after the start, over --max, or could not be sent


def _reason(message: dict[str, Any]) -> str:
    attributes = message.get("MessageAttributes") or {}
    info = dead_letter_info(attributes)
    if info and info.get("reason"):
        return str(info["reason"])
    return str((attributes.get("reason") or {}).get("StringValue") or "unknown")


def _was_ours(message: dict[str, Any], ours: set[str]) -> bool:
    info = dead_letter_info(message.get("MessageAttributes") or {}) or {}
    return message["MessageId"] in ours or info.get("message_id") in ours


def _visible(sqs: Any, queue_url: str) -> int:
    response = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(response["Attributes"]["ApproximateNumberOfMessages"])


def redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    *,
    dry_run: bool = False,
    max_messages: int | None = None,
    wait_seconds: int = 1,
    by_priority: Mapping[str, str] | None = None,
) -> RedriveResult:
    """Move (or with ``dry_run`` count) what the DLQ holds now, at most ``max_messages``;
    a task whose ``priority`` is in ``by_priority`` goes back to that queue."""
    limit = _visible(sqs, dlq_url)
    if max_messages is not None:
        limit = min(limit, max_messages)
    reasons: Counter[str] = Counter()
    ours: set[str] = set()  # ids of the messages moved and of the copies sent
    came_back: list[str] = []
    left = 0
    kept: list[str] = []  # receipt handles of what stays in the DLQ: visible again at the end
    received = 0
    try:
        # Everything there at the start, plus each message moved coming back once.
        while received < limit + (0 if dry_run else sum(reasons.values())):
            messages = sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=MAX_BATCH,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=HOLD_SECONDS,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            received += len(messages)
            sent: list[str] = []  # receipt handles of the messages copied to the jobs queue
            try:
                for message in messages:
                    if _was_ours(message, ours):
                        came_back.append(message["MessageId"])
                    elif sum(reasons.values()) >= limit:
                        left += 1
                    else:
                        reasons[_reason(message)] += 1
                        if not dry_run:
                            target = _queue_of(message, queue_url, by_priority or {})
                            ours.update((message["MessageId"], _send(sqs, message, target)))
                            sent.append(message["ReceiptHandle"])
                            continue
                    kept.append(message["ReceiptHandle"])
            finally:
                _delete(sqs, dlq_url, sent)
    finally:
        _make_visible(sqs, dlq_url, kept)
    result = RedriveResult(
        dry_run=dry_run,
        moved=sum(reasons.values()),
        by_reason=dict(reasons),
        came_back=len(came_back),
        left=left,
    )
    if came_back:
        log.warning(
            "%d redriven jobs were dead-lettered again; left in the DLQ", len(came_back),
            extra={"fields": {"message_ids": came_back}},
        )  # fmt: skip
    log.info("redrive %s", "counted" if dry_run else "done", extra={"fields": result.__dict__})
    return result


def _queue_of(message: dict[str, Any], queue_url: str, by_priority: Mapping[str, str]) -> str:
    """The queue of the task's priority; ``queue_url`` for other messages (or unreadable)."""
    try:
        body = json.loads(message["Body"])
    except ValueError:
        return queue_url
    priority = body.get("priority") if isinstance(body, dict) else None
    return by_priority.get(priority, queue_url) if isinstance(priority, str) else queue_url


def _send(sqs: Any, message: dict[str, Any], queue_url: str) -> str:
    """Send a copy to the jobs queue; returns the copy's message id."""
    attributes = restored_attributes(message.get("MessageAttributes") or {})
    response = sqs.send_message(
        QueueUrl=queue_url, MessageBody=message["Body"], MessageAttributes=attributes
    )
    return str(response["MessageId"])


def _batches(handles: list[str]) -> list[list[str]]:
    return [handles[i : i + MAX_BATCH] for i in range(0, len(handles), MAX_BATCH)]


def _delete(sqs: Any, dlq_url: str, handles: list[str]) -> None:
    for chunk in _batches(handles):
        response = sqs.delete_message_batch(
            QueueUrl=dlq_url,
            Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
        )
        for failure in response.get("Failed", ()):
            # Sent but still in the DLQ: a later run moves it again (a duplicate, not a loss).
            log.warning("could not delete a redriven message: %s", failure)


def _make_visible(sqs: Any, dlq_url: str, handles: list[str]) -> None:
    for chunk in _batches(handles):
        sqs.change_message_visibility_batch(
            QueueUrl=dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(chunk)
            ],
        )
