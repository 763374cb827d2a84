"""``python -m batch_worker`` as a real process: killed with -9, stopped with SIGTERM.

A long job (about 120 s of speech, one CPU thread) keeps the engine busy for several
seconds, so each signal lands in the middle of a transcription. The tests watch the worker's
JSON log lines to know when it is transcribing, and the queue and bucket to see the outcome.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unique
from tests.support.jobs import concatenate_wavs, enqueue, queue_counts, upload_job
from tests.support.processes import spawn, stop
from transcription.job import Job

pytestmark = pytest.mark.slow

START_TIMEOUT = 90.0  # import + model load on a busy machine


@pytest.fixture(scope="module")
def long_audio(tmp_path_factory: pytest.TempPathFactory, samples: dict[str, Path]) -> Path:
    out = tmp_path_factory.mktemp("audio") / "long.wav"
    return concatenate_wavs([samples["one"], samples["two"], samples["three"]], out, repeat=6)


@pytest.fixture
def dlq_url(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"])


class WorkerProcess:
    """One ``python -m batch_worker`` process and its log lines."""

    def __init__(self, log_path: Path, args: list[str], env: dict[str, str]) -> None:
        self.log_path = log_path
        self.process = spawn(
            [sys.executable, "-m", "batch_worker", *args], env=env, log_path=log_path
        )

    def lines(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        out = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                if predicate(line):
                    return line
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no such log line; the worker said:\n{self.log_path.read_text()}")

    def wait_transcribing(self) -> dict[str, Any]:
        return self.wait_for(lambda line: line["message"] == "transcribing", START_TIMEOUT)

    def job_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["message"].startswith("job ")]

    def exit_code(self, timeout: float) -> int:
        return self.process.wait(timeout)


@pytest.fixture
def start_worker(
    aws_env: dict[str, str], queue_url: str, dlq_url: str, bucket: str, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(*args: str, **settings: str) -> WorkerProcess:
        env = {
            "QUEUE_URL": queue_url,
            "DLQ_URL": dlq_url,
            "AUDIO_BUCKET": bucket,
            "WAIT_TIME_SECONDS": "1",
            "CPU_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            **settings,
        }
        worker = WorkerProcess(tmp_path / f"worker-{len(started)}.log", list(args), env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        stop(worker.process)


def has_transcript(s3: Any, job: Job) -> bool:
    response = s3.list_objects_v2(Bucket=job.output_bucket, Prefix=job.output_key)
    return bool(response.get("KeyCount"))


def test_kill_9_mid_job_another_worker_finishes_it_after_the_visibility_timeout(
    start_worker: Callable[..., WorkerProcess],
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    long_audio: Path,
) -> None:
    job = upload_job(s3, bucket, "audio/long.wav", long_audio)
    message_id = enqueue(sqs, queue_url, job)
    first = start_worker(VISIBILITY_TIMEOUT="2", HEARTBEAT_SECONDS="0.5")
    first.wait_transcribing()

    # Longer than the visibility timeout: only the heartbeat keeps the message hidden.
    time.sleep(3)
    assert first.process.poll() is None
    assert not has_transcript(s3, job), "the job finished before the kill; make it longer"
    assert queue_counts(sqs, queue_url) == (0, 1)

    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(10)
    assert not has_transcript(s3, job)

    second = start_worker("--max-jobs", "1", VISIBILITY_TIMEOUT="2", HEARTBEAT_SECONDS="0.5")
    assert second.exit_code(START_TIMEOUT + 60) == 0
    (line,) = second.job_lines()
    assert line["outcome"] == "transcribed"
    assert line["message_id"] == message_id
    assert line["receive_count"] == 2
    transcript = json.loads(s3.get_object(Bucket=bucket, Key=job.output_key)["Body"].read())
    assert transcript["source"]["etag"] == job.etag
    assert transcript["duration"] > 110
    assert queue_counts(sqs, queue_url) == (0, 0)


def test_sigterm_mid_job_finishes_it_and_returns_the_prefetched_one(
    start_worker: Callable[..., WorkerProcess],
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    long_audio: Path,
    samples: dict[str, Path],
) -> None:
    jobs = {
        job.key: job
        for job in (
            upload_job(s3, bucket, "audio/first.wav", long_audio),
            upload_job(s3, bucket, "audio/second.wav", samples["one"]),
        )
    }
    for job in jobs.values():
        enqueue(sqs, queue_url, job)
    worker = start_worker(PREFETCH="1", SHUTDOWN_GRACE_SECONDS="120")
    running = jobs[worker.wait_transcribing()["s3_key"]]
    (waiting,) = [job for job in jobs.values() if job is not running]
    deadline = time.monotonic() + 10
    while queue_counts(sqs, queue_url) != (0, 2) and time.monotonic() < deadline:
        time.sleep(0.1)  # until the second one is prefetched
    assert queue_counts(sqs, queue_url) == (0, 2)

    worker.process.send_signal(signal.SIGTERM)

    assert worker.exit_code(120) == 0
    outcomes = {line["s3_key"]: line["outcome"] for line in worker.job_lines()}
    assert outcomes == {running.key: "transcribed", waiting.key: "released"}
    assert has_transcript(s3, running)
    assert not has_transcript(s3, waiting)
    assert queue_counts(sqs, queue_url) == (1, 0)  # the prefetched job, visible at once
    (back,) = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(back["Body"])["key"] == waiting.key


def test_sigterm_past_the_grace_period_returns_the_running_job_unwritten(
    start_worker: Callable[..., WorkerProcess],
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    long_audio: Path,
) -> None:
    job = upload_job(s3, bucket, "audio/long.wav", long_audio)
    enqueue(sqs, queue_url, job)
    # The default visibility timeout (hours): the job can only come back through SIGTERM.
    worker = start_worker(SHUTDOWN_GRACE_SECONDS="1")
    worker.wait_transcribing()

    worker.process.send_signal(signal.SIGTERM)

    assert worker.exit_code(30) == 1
    assert queue_counts(sqs, queue_url) == (1, 0)
    assert not has_transcript(s3, job)
    (back,) = sqs.receive_message(
        QueueUrl=queue_url, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert json.loads(back["Body"])["key"] == job.key
    assert back["Attributes"]["ApproximateReceiveCount"] == "2"
