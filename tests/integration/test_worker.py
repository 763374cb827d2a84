"""The batch worker in-process, against moto's server over HTTP, with the real tiny model.

Each test makes its own queue pair (jobs queue with a redrive policy → DLQ) and bucket, runs
a :class:`Worker` until the queue is drained, and checks S3, both queues, and every SQS call
the worker made (recorded with botocore event hooks on the worker's own client).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from batch_worker.consumer import (
    MAX_ATTRIBUTES,
    dead_letter_attributes,
    dead_letter_info,
    sendable,
)
from batch_worker.prefetch import RunLimits
from batch_worker.redrive import redrive
from batch_worker.settings import WorkerSettings
from batch_worker.worker import RunSummary, Worker
from tests.conftest import unique
from tests.support.jobs import enqueue, queue_counts, upload_job
from tests.support.processes import ROOT
from transcription.aws import make_client
from transcription.exceptions import EngineError
from transcription.settings import AwsSettings, EngineSettings, StorageSettings

pytestmark = pytest.mark.slow


class SqsCalls:
    """What the worker did on SQS: which message each receive and each delete was for."""

    def __init__(self, sqs: Any) -> None:
        self.message_of: dict[str, str] = {}  # receipt handle → message id
        self.received: Counter[str] = Counter()
        self.deleted: Counter[str] = Counter()
        self._deleted_handles: list[str] = []
        self.calls: Counter[str] = Counter()  # API calls by name
        sqs.meta.events.register("before-call.sqs", self._on_call)
        sqs.meta.events.register("after-call.sqs.ReceiveMessage", self._on_receive)
        sqs.meta.events.register("before-parameter-build.sqs.DeleteMessage", self._on_delete)
        sqs.meta.events.register(
            "before-parameter-build.sqs.DeleteMessageBatch", self._on_delete_batch
        )

    def _on_call(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def _on_receive(self, parsed: dict[str, Any], **_: Any) -> None:
        for message in parsed.get("Messages", ()):
            self.message_of[message["ReceiptHandle"]] = message["MessageId"]
            self.received[message["MessageId"]] += 1

    def _on_delete(self, params: dict[str, Any], **_: Any) -> None:
        self.deleted[self.message_of[params["ReceiptHandle"]]] += 1

    def _on_delete_batch(self, params: dict[str, Any], **_: Any) -> None:
        for entry in params["Entries"]:
            self.deleted[self.message_of[entry["ReceiptHandle"]]] += 1


def queue_pair(sqs: Any, max_receive_count: int) -> dict[str, str]:
    """A jobs queue whose redrive policy moves a message to its DLQ after that many receives."""
    dlq_url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    queue_url = sqs.create_queue(QueueName=unique("jobs"), Attributes={"RedrivePolicy": policy})[
        "QueueUrl"
    ]
    return {"queue": queue_url, "dlq": dlq_url}


@pytest.fixture
def queues(sqs: Any) -> dict[str, str]:
    return queue_pair(sqs, max_receive_count=2)


class Run:
    """A worker on the test's queues: ``run(limits)`` drains them; ``calls`` records SQS."""

    def __init__(
        self, aws_client: Any, aws_settings: AwsSettings, queues: dict[str, str], bucket: str
    ) -> None:
        self.aws_client = aws_client
        self.aws_settings = aws_settings
        self.queues = queues
        self.bucket = bucket
        self.calls: SqsCalls | None = None

    def __call__(self, engine: Any, limits: RunLimits | None = None, **settings: Any) -> RunSummary:
        sqs = self.aws_client("sqs")
        self.calls = SqsCalls(sqs)
        worker_settings = WorkerSettings(
            aws=self.aws_settings,
            engine=EngineSettings(),
            storage=StorageSettings(audio_bucket=self.bucket),
            queue_url=self.queues["queue"],
            dlq_url=self.queues["dlq"],
            wait_time_seconds=1,
            **settings,
        )
        worker = Worker(
            worker_settings,
            engine,
            sqs=sqs,
            s3=self.aws_client("s3"),
            dlq_url=self.queues["dlq"],
        )
        return worker.run(limits or RunLimits.once())


@pytest.fixture
def run_worker(
    aws_client: Any, aws_settings: AwsSettings, queues: dict[str, str], bucket: str
) -> Run:
    return Run(aws_client, aws_settings, queues, bucket)


