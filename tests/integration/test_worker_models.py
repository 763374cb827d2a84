"""The batch worker with a model pool: each job's ``model`` (set by the jobs API) is used.

A job naming a model outside the worker's MODELS fails with an error record naming it; the
worker goes on with the other jobs. Real models (tiny.en, base), moto's server over HTTP.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_worker import Run, queue_pair
from tests.support.jobs import enqueue, queue_counts, upload_job
from transcription.inference.engines.pool import ModelPool
from transcription.settings import AwsSettings, EngineSettings

pytestmark = pytest.mark.slow


def read_json(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_each_job_runs_on_its_model_and_an_unknown_model_fails_with_a_record(
    aws_client: Any,
    aws_settings: AwsSettings,
    s3: Any,
    sqs: Any,
    bucket: str,
    samples: dict[str, Path],
) -> None:
    queues = queue_pair(sqs, max_receive_count=2)
    pool = ModelPool(EngineSettings(model="tiny.en", models=("tiny.en", "base")))
    pool.preload()
    jobs = {
        "base": replace(upload_job(s3, bucket, "audio/m/base.wav", samples["one"]), model="base"),
        "default": upload_job(s3, bucket, "audio/m/default.wav", samples["two"]),
        "unknown": replace(
            upload_job(s3, bucket, "audio/m/unknown.wav", samples["three"]), model="large-v9"
        ),
    }
    for job in jobs.values():
        enqueue(sqs, queues["queue"], job)

    summary = Run(aws_client, aws_settings, queues, bucket)(pool)

    assert summary.outcomes == {"transcribed": 2, "failed": 1}
    assert queue_counts(sqs, queues["queue"]) == (0, 0)
    assert queue_counts(sqs, queues["dlq"]) == (0, 0)
    assert read_json(s3, bucket, jobs["base"].output_key)["model"] == "base"
    assert read_json(s3, bucket, jobs["default"].output_key)["model"] == "tiny.en"
    record = read_json(s3, bucket, jobs["unknown"].output_key.removesuffix(".json") + ".error.json")
    assert record["error"] == "unknown_model"
    assert "'large-v9'" in record["detail"]
