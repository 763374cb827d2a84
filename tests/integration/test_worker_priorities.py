"""The worker on three queues (high, normal, low) and on batch jobs' tasks, against moto's
server over HTTP: priority order, each message settled on its own queue, canceled jobs,
``s3://`` items that live outside the input prefix.

Where only the order matters the engine is a stand-in (:class:`RecordingStandInEngine`: it
replays one real tiny.en transcript and records which audio it was given, after a fixed
pause that plays one task's time); the ``s3://`` item runs the real model.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from batch_worker.prefetch import RunLimits
from batch_worker.redrive import redrive
from batch_worker.settings import WorkerSettings
from batch_worker.worker import RunSummary, Worker
from tests.conftest import unique
from tests.integration.test_worker import keys, queue_pair, read_json, words
from tests.support.jobs import enqueue, queue_counts, upload_job
from transcription.inference.audio import SAMPLE_RATE
from transcription.inference.engines.base import TranscribeOptions
from transcription.job import Job
from transcription.settings import AwsSettings, EngineSettings, StorageSettings

pytestmark = pytest.mark.slow

JOB_ID = "0123456789abcdef0123456789abcdef"
TASK_SECONDS = 0.15  # what one task takes the stand-in engine


class RecordingStandInEngine:
    """Stand-in for the engine where only the order of the work is under test: every call
    sleeps :data:`TASK_SECONDS` and returns the same real transcript; ``calls`` records the
    seconds of audio of each call (which sample it was) and when it ended."""

    def __init__(self, engine: Any, transcript: Any) -> None:
        self.name, self.model, self.device = engine.name, engine.model, engine.device
        self.transcript = transcript
        self.calls: list[tuple[float, float]] = []  # (audio seconds, monotonic end)
        self._lock = threading.Lock()

    def transcribe(self, audio: Any, options: Any) -> Any:
        time.sleep(TASK_SECONDS)
        with self._lock:
            self.calls.append((round(len(audio) / SAMPLE_RATE, 1), time.monotonic()))
        return self.transcript


class SqsTrail:
    """Which queue each SQS call of the worker's client named, by operation."""

    def __init__(self, sqs: Any) -> None:
        self.queues: dict[str, Counter[str]] = {}
        self.entries: dict[str, Counter[str]] = {}  # batch calls: entries per queue
        self.most_asked: Counter[str] = Counter()  # the largest MaxNumberOfMessages per queue
        sqs.meta.events.register("before-parameter-build.sqs", self._on_call)

    def _on_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        url = params.get("QueueUrl", "")
        self.queues.setdefault(model.name, Counter())[url] += 1
        self.entries.setdefault(model.name, Counter())[url] += len(params.get("Entries", ()))
        asked = params.get("MaxNumberOfMessages", 0)
        self.most_asked[url] = max(self.most_asked[url], asked)