class CountingEngine:
    """The real engine, counting its calls and crashing on the ones listed in ``crash_on``."""

    def __init__(self, engine: Any, crash_on: tuple[int, ...] = ()) -> None:
        self.engine = engine
        self.name, self.model, self.device = engine.name, engine.model, engine.device
        self.calls = 0
        self.crash_on = crash_on

    def transcribe(self, audio: Any, options: Any) -> Any:
        self.calls += 1
        if self.calls in self.crash_on:
            raise EngineError("CUDA error: an illegal memory access was encountered")
        return self.engine.transcribe(audio, options)


def read_json(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    response = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in response.get("Contents", ()))


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_twenty_jobs_become_twenty_transcripts_each_message_deleted_once(
    run_worker: Run,
    engine: Any,
    s3: Any,
    sqs: Any,
    bucket: str,
    queues: dict[str, str],
    samples: dict[str, Path],
    sample_scripts: dict[str, str],
) -> None:
    names = list(itertools.islice(itertools.cycle(sorted(samples)), 20))
    jobs = {}
    for i, name in enumerate(names):
        job = upload_job(s3, bucket, f"audio/batch/{i:02d}-{name}.wav", samples[name])
        jobs[enqueue(sqs, queues["queue"], job)] = (job, name)

    summary = run_worker(engine)

    assert summary.outcomes == {"transcribed": 20}
    assert summary.clean
    assert queue_counts(sqs, queues["queue"]) == (0, 0)
    assert queue_counts(sqs, queues["dlq"]) == (0, 0)
    assert run_worker.calls is not None
    assert run_worker.calls.deleted == Counter(dict.fromkeys(jobs, 1))
    # Batched: several messages a receive, deletes in DeleteMessageBatch calls.
    assert run_worker.calls.calls["ReceiveMessage"] < len(jobs) / 2
    assert run_worker.calls.calls["DeleteMessage"] == 0
    for job, name in jobs.values():
        transcript = read_json(s3, bucket, job.output_key)
        assert transcript["route"] == "batch"
        assert transcript["source"] == {
            "bucket": bucket,
            "key": job.key,
            "etag": job.etag,
            "size": job.size,
        }
        assert transcript["timings"]["queued_at"] == job.enqueued_at
        assert transcript["timings"]["audio_seconds"] > 4
        expected = words(sample_scripts[name])
        assert len(words(transcript["text"]) & expected) >= 0.6 * len(expected), name
    sidecars = keys(s3, bucket, "transcripts/batch/")
    assert len(sidecars) == 20 * 4  # json, txt, srt, vtt
    assert not [k for k in sidecars if k.endswith(".error.json")]


def test_poison_missing_and_stale_audio_settle_after_one_receive(
    run_worker: Run,
    engine: Any,
    s3: Any,
    sqs: Any,
    bucket: str,
    queues: dict[str, str],
    samples: dict[str, Path],
) -> None:
    poison = upload_job(s3, bucket, "audio/poison.wav", b"RIFF....WAVEfmt this is not audio")
    missing = upload_job(s3, bucket, "audio/gone.mp3", b"x")
    s3.delete_object(Bucket=bucket, Key=missing.key)
    stale = upload_job(s3, bucket, "audio/replaced.wav", samples["one"])
    s3.put_object(Bucket=bucket, Key=stale.key, Body=samples["two"].read_bytes())
    ids = [enqueue(sqs, queues["queue"], job) for job in (poison, missing, stale)]

    summary = run_worker(engine)

    assert summary.outcomes == {"failed": 2, "stale": 1}
    assert run_worker.calls is not None
    assert run_worker.calls.received == Counter(dict.fromkeys(ids, 1))
    assert run_worker.calls.deleted == Counter(dict.fromkeys(ids, 1))
    assert queue_counts(sqs, queues["queue"]) == (0, 0)
    assert queue_counts(sqs, queues["dlq"]) == (0, 0)
    record = read_json(s3, bucket, "transcripts/poison.wav.error.json")
    assert record["error"] == "not_audio"
    assert record["source"] == {
        "bucket": bucket,
        "key": poison.key,
        "etag": poison.etag,
        "size": poison.size,
    }
    assert read_json(s3, bucket, "transcripts/gone.mp3.error.json")["error"] == "source_missing"
    # The replaced audio has its own event and job: no record, no transcript for the old one.
    assert keys(s3, bucket, "transcripts/") == [
        "transcripts/gone.mp3.error.json",
        "transcripts/poison.wav.error.json",
    ]


