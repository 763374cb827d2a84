"""Uploaded batch-job items are queued by their job's priority (the jobs API's marker in S3).

Against moto's server over HTTP and the fake server (a real local HTTP server).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from lambda_router.handler import handle
from tests.conftest import unique
from tests.support import router_kit
from tests.support.router_kit import RouterKit, context

server, clients, kit = router_kit.server, router_kit.clients, router_kit.kit  # shared fixtures


@pytest.fixture
def queues(sqs: Any) -> dict[str, str]:
    return {p: sqs.create_queue(QueueName=unique(f"jobs-{p}"))["QueueUrl"] for p in ("high", "low")}


def job_item(kit: RouterKit, priority: str | None) -> tuple[str, Any]:
    """An item uploaded to a new job of ``priority`` (None: no marker, a normal job)."""
    job_id = uuid.uuid4().hex
    if priority is not None:
        marker = f"transcripts/jobs/{job_id}/priority"
        kit.s3.put_object(Bucket=kit.bucket, Key=marker, Body=priority.encode())
    key = f"audio/jobs/{job_id}/item-1.wav"
    etag, size = kit.upload(key)
    return key, kit.event(key, etag, size)


def route(kit: RouterKit, event: Any, queues: dict[str, str], **settings: Any) -> dict[str, Any]:
    router = kit.router(queue_url_high=queues["high"], queue_url_low=queues["low"], **settings)
    [result] = handle(router, event, context())
    return result


def test_a_low_jobs_upload_goes_to_the_low_queue_and_never_to_the_server(
    kit: RouterKit, queues: dict[str, str]
) -> None:
    key, event = job_item(kit, "low")
    result = route(kit, event, queues)
    assert (result["route"], result["reason"]) == ("queued", "job")
    assert kit.server.count() == 0  # healthy, but a low flood must not take its capacity
    [(job, _)] = kit.jobs(queues["low"])
    assert job.key == key and job.reason == "job"
    assert kit.jobs() == [] and kit.jobs(queues["high"]) == []
    assert kit.calls.names == ["GetObject", "HeadObject", "SendMessage"]


def test_a_high_jobs_upload_goes_direct_or_to_the_high_queue(
    kit: RouterKit, queues: dict[str, str]
) -> None:
    _, event = job_item(kit, "high")
    assert route(kit, event, queues)["route"] == "direct"
    key, event = job_item(kit, "high")
    result = route(kit, event, queues, server_url=None)
    assert (result["route"], result["reason"]) == ("queued", "no_server")
    [(job, _)] = kit.jobs(queues["high"])
    assert job.key == key
    assert kit.jobs() == [] and kit.jobs(queues["low"]) == []


def test_a_job_without_marker_and_an_ordinary_upload_use_the_normal_queue(
    kit: RouterKit, queues: dict[str, str]
) -> None:
    key, event = job_item(kit, None)
    route(kit, event, queues, server_url=None)
    ordinary = "audio/meetings/monday.wav"
    etag, size = kit.upload(ordinary)
    kit.calls.clear()
    route(kit, kit.event(ordinary, etag, size), queues, server_url=None)
    assert kit.calls.names == ["HeadObject", "SendMessage"]  # no marker read for it
    assert sorted(job.key for job, _ in kit.jobs()) == sorted([key, ordinary])
    assert kit.jobs(queues["high"]) == [] and kit.jobs(queues["low"]) == []


def test_the_marker_is_read_once_per_job_while_warm(kit: RouterKit, queues: dict[str, str]) -> None:
    router = kit.router(queue_url_high=queues["high"], queue_url_low=queues["low"])
    marker_job = uuid.uuid4().hex
    kit.s3.put_object(Bucket=kit.bucket, Key=f"transcripts/jobs/{marker_job}/priority", Body=b"low")
    for n in range(3):
        key = f"audio/jobs/{marker_job}/item-{n}.wav"
        etag, size = kit.upload(key)
        handle(router, kit.event(key, etag, size), context())
    assert kit.calls.names.count("GetObject") == 1
    assert len(kit.jobs(queues["low"])) == 3


def test_a_marker_naming_no_priority_is_routed_as_normal(
    kit: RouterKit, queues: dict[str, str]
) -> None:
    key, event = job_item(kit, "urgent")
    route(kit, event, queues, server_url=None)
    [(job, _)] = kit.jobs()
    assert job.key == key
