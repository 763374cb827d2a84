"""The jobs pump's SQS trigger (local_stack.jobs_pump.SqsTrigger) against moto's SQS over HTTP.

It stands in for an SQS event source mapping with ReportBatchItemFailures: the handler gets
Lambda's SQS records; what it does not report failed is deleted, what it reports failed
stays (with the visibility the handler gave it), and a handler that raises keeps the batch.
The end-to-end webhook test (tests/e2e/test_local_stack_jobs.py) runs it with the real
webhook sender.
"""

from __future__ import annotations

from typing import Any

from local_stack.jobs_pump import JobsPumpSettings, SqsTrigger
from tests.support.jobs import queue_counts


def send(sqs: Any, queue_url: str, *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)


def test_records_reported_failed_stay_and_the_others_are_deleted(sqs: Any, queue_url: str) -> None:
    send(sqs, queue_url, "ok-1", "fail", "ok-2")
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(event["Records"])
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "fail"]
        for record in event["Records"]:  # as the webhook sender hides a failed attempt
            if record["body"] == "fail":
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=60
                )
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    trigger = SqsTrigger(sqs, queue_url, handler, wait_seconds=1)
    while len(seen) < 3:
        trigger.poll_once()

    assert {r["eventSource"] for r in seen} == {"aws:sqs"}
    assert sorted(r["body"] for r in seen) == ["fail", "ok-1", "ok-2"]
    assert all(r["attributes"]["ApproximateReceiveCount"] == "1" for r in seen)
    assert (trigger.deleted, trigger.kept) == (2, 1)
    assert queue_counts(sqs, queue_url) == (0, 1)  # the failed one: kept, hidden for its backoff


def test_a_handler_that_raises_keeps_the_whole_batch(sqs: Any, queue_url: str) -> None:
    send(sqs, queue_url, "a", "b")

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("the function crashed")

    trigger = SqsTrigger(sqs, queue_url, handler, wait_seconds=1)
    received = 0
    while received < 2:
        received += trigger.poll_once()
    assert (trigger.deleted, trigger.kept) == (0, 2)
    assert sum(queue_counts(sqs, queue_url)) == 2


def test_the_tracker_pump_reads_the_result_events_queue() -> None:
    settings = JobsPumpSettings(result_events_queue_url="http://127.0.0.1:5055/123/r")
    pump = settings.tracker_pump_settings({"PUMP_CONCURRENCY": "2", "AWS_REGION": "us-east-1"})
    assert pump.events_queue_url == "http://127.0.0.1:5055/123/r"
    assert pump.pump_concurrency == 2