def test_malformed_and_unknown_version_go_to_the_dlq_with_a_reason_after_one_receive(
    run_worker: Run, engine: Any, sqs: Any, s3: Any, bucket: str, queues: dict[str, str]
) -> None:
    not_json = sqs.send_message(QueueUrl=queues["queue"], MessageBody="{not json")["MessageId"]
    future = upload_job(s3, bucket, "audio/v2.wav", b"x", reason="server_busy")
    body = json.loads(future.to_json()) | {"version": 2}
    version_2 = sqs.send_message(
        QueueUrl=queues["queue"],
        MessageBody=json.dumps(body),
        MessageAttributes=future.message_attributes(),
    )["MessageId"]

    summary = run_worker(engine)

    assert summary.outcomes == {"dead_lettered": 2}
    assert run_worker.calls is not None
    assert run_worker.calls.received == Counter({not_json: 1, version_2: 1})
    assert queue_counts(sqs, queues["queue"]) == (0, 0)
    dead = sqs.receive_message(
        QueueUrl=queues["dlq"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    by_body = {m["Body"]: m["MessageAttributes"] for m in dead}
    assert set(by_body) == {"{not json", json.dumps(body)}
    malformed = dead_letter_info(by_body["{not json"])
    assert malformed is not None
    assert (malformed["reason"], malformed["message_id"]) == ("malformed_job", not_json)
    unknown = by_body[json.dumps(body)]
    info = dead_letter_info(unknown)
    assert info is not None
    assert info["reason"] == "unsupported_job_version"
    assert "version 2" in info["detail"]
    assert unknown["reason"]["StringValue"] == "server_busy"  # the job's own, unchanged
    assert unknown["trace_id"]["StringValue"] == future.trace_id
    assert keys(s3, bucket, "transcripts/") == []


def test_duplicate_messages_for_one_object_make_one_transcript(
    run_worker: Run,
    engine: Any,
    s3: Any,
    sqs: Any,
    bucket: str,
    queues: dict[str, str],
    samples: dict[str, Path],
) -> None:
    job = upload_job(s3, bucket, "audio/twice.wav", samples["one"])
    ids = [enqueue(sqs, queues["queue"], job) for _ in range(3)]
    counting = CountingEngine(engine)

    summary = run_worker(counting)

    assert counting.calls == 1
    assert summary.outcomes["transcribed"] == 1
    assert summary.outcomes.get("duplicate", 0) + summary.outcomes.get("skipped", 0) == 2
    assert run_worker.calls is not None
    assert run_worker.calls.deleted == Counter(dict.fromkeys(ids, 1))
    assert queue_counts(sqs, queues["queue"]) == (0, 0)
    first = read_json(s3, bucket, job.output_key)

    # Later copies find the current transcript and leave it alone.
    enqueue(sqs, queues["queue"], job)
    assert run_worker(counting).outcomes == {"skipped": 1}
    assert counting.calls == 1
    assert read_json(s3, bucket, job.output_key) == first


def test_transient_failures_come_back_after_a_backoff_and_redrive_moves_repeat_failures(
    run_worker: Run,
    engine: Any,
    s3: Any,
    sqs: Any,
    bucket: str,
    queues: dict[str, str],
    samples: dict[str, Path],
) -> None:
    """An engine crash is retried and then succeeds; an unreadable bucket ends in the DLQ."""
    crashing = upload_job(s3, bucket, "audio/crash-once.wav", samples["one"])
    crash_id = enqueue(sqs, queues["queue"], crashing)
    unreadable = replace(
        upload_job(s3, bucket, "audio/unreadable.wav", b"x"), bucket=unique("no-such")
    )
    unreadable_id = enqueue(sqs, queues["queue"], unreadable)
    counting = CountingEngine(engine, crash_on=(1,))

    summary = run_worker(
        counting,
        RunLimits(exit_when_idle=5),
        retry_backoff_seconds=1,
        prefetch=0,
        allowed_buckets=(bucket, unreadable.bucket),  # allowed, but S3 cannot read it
    )

    assert summary.outcomes == {"retried": 3, "transcribed": 1}
    assert run_worker.calls is not None
    assert run_worker.calls.received == Counter({crash_id: 2, unreadable_id: 2})
    assert run_worker.calls.deleted == Counter({crash_id: 1})
    assert read_json(s3, bucket, crashing.output_key)["route"] == "batch"
    # maxReceiveCount = 2: SQS moved the unreadable job to the DLQ, untouched.
    assert queue_counts(sqs, queues["queue"]) == (0, 0)
    dead = sqs.receive_message(QueueUrl=queues["dlq"], MessageAttributeNames=["All"])["Messages"]
    assert [m["MessageId"] for m in dead] == [unreadable_id]
    assert dead[0]["Body"] == unreadable.to_json()
    assert dead[0]["MessageAttributes"]["reason"]["StringValue"] == "forced"
    assert keys(s3, bucket, "transcripts/unreadable") == []  # transient: no error record


def test_redrive_command_counts_then_moves_dead_letters_back(
    aws_env: dict[str, str], s3: Any, sqs: Any, bucket: str, queues: dict[str, str]
) -> None:
    worker_dead = upload_job(s3, bucket, "audio/a.wav", b"x", reason="server_busy")
    sqs.send_message(
        QueueUrl=queues["dlq"],
        MessageBody=worker_dead.to_json(),
        MessageAttributes=dead_letter_attributes(
            worker_dead.message_attributes(),
            "unsupported_job_version",
            "job version 2 is not 1",
            "an-earlier-message-id",
        ),
    )
    sqs_dead = upload_job(s3, bucket, "audio/b.wav", b"x", reason="too_large")
    enqueue(sqs, queues["dlq"], sqs_dead)
    env = {"QUEUE_URL": queues["queue"], "DLQ_URL": queues["dlq"], "AUDIO_BUCKET": bucket}

    counted = redrive_command(env, "--dry-run")
    assert counted == {
        "dry_run": True,
        "moved": 2,
        "by_reason": {"unsupported_job_version": 1, "too_large": 1},
        "came_back": 0,
        "left": 0,
    }
    assert queue_counts(sqs, queues["dlq"]) == (2, 0)
    assert queue_counts(sqs, queues["queue"]) == (0, 0)

    assert redrive_command(env)["moved"] == 2
    assert queue_counts(sqs, queues["dlq"]) == (0, 0)
    back = sqs.receive_message(
        QueueUrl=queues["queue"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    attributes = {
        json.loads(m["Body"])["key"]: {
            k: v["StringValue"] for k, v in m["MessageAttributes"].items()
        }
        for m in back
    }
    assert attributes == {
        "audio/a.wav": {"reason": "server_busy", "trace_id": worker_dead.trace_id},
        "audio/b.wav": {"reason": "too_large", "trace_id": sqs_dead.trace_id},
    }


class FailingConsumer:
    """A consumer of the jobs queue whose every job fails: it lets each message go at once.

    With ``maxReceiveCount`` 1, SQS's redrive policy moves each message straight back to the
    DLQ on its next receive.
    """

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.received = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FailingConsumer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.is_set():
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                VisibilityTimeout=0,
            )
            self.received += len(response.get("Messages", ()))


def redrive_command(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "batch_worker", "redrive", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(done.stdout))


def test_redrive_of_jobs_that_fail_again_moves_each_once_and_stops(
    aws_env: dict[str, str], aws_client: Any, s3: Any, sqs: Any, bucket: str
) -> None:
    pair = queue_pair(sqs, max_receive_count=1)
    jobs = [upload_job(s3, bucket, f"audio/fails-{i}.wav", b"x") for i in range(3)]
    dead_ids = {enqueue(sqs, pair["dlq"], job) for job in jobs}
    env = {"QUEUE_URL": pair["queue"], "DLQ_URL": pair["dlq"], "AUDIO_BUCKET": bucket}

    with FailingConsumer(aws_client("sqs"), pair["queue"]) as consumer:
        result = redrive_command(env)  # before the fix: ping-pong until the timeout
        assert result == {
            "dry_run": False,
            "moved": 3,
            "by_reason": {"forced": 3},
            "came_back": 3,
            "left": 0,
        }
    assert consumer.received == 3  # each job reached the jobs queue once
    assert queue_counts(sqs, pair["queue"]) == (0, 0)
    assert queue_counts(sqs, pair["dlq"]) == (3, 0)  # back where they were, visible
    back = sqs.receive_message(QueueUrl=pair["dlq"], MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["key"] for m in back) == sorted(j.key for j in jobs)
    assert not {m["MessageId"] for m in back} & dead_ids  # each is a copy the run sent


def test_a_dead_letter_copy_stays_within_ten_attributes_and_redrive_restores_them(
    run_worker: Run, engine: Any, s3: Any, sqs: Any, bucket: str, queues: dict[str, str]
) -> None:
    job = upload_job(s3, bucket, "audio/many-attributes.wav", b"x", reason="server_busy")
    attributes = {
        **job.message_attributes(),
        "tenant": {"DataType": "String", "StringValue": "acme"},
        "priority": {"DataType": "Number", "StringValue": "3"},
        "checksum": {"DataType": "Binary", "BinaryValue": b"\x00\xffsum"},
        **{f"tag_{i}": {"DataType": "String", "StringValue": f"v{i}"} for i in range(5)},
    }
    assert len(attributes) == MAX_ATTRIBUTES
    body = json.dumps(json.loads(job.to_json()) | {"version": 2})
    sqs.send_message(QueueUrl=queues["queue"], MessageBody=body, MessageAttributes=attributes)

    assert run_worker(engine).outcomes == {"dead_lettered": 1}

    (dead,) = sqs.receive_message(
        QueueUrl=queues["dlq"], MessageAttributeNames=["All"], VisibilityTimeout=0
    )["Messages"]
    # moto accepts more than 10; AWS refuses the SendMessage (the copy would be lost).
    assert len(dead["MessageAttributes"]) <= MAX_ATTRIBUTES
    info = dead_letter_info(dead["MessageAttributes"])
    assert info is not None and info["reason"] == "unsupported_job_version"
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "server_busy"
    assert dead["MessageAttributes"]["trace_id"]["StringValue"] == job.trace_id

    assert redrive(sqs, queues["dlq"], queues["queue"]).moved == 1
    (back,) = sqs.receive_message(QueueUrl=queues["queue"], MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert back["Body"] == body
    assert sendable(back["MessageAttributes"]) == attributes


def test_jobs_of_a_worker_that_stops_renewing_come_back_after_the_short_lease(
    aws_client: Any,
    aws_settings: AwsSettings,
    engine: Any,
    s3: Any,
    sqs: Any,
    bucket: str,
    queues: dict[str, str],
) -> None:
    """The lease (3 s here, 30 s by default) is what a kill -9 costs, not the longest job."""
    ids = {
        enqueue(sqs, queues["queue"], upload_job(s3, bucket, f"audio/held-{i}.wav", b"x"))
        for i in range(2)
    }
    settings = WorkerSettings(
        aws=aws_settings,
        engine=EngineSettings(),
        storage=StorageSettings(audio_bucket=bucket),
        queue_url=queues["queue"],
        dlq_url=queues["dlq"],
        visibility_timeout=3,
        heartbeat_seconds=0.5,
    )
    worker = Worker(settings, engine, sqs=aws_client("sqs"), s3=s3, dlq_url=queues["dlq"])
    worker.heartbeat.start()
    held = worker.jobs.receive(10, 1)
    assert {m.message_id for m in held} == ids
    time.sleep(2 * settings.visibility)  # renewed all along: still hidden
    assert queue_counts(sqs, queues["queue"]) == (0, 2)

    worker.heartbeat.stop()  # what kill -9 does to the renewals
    deadline = time.monotonic() + settings.visibility + 10
    while queue_counts(sqs, queues["queue"]) != (2, 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    back = sqs.receive_message(
        QueueUrl=queues["queue"],
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    )["Messages"]
    assert {m["MessageId"] for m in back} == ids
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in back} == {"2"}


def test_deletes_from_many_threads_share_batch_calls(
    aws_settings: AwsSettings, engine: Any, s3: Any, sqs: Any, bucket: str, queues: dict[str, str]
) -> None:
    for start in range(0, 20, 10):
        entries = [{"Id": str(i), "MessageBody": "{}"} for i in range(start, start + 10)]
        sqs.send_message_batch(QueueUrl=queues["queue"], Entries=entries)
    settings = WorkerSettings(
        aws=aws_settings,
        engine=EngineSettings(),
        storage=StorageSettings(audio_bucket=bucket),
        queue_url=queues["queue"],
        dlq_url=queues["dlq"],
    )
    worker_sqs = make_client("sqs", aws_settings)
    calls = SqsCalls(worker_sqs)
    worker = Worker(settings, engine, sqs=worker_sqs, s3=s3, dlq_url=queues["dlq"])
    held = worker.jobs.receive(10, 1) + worker.jobs.receive(10, 1)
    assert len(held) == 20

    threads = [threading.Thread(target=worker.jobs.delete, args=(m,)) for m in held]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    worker.jobs.close()

    assert calls.calls["DeleteMessageBatch"] == 2
    assert calls.deleted == Counter({m.message_id: 1 for m in held})
    assert queue_counts(sqs, queues["queue"]) == (0, 0)
