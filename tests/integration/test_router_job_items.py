"""Uploaded batch-job items are queued as their job asks (the jobs API's spec in S3).

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
from transcription.job_spec import ItemLanguages, JobSpec, task_id_of

server, clients, kit = router_kit.server, router_kit.clients, router_kit.kit  # shared fixtures


@pytest.fixture
def queues(sqs: Any) -> dict[str, str]:
    return {p: sqs.create_queue(QueueName=unique(f"jobs-{p}"))["QueueUrl"] for p in ("high", "low")}


def job_item(kit: RouterKit, spec: JobSpec | None, item: str = "item-1") -> tuple[str, Any]:
    """An item uploaded to the job of ``spec`` (None: a job folder without a spec)."""
    job_id = spec.job_id if spec is not None else uuid.uuid4().hex
    if spec is not None:
        key = f"transcripts/jobs/{job_id}/spec"
        kit.s3.put_object(Bucket=kit.bucket, Key=key, Body=spec.to_json().encode())
    key = f"audio/jobs/{job_id}/{item}.wav"
    etag, size = kit.upload(key)
    return key, kit.event(key, etag, size)


def new_spec(**fields: Any) -> JobSpec:
    return JobSpec(job_id=uuid.uuid4().hex, **fields)


def route(kit: RouterKit, event: Any, queues: dict[str, str], **settings: Any) -> dict[str, Any]:
    router = kit.router(queue_url_high=queues["high"], queue_url_low=queues["low"], **settings)
    [result] = handle(router, event, context())
    return result


def test_a_low_jobs_upload_goes_to_the_low_queue_and_never_to_the_server(
    kit: RouterKit, queues: dict[str, str]
) -> None:
    key, event = job_item(kit, new_spec(priority="low"))
    result = route(kit, event, queues)
    assert (result["route"], result["reason"]) == ("queued", "job")
    assert kit.server.count() == 0  # healthy, but a low flood must not take its capacity
    [(job, _)] = kit.jobs(queues["low"])
    assert job.key == key and job.reason == "job"
    assert kit.jobs() == [] and kit.jobs(queues["high"]) == []
    assert kit.calls.names == ["GetObject", "HeadObject", "SendMessage"]


def test_a_plain_high_jobs_upload_goes_direct_or_to_the_high_queue(
    kit: RouterKit, queues: dict[str, str]
) -> None:
    _, event = job_item(kit, new_spec(priority="high"))
    assert route(kit, event, queues)["route"] == "direct"
    key, event = job_item(kit, new_spec(priority="high"))
    result = route(kit, event, queues, server_url=None)
    assert (result["route"], result["reason"]) == ("queued", "no_server")
    [(job, _)] = kit.jobs(queues["high"])
    assert job.key == key
    assert kit.jobs() == [] and kit.jobs(queues["low"]) == []


def test_a_job_with_choices_is_queued_with_them(kit: RouterKit, queues: dict[str, str]) -> None:
    spec = new_spec(
        src_lng="en", formats=("json", "srt"), items={"talk": ItemLanguages(src_lng="es")}
    )
    key, event = job_item(kit, spec, item="talk")
    result = route(kit, event, queues)
    assert (result["route"], result["reason"]) == ("queued", "job")
    assert kit.server.count() == 0  # the direct call cannot carry a language or formats
    _, other = job_item(kit, spec, item="other")
    route(kit, other, queues)
    jobs = {job.key: job for job, _ in kit.jobs()}
    assert jobs[key].options.language == jobs[key].src_lng == "es"  # the item's own
    assert (jobs[key].job_id, jobs[key].priority, jobs[key].job_type) == (
        spec.job_id, "normal", "asr",
    )  # fmt: skip
    assert jobs[key].task_id == task_id_of(spec.job_id, "talk")
    assert jobs[key].options.formats == ("json", "srt")
    assert jobs[f"audio/jobs/{spec.job_id}/other.wav"].options.language == "en"  # the job's


def test_a_diarized_translated_jobs_item_carries_it(kit: RouterKit, queues: dict[str, str]) -> None:
    spec = new_spec(job_type="asr+nmt", tgt_lng="es", diarize={"max_speakers": 3}, model="base")
    _, event = job_item(kit, spec)
    route(kit, event, queues)
    [(job, _)] = kit.jobs()
    assert (job.job_type, job.tgt_lng, job.model) == ("asr+nmt", "es", "base")
    assert (job.diarize, job.max_speakers, job.num_speakers) == (True, 3, None)


def test_a_job_folder_without_spec_and_an_ordinary_upload_use_the_normal_queue(
    kit: RouterKit, queues: dict[str, str]
) -> None:
    key, event = job_item(kit, None)
    route(kit, event, queues, server_url=None)
    ordinary = "audio/meetings/monday.wav"
    etag, size = kit.upload(ordinary)
    kit.calls.clear()
    route(kit, kit.event(ordinary, etag, size), queues, server_url=None)
    assert kit.calls.names == ["HeadObject", "SendMessage"]  # no spec read for it
    assert sorted(job.key for job, _ in kit.jobs()) == sorted([key, ordinary])
    assert kit.jobs(queues["high"]) == [] and kit.jobs(queues["low"]) == []


def test_the_spec_is_read_once_per_job_while_warm(kit: RouterKit, queues: dict[str, str]) -> None:
    router = kit.router(queue_url_high=queues["high"], queue_url_low=queues["low"])
    spec = new_spec(priority="low")
    job_item(kit, spec, item="first")
    kit.calls.clear()
    for n in range(3):
        key = f"audio/jobs/{spec.job_id}/item-{n}.wav"
        etag, size = kit.upload(key)
        handle(router, kit.event(key, etag, size), context())
    assert kit.calls.names.count("GetObject") == 1
    assert len(kit.jobs(queues["low"])) == 3


def test_an_unreadable_spec_is_routed_as_any_upload(kit: RouterKit, queues: dict[str, str]) -> None:
    job_id = uuid.uuid4().hex
    kit.s3.put_object(Bucket=kit.bucket, Key=f"transcripts/jobs/{job_id}/spec", Body=b"{oops")
    key = f"audio/jobs/{job_id}/a.wav"
    etag, size = kit.upload(key)
    route(kit, kit.event(key, etag, size), queues, server_url=None)
    [(job, _)] = kit.jobs()
    assert job.key == key
