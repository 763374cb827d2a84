"""The cancel-marker cache: one HEAD per job per few seconds; "canceled" is kept for good.

Against moto's S3 over HTTP; only the clock is the test's, so no test waits for the cache.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from batch_worker.cancel import CanceledJobs
from transcription.aws import make_client
from transcription.exceptions import StorageUnavailable
from transcription.layout import Layout, OutputPolicy
from transcription.settings import AwsSettings

JOB = "0123456789abcdef0123456789abcdef"
MARKER = f"transcripts/jobs/{JOB}/canceled"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counting_heads(s3: Any) -> Counter[str]:
    heads: Counter[str] = Counter()
    s3.meta.events.register(
        "before-parameter-build.s3.HeadObject", lambda params, **_: heads.update([params["Key"]])
    )
    return heads


def policy(bucket: str) -> OutputPolicy:
    return OutputPolicy(Layout(), bucket, frozenset({bucket}))


def test_not_canceled_is_rechecked_after_a_few_seconds_and_canceled_is_kept(
    aws_client: Any, s3: Any, bucket: str
) -> None:
    worker_s3, clock = aws_client("s3"), Clock()
    heads = counting_heads(worker_s3)
    canceled = CanceledJobs(worker_s3, policy(bucket), recheck_seconds=5, clock=clock)

    assert [canceled.is_canceled(JOB) for _ in range(100)] == [False] * 100
    assert heads == {MARKER: 1}  # one HEAD for a hundred tasks

    s3.put_object(Bucket=bucket, Key=MARKER, Body=b"")  # DELETE /v1/jobs/{id}
    clock.now += 4.9
    assert not canceled.is_canceled(JOB)  # within the recheck time: the cached answer
    clock.now += 0.2
    assert canceled.is_canceled(JOB)
    assert heads == {MARKER: 2}

    s3.delete_object(Bucket=bucket, Key=MARKER)
    clock.now += 3600
    assert all(canceled.is_canceled(JOB) for _ in range(100))
    assert heads == {MARKER: 2}  # canceled stays canceled, with no more requests


def test_a_failed_head_raises_so_the_task_is_retried_not_run_unchecked(
    aws_env: dict[str, str], aws_client: Any, bucket: str
) -> None:
    down = make_client(
        "s3", AwsSettings(aws_region="us-east-1", aws_endpoint_url="http://127.0.0.1:9"),
        max_attempts=1,
    )  # fmt: skip
    with pytest.raises(StorageUnavailable):
        CanceledJobs(down, policy(bucket)).is_canceled(JOB)