@pytest.fixture
def three_queues(sqs: Any) -> dict[str, str]:
    """High, normal and low jobs queues; all three dead-letter to the normal one's DLQ."""
    pair = queue_pair(sqs, max_receive_count=2)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=pair["dlq"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    for name in ("high", "low"):
        pair[name] = sqs.create_queue(
            QueueName=unique(f"jobs-{name}"), Attributes={"RedrivePolicy": redrive}
        )["QueueUrl"]
    return pair


@pytest.fixture
def workers(
    aws_client: Any, aws_settings: AwsSettings, three_queues: dict[str, str], bucket: str
) -> Any:
    """``workers(engine, sqs=…, s3=…, **settings)``: a worker on the test's three queues and
    bucket (``queue_url_high=None``… drops a queue)."""

    def make(engine: Any, *, sqs: Any = None, s3: Any = None, **settings: Any) -> Worker:
        chosen = {
            "queue_url_high": three_queues["high"],
            "queue_url_low": three_queues["low"],
            "wait_time_seconds": 1,
            "priority_wait_seconds": 1,
            **settings,
        }
        worker_settings = WorkerSettings(
            aws=aws_settings,
            engine=EngineSettings(),
            storage=StorageSettings(audio_bucket=bucket),
            queue_url=three_queues["queue"],
            dlq_url=three_queues["dlq"],
            **chosen,
        )
        return Worker(
            worker_settings,
            engine,
            sqs=sqs or aws_client("sqs"),
            s3=s3 or aws_client("s3"),
            dlq_url=three_queues["dlq"],
        )

    return make


def all_empty(sqs: Any, queues: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Every queue's (visible, in flight) counts that are not (0, 0)."""
    counts = {name: queue_counts(sqs, url) for name, url in queues.items()}
    return {name: c for name, c in counts.items() if c != (0, 0)}


def task(audio: Job, item_id: str, priority: str, job_id: str = JOB_ID) -> Job:
    """A batch job's task for ``audio`` as the jobs API makes it (its result key, its fields)."""
    return replace(
        audio,
        output_key=f"transcripts/jobs/{job_id}/{item_id}.json",
        reason="job",
        trace_id=job_id,
        job_id=job_id,
        task_id=f"{item_id:0>32}"[-32:],
        priority=priority,
        job_type="asr",
    )


def upload_item(s3: Any, bucket: str, key: str, body: Path) -> Job:
    """Audio an ``audio_url`` item names: anywhere in the bucket (its task sets the output)."""
    return upload_job(s3, bucket, key, body, output_key="unset.json")


def send_all(sqs: Any, queue_url: str, jobs: list[Job]) -> None:
    for start in range(0, len(jobs), 10):
        entries = [
            {"Id": str(i), "MessageBody": j.to_json(), "MessageAttributes": j.message_attributes()}
            for i, j in enumerate(jobs[start : start + 10])
        ]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)


@pytest.fixture
def stand_in(engine: Any, samples: dict[str, Path]) -> RecordingStandInEngine:
    from transcription.inference.audio import decode_audio

    transcript = engine.transcribe(decode_audio(samples["one"]).samples, TranscribeOptions())
    return RecordingStandInEngine(engine, transcript)


def test_a_high_task_sent_after_a_pile_of_low_ones_runs_before_the_third_low_after_it(
    workers: Any,
    aws_client: Any,
    three_queues: dict[str, str],
    bucket: str,
    s3: Any,
    sqs: Any,
    samples: dict[str, Path],
    stand_in: RecordingStandInEngine,
) -> None:
    low_audio = upload_item(s3, bucket, "calls/low.wav", samples["one"])  # 4.8 s
    high_audio = upload_item(
        s3, bucket, "calls/high.wav", samples["three"]
    )  # 6.8 s, the one-sample is 4.8 s
    lows = [task(low_audio, f"low-{i:03d}", "low") for i in range(100)]
    send_all(sqs, three_queues["low"], lows)
    worker_sqs = aws_client("sqs")
    trail = SqsTrail(worker_sqs)
    worker = workers(stand_in, sqs=worker_sqs)
    summary: list[RunSummary] = []
    runner = threading.Thread(
        target=lambda: summary.append(worker.run(RunLimits(exit_when_idle=2)))
    )
    runner.start()
    deadline = time.monotonic() + 60
    while len(stand_in.calls) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(stand_in.calls) >= 5, "the worker never got going"

    submitted = time.monotonic()
    enqueue(sqs, three_queues["high"], task(high_audio, "urgent", "high"))
    runner.join(120)

    assert not runner.is_alive()
    assert summary[0].outcomes == {"transcribed": 101}
    high_at = [end for seconds, end in stand_in.calls if seconds == 6.8]
    assert len(high_at) == 1
    lows_between = [
        end for seconds, end in stand_in.calls if seconds != 6.8 and submitted < end < high_at[0]
    ]
    assert len(lows_between) <= 2, f"{len(lows_between)} low tasks finished before the high one"
    # Each message was deleted from its own queue; all three are empty.
    assert trail.entries["DeleteMessageBatch"] == Counter(
        {three_queues["low"]: 100, three_queues["high"]: 1}
    )
    assert all_empty(sqs, three_queues) == {}
    # A lower queue gives only what the worker starts at once (PREFETCH=1: two slots), never
    # a batch of 10.
    assert trail.most_asked[three_queues["low"]] <= 2
    assert read_json(s3, bucket, f"transcripts/jobs/{JOB_ID}/urgent.json")["route"] == "batch"


def test_one_queue_keeps_full_batches(
    workers: Any,
    aws_client: Any,
    three_queues: dict[str, str],
    bucket: str,
    s3: Any,
    sqs: Any,
    samples: dict[str, Path],
    stand_in: RecordingStandInEngine,
) -> None:
    """Without QUEUE_URL_HIGH/QUEUE_URL_LOW, receives are today's: one long poll, up to 10."""
    audio = upload_item(s3, bucket, "calls/a.wav", samples["one"])
    send_all(sqs, three_queues["queue"], [task(audio, f"n-{i}", "normal") for i in range(20)])
    worker_sqs = aws_client("sqs")
    trail = SqsTrail(worker_sqs)
    worker = workers(stand_in, sqs=worker_sqs, queue_url_high=None, queue_url_low=None)

    assert worker.run(RunLimits.once()).outcomes == {"transcribed": 20}
    assert set(trail.queues["ReceiveMessage"]) == {three_queues["queue"]}
    assert trail.queues["ReceiveMessage"][three_queues["queue"]] < 10


def test_heartbeats_renew_each_message_on_its_own_queue(
    workers: Any,
    aws_client: Any,
    three_queues: dict[str, str],
    bucket: str,
    s3: Any,
    sqs: Any,
    stand_in: RecordingStandInEngine,
) -> None:
    audio = upload_job(s3, bucket, "audio/held.wav", b"x")
    for name in ("high", "low"):
        enqueue(sqs, three_queues[name], audio)
    worker_sqs = aws_client("sqs")
    trail = SqsTrail(worker_sqs)
    worker = workers(stand_in, sqs=worker_sqs, visibility_timeout=3, heartbeat_seconds=0.5)
    worker.heartbeat.start()
    held = worker.jobs.receive(10, 1, max_lower=10) + worker.jobs.receive(10, 1, max_lower=10)
    assert [m.queue_url for m in held] == [three_queues["high"], three_queues["low"]]
    time.sleep(2 * worker.settings.visibility)  # renewed all along: still hidden
    assert queue_counts(sqs, three_queues["high"]) == (0, 1)
    assert queue_counts(sqs, three_queues["low"]) == (0, 1)
    worker.heartbeat.stop()
    renewed = trail.entries["ChangeMessageVisibilityBatch"]
    assert set(renewed) == {three_queues["high"], three_queues["low"]}
    assert renewed[three_queues["high"]] == renewed[three_queues["low"]] >= 4

    # Returned, each to its own queue.
    assert worker.jobs.release_all() == 2
    assert queue_counts(sqs, three_queues["high"]) == (1, 0)
    assert queue_counts(sqs, three_queues["low"]) == (1, 0)
    assert queue_counts(sqs, three_queues["queue"]) == (0, 0)


def test_tasks_of_a_canceled_job_are_deleted_unrun_with_one_head_of_its_marker(
    workers: Any,
    aws_client: Any,
    three_queues: dict[str, str],
    bucket: str,
    s3: Any,
    sqs: Any,
    samples: dict[str, Path],
    stand_in: RecordingStandInEngine,
) -> None:
    canceled_job, running_job = JOB_ID, "fedcba9876543210fedcba9876543210"
    marker = f"transcripts/jobs/{canceled_job}/canceled"
    s3.put_object(Bucket=bucket, Key=marker, Body=b"")
    audio = upload_item(s3, bucket, "calls/a.wav", samples["one"])
    send_all(sqs, three_queues["queue"], [task(audio, f"c-{i}", "normal") for i in range(12)])
    enqueue(sqs, three_queues["low"], task(audio, "kept", "low", running_job))
    worker_s3 = aws_client("s3")
    heads: Counter[str] = Counter()
    worker_s3.meta.events.register(
        "before-parameter-build.s3.HeadObject", lambda params, **_: heads.update([params["Key"]])
    )
    worker = workers(stand_in, s3=worker_s3)

    summary = worker.run(RunLimits.once())

    assert summary.outcomes == {"canceled": 12, "transcribed": 1}
    assert len(stand_in.calls) == 1
    assert heads[marker] == 1
    assert heads[f"transcripts/jobs/{running_job}/canceled"] == 1
    assert keys(s3, bucket, f"transcripts/jobs/{canceled_job}/") == [marker]
    assert keys(s3, bucket, f"transcripts/jobs/{running_job}/")[0].endswith("kept.json")
    assert all_empty(sqs, three_queues) == {}


def test_an_s3_item_outside_the_input_prefix_gets_its_transcript_at_its_job_result_key(
    workers: Any,
    three_queues: dict[str, str],
    bucket: str,
    s3: Any,
    sqs: Any,
    engine: Any,
    samples: dict[str, Path],
    sample_scripts: dict[str, str],
) -> None:
    item = task(upload_item(s3, bucket, "recordings/2024/call.wav", samples["two"]), "call", "high")
    enqueue(sqs, three_queues["high"], item)
    stray = replace(item, output_key=f"transcripts/jobs/{'f' * 32}/call.json")  # another job's
    enqueue(sqs, three_queues["high"], stray)

    summary = workers(engine).run(RunLimits.once())

    assert summary.outcomes == {"transcribed": 1, "dead_lettered": 1}
    transcript = read_json(s3, bucket, f"transcripts/jobs/{JOB_ID}/call.json")
    assert transcript["source"]["key"] == "recordings/2024/call.wav"
    assert transcript["route"] == "batch"
    expected = words(sample_scripts["two"])
    assert len(words(transcript["text"]) & expected) >= 0.6 * len(expected)
    assert keys(s3, bucket, "transcripts/") == [
        f"transcripts/jobs/{JOB_ID}/call.{fmt}" for fmt in ("json", "srt", "txt", "vtt")
    ]
    (dead,) = sqs.receive_message(QueueUrl=three_queues["dlq"], MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert json.loads(dead["Body"])["output_key"] == stray.output_key
    assert queue_counts(sqs, three_queues["high"]) == (0, 0)


def test_redrive_sends_each_task_back_to_the_queue_of_its_priority(
    workers: Any,
    aws_client: Any,
    three_queues: dict[str, str],
    bucket: str,
    s3: Any,
    sqs: Any,
    samples: dict[str, Path],
) -> None:
    audio = upload_item(s3, bucket, "calls/a.wav", samples["one"])
    for item_id, priority in (("h", "high"), ("n", "normal"), ("l", "low")):
        enqueue(sqs, three_queues["dlq"], task(audio, item_id, priority))
    router_job = upload_job(s3, bucket, "audio/router.wav", b"x")
    enqueue(sqs, three_queues["dlq"], router_job)
    sqs.send_message(QueueUrl=three_queues["dlq"], MessageBody="{not json")
    worker = workers(engine=None)

    moved = redrive(
        aws_client("sqs"),
        three_queues["dlq"],
        three_queues["queue"],
        by_priority=worker.settings.queues_by_priority,
    )

    assert moved.moved == 5

    def bodies(name: str) -> list[str]:
        got = sqs.receive_message(QueueUrl=three_queues[name], MaxNumberOfMessages=10)
        return sorted(m["Body"] for m in got.get("Messages", ()))

    assert [json.loads(b)["output_key"][-6:] for b in bodies("high")] == ["h.json"]
    assert [json.loads(b)["output_key"][-6:] for b in bodies("low")] == ["l.json"]
    normal = bodies("queue")
    assert len(normal) == 3 and "{not json" in normal and router_job.to_json() in normal
