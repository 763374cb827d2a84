"""A job message's ``model``: the jobs API sets it at the top level; the worker reads it."""

from __future__ import annotations

import json

import pytest

from jobs_api.publisher import TaskMessage
from transcription.exceptions import MalformedJob
from transcription.job import Job

JOB = Job(
    bucket="audio",
    key="audio/a.wav",
    etag="0123",
    size=10,
    output_bucket="audio",
    output_key="transcripts/a.wav.json",
    reason="job",
)


def test_the_model_the_jobs_api_sets_is_read_back() -> None:
    body = TaskMessage(
        JOB, "0123456789abcdef0123456789abcdef", "task-1", "normal", "asr", {"model": "base"}
    ).body()
    assert Job.from_json(body).model == "base"


def test_a_job_without_a_model_keeps_the_message_it_had() -> None:
    assert "model" not in json.loads(JOB.to_json())
    assert Job.from_json(JOB.to_json()).model is None


def test_a_model_that_is_not_text_is_a_malformed_job() -> None:
    data = json.loads(JOB.to_json())
    data["model"] = 5
    with pytest.raises(MalformedJob, match="model must be a string"):
        Job.from_json(json.dumps(data))
