"""The worker's pure parts: settings and the lease, failure classification and
backoff, dead-letter attributes, per-job metrics, and the command line."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_none

from batch_worker.__main__ import build_parser
from batch_worker.consumer import (
    DEAD_LETTER,
    MAX_ATTRIBUTES,
    JobConsumer,
    Received,
    dead_letter_attributes,
    dead_letter_info,
    restored_attributes,
)
from batch_worker.exceptions import QueueUnreachable
from batch_worker.failures import MAX_BACKOFF_SECONDS, Action, backoff_seconds, classify
from batch_worker.heartbeat import Heartbeat
from batch_worker.metrics import SCHEMA, job_fields
from batch_worker.prefetch import Pace
from batch_worker.processor import parse_job
from batch_worker.settings import WorkerSettings
from tests.unit.test_light_imports import heavy_modules_after_import
from transcription import exceptions as errors
from transcription.aws import make_client
from transcription.job import Job
from transcription.settings import AwsSettings, load
from transcription.transcript import Timings, Transcript

BASE_ENV = {"QUEUE_URL": "http://127.0.0.1:1/123456789012/jobs", "AUDIO_BUCKET": "audio"}


# --- settings ----------------------------------------------------------------------------
def test_a_job_is_leased_for_three_heartbeats_not_for_the_longest_job() -> None:
    settings = load(WorkerSettings, BASE_ENV)
    assert (settings.visibility, settings.heartbeat_interval) == (30, 10)
    slow = load(WorkerSettings, {**BASE_ENV, "HEARTBEAT_SECONDS": "20"})
    assert slow.visibility == 60
    fast = load(WorkerSettings, {**BASE_ENV, "HEARTBEAT_SECONDS": "2"})
    assert fast.visibility == 30  # never shorter than 30 s by default
    assert load(WorkerSettings, {**BASE_ENV, "HEARTBEAT_SECONDS": "20000"}).visibility == 43_200


def test_explicit_visibility_and_heartbeat_win() -> None:
    settings = load(
        WorkerSettings, {**BASE_ENV, "VISIBILITY_TIMEOUT": "6", "HEARTBEAT_SECONDS": "1.5"}
    )
    assert (settings.visibility, settings.heartbeat_interval) == (6, 1.5)
    assert load(WorkerSettings, {**BASE_ENV, "VISIBILITY_TIMEOUT": "6"}).heartbeat_interval == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HEARTBEAT_SECONDS", "0"),
        ("HEARTBEAT_SECONDS", "50000"),  # not less than the lease (at most 12 h)
        ("VISIBILITY_TIMEOUT", "50000"),
        ("PREFETCH", "-1"),
        ("WAIT_TIME_SECONDS", "21"),
        ("WAIT_TIME_SECONDS", "0"),
        ("PRIORITY_WAIT_SECONDS", "0"),
        ("PRIORITY_WAIT_SECONDS", "21"),
    ],
)
def test_invalid_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(errors.SettingsError, match=name):
        load(WorkerSettings, {**BASE_ENV, name: value})


def test_queue_url_is_required() -> None:
    with pytest.raises(errors.SettingsError, match="QUEUE_URL"):
        load(WorkerSettings, {})


def test_the_worker_drains_high_then_normal_then_low_and_skips_empty_queues() -> None:
    assert load(WorkerSettings, BASE_ENV).queue_urls == (BASE_ENV["QUEUE_URL"],)
    empty = {**BASE_ENV, "QUEUE_URL_HIGH": "", "QUEUE_URL_LOW": ""}
    assert load(WorkerSettings, empty).queue_urls == (BASE_ENV["QUEUE_URL"],)
    three = {**BASE_ENV, "QUEUE_URL_HIGH": "http://h", "QUEUE_URL_LOW": "http://l"}
    assert load(WorkerSettings, three).queue_urls == ("http://h", BASE_ENV["QUEUE_URL"], "http://l")
    same = {**BASE_ENV, "QUEUE_URL_LOW": BASE_ENV["QUEUE_URL"]}  # the jobs API's default
    assert load(WorkerSettings, same).queue_urls == (BASE_ENV["QUEUE_URL"],)
    assert load(WorkerSettings, BASE_ENV).priority_wait_seconds == 2


# --- failures ----------------------------------------------------------------------------
def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetObject")


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (errors.MalformedJob("x"), Action.DEAD_LETTER),
        (errors.UnsupportedJobVersion("x"), Action.DEAD_LETTER),
        (errors.NotAudio("x"), Action.RECORD),
        (errors.EmptyAudio("x"), Action.RECORD),
        (errors.AudioTooLong(4000, 3600), Action.RECORD),
        (errors.SourceMissing("x"), Action.RECORD),
        (errors.UnsupportedExtension("x"), Action.RECORD),
        (errors.SourceChanged("x"), Action.DROP),
        (errors.StorageUnavailable("x"), Action.RETRY),
        (errors.EngineError("x"), Action.RETRY),
        (client_error("AccessDenied"), Action.RETRY),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), Action.RETRY),
        (MemoryError(), Action.RETRY),
    ],
)
def test_classify(error: BaseException, action: Action) -> None:
    assert classify(error).action is action


def test_classify_keeps_the_error_code_for_the_record_and_the_dlq_reason() -> None:
    disposition = classify(errors.AudioTooLong(4000, 3600))
    assert disposition.code == "audio_too_long"
    assert "4000" in disposition.detail
    assert classify(client_error("AccessDenied")).code == "AccessDenied"
    assert classify(MemoryError()).code == "MemoryError"


def test_backoff_grows_with_each_receive_is_jittered_and_capped() -> None:
    rng = random.Random(7)
    for count, ceiling in [(1, 30), (2, 60), (3, 120), (4, 240)]:
        values = {backoff_seconds(count, 30, rng) for _ in range(50)}
        assert min(values) >= ceiling / 2
        assert max(values) <= ceiling
        assert len(values) > 5  # jittered
    assert backoff_seconds(30, 30, rng) <= MAX_BACKOFF_SECONDS
    assert backoff_seconds(1, 0, rng) == 0


# --- how many to receive at once ----------------------------------------------------------
def test_pace_receives_ten_short_jobs_at_once_and_long_jobs_one_by_one() -> None:
    pace = Pace(horizon_seconds=30, first_batch=2)
    assert pace.batch() == 2  # nothing measured yet: one per prefetch slot
    pace.record("prepare", 0.02)
    pace.record("compute", 0.1)
    assert pace.batch() == 10  # SQS's limit
    slow = Pace(horizon_seconds=30, first_batch=2)
    slow.record("prepare", 2.0)
    slow.record("compute", 600.0)
    assert slow.batch() == 1  # the rest of the queue stays for other workers
    for _ in range(30):
        slow.record("compute", 4.0)  # the jobs got shorter: it follows
    assert slow.batch() == 4  # 30 s ÷ (2 + 4 s)


# --- job parsing -------------------------------------------------------------------------
def job_body(**changes: Any) -> str:
    job = Job(
        bucket="b", key="audio/a.wav", etag="e", size=1, output_bucket="b",
        output_key="transcripts/a.wav.json", reason="forced",
    )  # fmt: skip
    data = json.loads(job.to_json())
    data.update(changes)
    return json.dumps(data)


def test_parse_job_refuses_unknown_output_formats() -> None:
    assert parse_job(job_body()).key == "audio/a.wav"
    with pytest.raises(errors.MalformedJob, match="docx"):
        parse_job(job_body(options={"formats": ["json", "docx"]}))


# --- dead-letter attributes --------------------------------------------------------------
def test_dead_letter_attributes_round_trip_through_redrive() -> None:
    received = {
        "reason": {"DataType": "String", "StringValue": "server_busy", "StringListValues": []},
        "trace_id": {"DataType": "String", "StringValue": "t1"},
    }
    dead = dead_letter_attributes(received, "unsupported_job_version", "v2 " * 600, "m1")
    assert set(dead) == {"reason", "trace_id", DEAD_LETTER}  # one attribute added, none renamed
    info = dead_letter_info(dead)
    assert info is not None
    assert (info["reason"], info["message_id"]) == ("unsupported_job_version", "m1")
    assert len(info["detail"]) == 1000
    assert "StringListValues" not in dead["trace_id"]
    assert restored_attributes(dead) == {
        "reason": {"DataType": "String", "StringValue": "server_busy"},
        "trace_id": {"DataType": "String", "StringValue": "t1"},
    }


@pytest.mark.parametrize("count", [8, 9, 10])
def test_dead_letter_copy_of_a_message_with_many_attributes_keeps_within_sqs_limit(
    count: int,
) -> None:
    original = {
        "reason": {"DataType": "String", "StringValue": "server_busy"},
        "trace_id": {"DataType": "String", "StringValue": "t1"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        **{f"a{i}": {"DataType": "Number", "StringValue": str(i)} for i in range(count - 3)},
    }
    dead = dead_letter_attributes(original, "malformed_job", "bad", "m1")
    assert len(dead) == min(count + 1, MAX_ATTRIBUTES)
    assert {"reason", "trace_id", DEAD_LETTER} <= set(dead)  # the useful ones stay visible
    assert restored_attributes(dead) == original


def test_messages_moved_by_sqs_keep_their_attributes_on_redrive() -> None:
    attributes = {"reason": {"DataType": "String", "StringValue": "too_large"}}
    assert restored_attributes(attributes) == attributes


def test_received_reads_receive_count_and_attributes() -> None:
    attributes = {"reason": {"DataType": "String", "StringValue": "forced"}}
    message = Received.from_sqs(
        {
            "MessageId": "m",
            "ReceiptHandle": "r",
            "Body": "{}",
            "Attributes": {"ApproximateReceiveCount": "3"},
            "MessageAttributes": attributes,
        }
    )
    assert (message.receive_count, message.attributes) == (3, attributes)


# --- metrics -----------------------------------------------------------------------------
def test_job_line_has_the_numbers_and_is_a_valid_emf_record() -> None:
    message = Received("m1", "r", "{}", 2, {}, received_wall=time.time())
    message.stages["download_seconds"] = 0.25
    job = Job.from_json(job_body(enqueued_at="2020-01-01T00:00:00.000Z"))
    transcript = Transcript(
        text="hi", language="en", duration=10.0, segments=(), engine="e", model="m",
        device="cpu", timings=Timings(audio_seconds=10.0, processing_seconds=2.5),
    )  # fmt: skip
    fields = job_fields(message, "transcribed", job, transcript)
    assert fields["realtime_factor"] == 0.25
    assert fields["audio_seconds"] == 10.0
    assert fields["receive_count"] == 2
    assert fields["queued_seconds"] > 365 * 24 * 3600
    assert fields["download_seconds"] == 0.25
    record = {**fields, "_aws": SCHEMA.directive("NS", fields)}
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "NS"
    assert all(isinstance(record[d], str) for dims in directive["Dimensions"] for d in dims)
    names = [m["Name"] for m in directive["Metrics"]]
    assert {
        "jobs",
        "audio_seconds",
        "processing_seconds",
        "realtime_factor",
        "queued_seconds",
    } <= set(names)
    assert all(isinstance(record[name], int | float) for name in names)


def test_failed_job_line_has_no_audio_numbers() -> None:
    fields = job_fields(Received("m1", "r", "{}", 1, {}), "dead_lettered", error="malformed_job")
    assert fields["error"] == "malformed_job"
    assert "audio_seconds" not in fields
    (directive,) = SCHEMA.directive("NS", fields)["CloudWatchMetrics"]
    assert {m["Name"] for m in directive["Metrics"]} == {"jobs", "total_seconds"}


# --- receiving when SQS is unreachable ----------------------------------------------------
def test_receive_retries_a_bounded_number_of_times_then_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    sqs = make_client(
        "sqs",
        AwsSettings(aws_region="us-east-1", aws_endpoint_url="http://127.0.0.1:9"),
        max_attempts=1,
    )
    attempts: list[int] = []
    retrying = Retrying(
        retry=retry_if_exception_type(QueueUnreachable),
        stop=stop_after_attempt(3),
        wait=wait_none(),
        after=lambda state: attempts.append(state.attempt_number),
        reraise=True,
    )
    queue = JobConsumer(sqs, BASE_ENV["QUEUE_URL"], "dlq", Heartbeat(sqs, "q", 30, 10), retrying)
    with pytest.raises(QueueUnreachable):
        queue.receive(1, 0)
    assert attempts == [1, 2, 3]


# --- command line ------------------------------------------------------------------------
def test_command_line() -> None:
    parser = build_parser()
    run = parser.parse_args(["--exit-when-idle", "300", "--max-jobs", "5"])
    assert (run.command, run.exit_when_idle, run.max_jobs, run.once) == (None, 300.0, 5, False)
    assert parser.parse_args(["--once"]).once
    redrive = parser.parse_args(["redrive", "--dry-run", "--max", "3"])
    assert (redrive.command, redrive.dry_run, redrive.max_messages) == ("redrive", True, 3)
    for bad in (["--max-jobs", "0"], ["--exit-when-idle", "-1"], ["redrive", "--max", "0"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


# --- the scheduler Lambda stays light ------------------------------------------------------
@pytest.mark.parametrize("module", ["batch_worker.scheduler", "batch_worker.__main__"])
def test_scheduler_and_command_line_import_nothing_heavy(module: str) -> None:
    """The scheduler's zip holds batch_worker/ and transcription/ only; redrive needs no engine."""
    assert heavy_modules_after_import(module) == []
