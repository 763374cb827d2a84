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
