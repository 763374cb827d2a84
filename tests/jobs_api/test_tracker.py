"""The tracker on moto's server: results counted once, each job completed and published once."""

from __future__ import annotations

import dataclasses
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from tenacity import wait_none

from jobs_api.completion import Notifier, NotifyFailed
from jobs_api.tracker import MalformedEvent, Tracker, build_tracker, result_objects
from tests.jobs_api.conftest import Api, JobsStack, bearer
from tests.jobs_api.test_api_jobs import receive_all
from tests.support.sample_events import load_event

TRANSCRIPT = {
    "version": 1, "text": "hello", "language": "en", "duration": 2.5, "segments": [],
    "engine": "faster-whisper", "model": "tiny.en", "route": "batch",
    "timings": {"processing_seconds": 0.25, "audio_seconds": 2.5},
}  # fmt: skip


@pytest.fixture
def tracker(jobs_stack: JobsStack) -> Tracker:
    return build_tracker(jobs_stack.settings, **jobs_stack.clients)


@pytest.fixture
def writer(api: Api) -> dict[str, str]:
    return bearer(api.issue("team-a", ["jobs:write", "jobs:read"])["key"])


def created(bucket: str, key: str, sample: str = "eventbridge-object-created-moto") -> Any:
    return load_event(sample, bucket=bucket, key=key)


def make_job(api: Api, writer: dict[str, str], s3: Any, samples: dict[str, Path], n: int) -> str:
    s3.put_object(Bucket=api.stack.bucket, Key="in/one.wav", Body=samples["one"].read_bytes())
    items: list[dict[str, Any]] = [
        {"id": f"i{k}", "audio_url": f"s3://{api.stack.bucket}/in/one.wav"} for k in range(n)
    ]
    items.append({"id": "up", "upload": True, "ext": "wav"})
    body = {"job_type": "asr", "items": items, "options": {"formats": ["json", "txt"]}}
    response = api.http.post("/v1/jobs", json=body, headers=writer)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


def write_result(s3: Any, bucket: str, key: str, body: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode())
    if not key.endswith(".error.json"):
        s3.put_object(Bucket=bucket, Key=key.removesuffix(".json") + ".txt", Body=b"hello")


def test_a_job_runs_to_partially_failed_with_progress_at_each_step(
    api: Api, writer: dict[str, str], s3: Any, sqs: Any, samples: dict[str, Path],
    tracker: Tracker,
) -> None:  # fmt: skip
    bucket = api.stack.bucket
    job_id = make_job(api, writer, s3, samples, 2)
    prefix = f"transcripts/jobs/{job_id}"

    def progress() -> dict[str, int]:
        return api.http.get(f"/v1/jobs/{job_id}", headers=writer).json()["progress"]

    write_result(s3, bucket, f"{prefix}/i0.json", TRANSCRIPT)
    [outcome] = tracker.handle(created(bucket, f"{prefix}/i0.json"))
    assert outcome.what == "counted"
    assert progress() == {"total": 3, "queued": 2, "running": 0, "succeeded": 1, "failed": 0,
                          "canceled": 0}  # fmt: skip

    error = {"error": "not_audio", "detail": "not a readable audio file", "source": "worker"}
    write_result(s3, bucket, f"{prefix}/i1.error.json", error)
    [outcome] = tracker.handle(created(bucket, f"{prefix}/i1.error.json", "sqs-eventbridge"))
    assert outcome.what == "counted"
    assert progress()["failed"] == 1

    # the uploaded item, routed by the router: its result follows the core layout
    write_result(s3, bucket, f"{prefix}/up.wav.json", TRANSCRIPT)
    aws_style = created(bucket, f"{prefix}/up.wav.json", "eventbridge-object-created")
    [outcome] = tracker.handle(aws_style)  # as AWS sends it: the key URL-encoded
    assert outcome.what == "completed"

    job = api.http.get(f"/v1/jobs/{job_id}", headers=writer).json()
    assert job["status"] == "partially_failed" and job["completed_at"]
    items = {i["id"]: i for i in job["items"]}
    assert items["i0"]["language"] == "en" and items["i0"]["model"] == "tiny.en"
    assert items["i0"]["timings"]["processing_seconds"] == 0.25
    assert items["i1"]["error"]["code"] == "not_audio"
    [event] = receive_all(sqs, api.stack.events_queue)
    assert event["source"] == "transcription-router"
    assert event["detail-type"] == "Transcription Job Completed"
    assert event["detail"]["status"] == "partially_failed"
    assert event["detail"]["owner"] == "team-a"
    assert event["detail"]["progress"]["succeeded"] == 2
    assert event["detail"]["results_url"].endswith(f"/v1/jobs/{job_id}/results")

    results = api.http.get(f"/v1/jobs/{job_id}/results", headers=writer).json()
    links = {i["id"]: i for i in results["items"]}
    assert set(links["i0"]["results"]) == {"json", "txt"}
    assert httpx.get(links["i0"]["results"]["json"]["url"]).json()["text"] == "hello"
    assert httpx.get(links["up"]["results"]["txt"]["url"]).text == "hello"
    assert httpx.get(links["i1"]["results"]["error"]["url"]).json()["error"] == "not_audio"


