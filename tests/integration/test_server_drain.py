"""The real server (uvicorn on 127.0.0.1, tiny.en, CONCURRENCY=1) drains the jobs queue while
no direct request needs it, against moto's server over HTTP.

20 jobs are queued before the server starts. While it drains them, three direct
``/transcribe-s3`` requests come one after another: the first waits at most for the queued job
that was running (measured as a ratio to a drained job's own time), the drain takes no new job
while they come, ``/health`` said not busy (and draining) before them, and in the end the
queue is empty with 20 transcripts, each written once (the bucket is versioned: one version
per key).
"""

from __future__ import annotations

import itertools
import json
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unique
from tests.server.harness import new_key, server_env, start_server
from tests.support.jobs import enqueue, queue_counts, upload_job

pytestmark = pytest.mark.slow

JOBS = 20
DIRECT = 3
QUEUED_PREFIX = "transcripts/queued/"


def transcripts(s3: Any, bucket: str, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", ()) if o["Key"].endswith(".json"))


def versions(s3: Any, bucket: str, key: str) -> int:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return sum(1 for v in listed.get("Versions", ()) if v["Key"] == key)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_idle_server_drains_the_queue_and_direct_requests_keep_priority(
    moto_url: str,
    aws_env: dict[str, str],
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    samples: dict[str, Path],
    tmp_path: Path,
) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    names = list(itertools.islice(itertools.cycle(sorted(samples)), JOBS))
    jobs = [
        upload_job(s3, bucket, f"audio/queued/{i:02d}-{name}.wav", samples[name], formats=("json",))
        for i, name in enumerate(names)
    ]
    for job in jobs:
        enqueue(sqs, queue_url, job)
    direct_uris = []
    for k in range(DIRECT):
        key = f"audio/direct/{k}-{unique('x')}.wav"
        s3.put_object(Bucket=bucket, Key=key, Body=samples["one"].read_bytes())
        direct_uris.append(f"s3://{bucket}/{key}")

    env = server_env(
        moto_url,
        bucket,
        new_key(),
        QUEUE_URL=queue_url,
        SERVER_DRAINS_QUEUE="true",  # moto's endpoint: not on by default
        DRAIN_QUIET_SECONDS=2,
        DRAIN_WAIT_SECONDS=1,
        CONCURRENCY=1,
        OUTPUT_FORMATS="json",
        RATE_LIMIT_PER_MINUTE=0,
    )
    with start_server(env, tmp_path / "server.log") as server, server.client() as client:
        # Draining: /health says so, and not busy (a direct call may come).
        healths = []
        while len(transcripts(s3, bucket, QUEUED_PREFIX)) < 3:
            healths.append(client.get("/health").json())
            time.sleep(0.05)
        draining = [h for h in healths if h["draining"]]
        assert draining, "the server never reported draining"
        assert not any(h["busy"] for h in draining)
        # Even while the queued job holds the one slot, a direct call is welcome.
        assert any(h["in_flight"] == h["capacity"] == 1 for h in draining)

        before = len(transcripts(s3, bucket, QUEUED_PREFIX))
        waits = []
        for uri in direct_uris:
            started = time.monotonic()
            answer = client.post("/transcribe-s3", json={"s3_input_path": uri})
            elapsed = time.monotonic() - started
            assert answer.status_code == 200, answer.text
            waits.append(elapsed - answer.json()["timings"]["processing_seconds"])
        during = len(transcripts(s3, bucket, QUEUED_PREFIX)) - before

        wait_until(lambda: queue_counts(sqs, queue_url) == (0, 0), 240, "the queue to empty")
        wait_until(
            lambda: len(transcripts(s3, bucket, QUEUED_PREFIX)) == JOBS, 30, "20 transcripts"
        )
        log = server.log_lines()

    # The drain took no new job while direct requests came (at most the one running).
    assert during <= 1, f"{during} queued jobs finished during the direct requests"
    # A direct request waited at most about one queued job's time.
    job_seconds = statistics.median(
        json.loads(s3.get_object(Bucket=bucket, Key=job.output_key)["Body"].read())["timings"][
            "processing_seconds"
        ]
        for job in jobs
    )
    assert waits[0] / job_seconds <= 1.5, f"waits {waits} vs one job {job_seconds:.2f} s"
    # The ones after it found the drain paused: no queued job ahead of them at all.
    assert max(waits[1:]) / job_seconds < 0.5, f"waits {waits} vs one job {job_seconds:.2f} s"
    logging.getLogger(__name__).warning(
        "direct waits %s s; one queued job %.2f s; %d queued finished during them",
        [round(w, 2) for w in waits], job_seconds, during,
    )  # fmt: skip

    keys = transcripts(s3, bucket, QUEUED_PREFIX)
    assert keys == sorted(job.output_key for job in jobs)
    assert all(versions(s3, bucket, key) == 1 for key in keys)  # none written twice
    assert sum("drained a queued job" in line for line in log) == JOBS
