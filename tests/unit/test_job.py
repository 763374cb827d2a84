"""The job message: JSON round trip, version check, malformed bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from transcription.exceptions import MalformedJob, UnsupportedJobVersion
from transcription.job import Job, JobOptions


def make_job(**changes: Any) -> Job:
    fields: dict[str, Any] = {
        "bucket": "audio-bucket",
        "key": "audio/Ünïcødé/talk 1+2.mp3",
        "etag": "9b2cf535f27731c974343645a3985328",
        "size": 123456,
        "output_bucket": "audio-bucket",
        "output_key": "transcripts/Ünïcødé/talk 1+2.mp3.json",
        "reason": "server_busy",
        "options": JobOptions(language="de", task="translate", formats=("json", "srt")),
    }
    return Job(**{**fields, **changes})


def body(**changes: Any) -> dict[str, Any]:
    data = json.loads(make_job().to_json())
    for name, value in changes.items():
        if value is ...:
            data.pop(name)
        else:
            data[name] = value
    return data


def test_round_trip() -> None:
    job = make_job()
    text = job.to_json()
    data = json.loads(text)
    assert data["version"] == 1 and next(iter(data)) == "version"
    assert data["options"] == {"language": "de", "task": "translate", "formats": ["json", "srt"]}
    assert "Ünïcødé" in text  # not escaped
    assert Job.from_json(text) == job
    assert Job.from_json(text.encode()) == job


def test_defaults_for_optional_fields() -> None:
    job = Job.from_json(json.dumps(body(options=..., trace_id=..., enqueued_at=...)))
    assert job.options == JobOptions()
    assert job.options.formats == ("json", "txt", "srt", "vtt")
    assert len(job.trace_id) == 32
    assert job.enqueued_at.endswith("Z")


def test_message_attributes_carry_reason_and_trace_id() -> None:
    job = make_job(reason="too_large", trace_id="t-1")
    assert job.message_attributes() == {
        "reason": {"DataType": "String", "StringValue": "too_large"},
        "trace_id": {"DataType": "String", "StringValue": "t-1"},
    }


@pytest.mark.parametrize("version", [2, 0, "1", None, ...])
def test_other_versions_are_refused(version: Any) -> None:
    with pytest.raises(UnsupportedJobVersion, match="version"):
        Job.from_json(json.dumps(body(version=version)))


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        b"\xff\xfe",
        "[1, 2]",
        "null",
        json.dumps(body(bucket=...)),
        json.dumps(body(key="")),
        json.dumps(body(etag=12)),
        json.dumps(body(size=-1)),
        json.dumps(body(size=True)),
        json.dumps(body(size="12")),
        json.dumps(body(options=["json"])),
        json.dumps(body(options={"task": "summarise"})),
    ],
)
def test_malformed_bodies(text: str | bytes) -> None:
    with pytest.raises(MalformedJob) as raised:
        Job.from_json(text)
    assert not isinstance(raised.value, UnsupportedJobVersion)
    assert raised.value.code == "malformed_job" and raised.value.permanent


def test_unsupported_version_is_a_malformed_job() -> None:
    assert issubclass(UnsupportedJobVersion, MalformedJob)
    assert UnsupportedJobVersion.code == "unsupported_job_version"


# --- a batch job's task fields --------------------------------------------------------------
JOB_ID = "0123456789abcdef0123456789abcdef"


def test_a_routers_message_has_no_batch_fields_and_is_unchanged() -> None:
    job = make_job(trace_id="t-1", enqueued_at="2026-01-01T00:00:00Z")
    data = json.loads(job.to_json())
    assert list(data) == [
        "version",
        "bucket",
        "key",
        "etag",
        "size",
        "output_bucket",
        "output_key",
        "reason",
        "options",
        "enqueued_at",
        "trace_id",
    ]
    assert Job.from_json(job.to_json()).job_id is None


def test_batch_fields_round_trip_after_the_core_fields() -> None:
    job = make_job(
        reason="job", job_id=JOB_ID, task_id="t" * 32, priority="high", job_type="asr", model="base"
    )
    data = json.loads(job.to_json())
    assert list(data)[-6:] == ["trace_id", "job_id", "task_id", "priority", "job_type", "model"]
    assert Job.from_json(job.to_json()) == job
    assert "src_lng" not in data


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"job_id": "0123456789ABCDEF0123456789ABCDEF"}, "job_id"),
        ({"job_id": "j-1"}, "job_id"),
        ({"job_id": 12}, "job_id"),
        ({"job_id": JOB_ID, "priority": "urgent"}, "priority"),
        ({"task_id": ""}, "task_id"),
    ],
)
def test_invalid_batch_fields_are_malformed_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(MalformedJob, match=field):
        Job.from_json(json.dumps(body(**changes)))