def test_ten_concurrent_duplicate_completions_count_once_and_complete_once(
    api: Api, writer: dict[str, str], s3: Any, sqs: Any, samples: dict[str, Path],
    tracker: Tracker,
) -> None:  # fmt: skip
    bucket = api.stack.bucket
    job_id = make_job(api, writer, s3, samples, 1)
    prefix = f"transcripts/jobs/{job_id}"
    write_result(s3, bucket, f"{prefix}/up.wav.json", TRANSCRIPT)
    tracker.handle(created(bucket, f"{prefix}/up.wav.json"))
    write_result(s3, bucket, f"{prefix}/i0.json", TRANSCRIPT)
    barrier = threading.Barrier(10)

    def deliver(_: int) -> str:
        barrier.wait()
        [outcome] = tracker.handle(created(bucket, f"{prefix}/i0.json"))
        return outcome.what

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(deliver, range(10)))
    assert outcomes.count("completed") == 1
    assert outcomes.count("completed") + outcomes.count("duplicate") == 10
    job = api.http.get(f"/v1/jobs/{job_id}", headers=writer).json()
    assert job["progress"]["succeeded"] == 2 and job["status"] == "succeeded"
    assert len(receive_all(sqs, api.stack.events_queue)) == 1
    again = tracker.handle(created(bucket, f"{prefix}/i0.json"))
    assert [o.what for o in again] == ["duplicate"]


def test_keys_that_are_not_results_of_a_task_are_ignored(
    api: Api, writer: dict[str, str], s3: Any, samples: dict[str, Path], tracker: Tracker
) -> None:
    bucket = api.stack.bucket
    job_id = make_job(api, writer, s3, samples, 1)
    for key in (
        "transcripts/a/talk.wav.json",  # an ordinary upload's transcript
        f"transcripts/jobs/{job_id}/i0.txt",  # a sidecar
        f"transcripts/jobs/{job_id}/canceled",  # the cancel marker
        f"transcripts/jobs/{job_id}/nobody.json",  # no such item
        f"transcripts/jobs/{job_id}/i0.wav.json",  # not where i0's result goes
        f"transcripts/jobs/{'0' * 32}/i0.json",  # no such job
        f"audio/jobs/{job_id}/up.wav",  # the upload itself
    ):
        [outcome] = tracker.handle(created(bucket, key))
        assert outcome.what == "ignored", key
    [outcome] = tracker.handle(created("another-bucket", f"transcripts/jobs/{job_id}/i0.json"))
    assert outcome.what == "ignored"
    assert api.http.get(f"/v1/jobs/{job_id}", headers=writer).json()["progress"]["queued"] == 2


def test_other_events_are_skipped_or_refused() -> None:
    assert result_objects(load_event("eventbridge-object-deleted")) == []
    with pytest.raises(MalformedEvent):
        result_objects({"hello": "world"})
    with pytest.raises(MalformedEvent):
        result_objects([1])


def test_a_failed_announcement_is_made_by_the_redelivered_event(
    api: Api, writer: dict[str, str], s3: Any, sqs: Any, samples: dict[str, Path],
    jobs_stack: JobsStack, tracker: Tracker,
) -> None:  # fmt: skip
    bucket = api.stack.bucket
    job_id = make_job(api, writer, s3, samples, 0)  # one item: the upload
    key = f"transcripts/jobs/{job_id}/up.wav.json"
    write_result(s3, bucket, key, TRANSCRIPT)
    no_bus = dataclasses.replace(jobs_stack.settings, jobs_event_bus="no-such-bus")
    failing = Tracker(
        tracker.jobs, s3,
        Notifier(no_bus, jobs_stack.clients["events"], sqs, retry_wait=wait_none()),
        tracker.layout, bucket,
    )  # fmt: skip
    with pytest.raises(NotifyFailed):
        failing.handle(created(bucket, key))
    assert receive_all(sqs, api.stack.events_queue) == []
    assert [o.what for o in tracker.handle(created(bucket, key))] == ["completed"]
    assert [o.what for o in tracker.handle(created(bucket, key))] == ["duplicate"]
    [event] = receive_all(sqs, api.stack.events_queue)
    assert event["detail"]["job_id"] == job_id and event["detail"]["status"] == "succeeded"


def test_an_uploaded_items_result_at_the_jobs_result_key_counts_and_is_linked(
    api: Api, writer: dict[str, str], s3: Any, samples: dict[str, Path], tracker: Tracker
) -> None:
    """The core layout's ``job_result_key`` (``jobs/<job>/<item>.json``) for a routed upload."""
    bucket = api.stack.bucket
    job_id = make_job(api, writer, s3, samples, 0)
    key = f"transcripts/jobs/{job_id}/up.json"
    write_result(s3, bucket, key, TRANSCRIPT)
    assert [o.what for o in tracker.handle(created(bucket, key))] == ["completed"]
    same = tracker.handle(created(bucket, f"transcripts/jobs/{job_id}/up.wav.json"))
    assert [o.what for o in same] == ["duplicate"]  # both forms name one task
    results = api.http.get(f"/v1/jobs/{job_id}/results", headers=writer).json()
    [item] = results["items"]
    assert httpx.get(item["results"]["txt"]["url"]).text == "hello"
