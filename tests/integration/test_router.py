"""The router against moto's server over HTTP and a real local HTTP server (the fake server).

Each route and reason, with the AWS calls made on each path counted through botocore's
``before-call`` hook on the router's own clients: direct = one S3 HEAD + the HTTP calls,
queue = HEAD + SendMessage, nothing else (no DescribeInstances, no SSM while SERVER_URL
is set).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fastapi_server.auth import KeyRing
from fastapi_server.main import create_app
from lambda_router import handler
from lambda_router.exceptions import EnqueueFailed, MalformedEvent
from lambda_router.handler import handle, process
from lambda_router.health import interpret
from tests.conftest import REGION
from tests.server.harness import in_process_settings
from tests.support import router_kit
from tests.support.fake_server import FakeServer
from tests.support.processes import free_port
from tests.support.router_kit import RouterKit, context
from tests.support.sample_events import load_event
from transcription.aws import make_client
from transcription.job import REASONS
from transcription.settings import AwsSettings, StorageSettings

KEY = "audio/meetings/monday.wav"
OUT = "transcripts/meetings/monday.wav.json"


server, clients, kit = router_kit.server, router_kit.clients, router_kit.kit  # shared fixtures


def route(kit: RouterKit, event: Any, **settings: Any) -> dict[str, Any]:
    [result] = handle(kit.router(**settings), event, context())
    return result


# --- direct -----------------------------------------------------------------------------
def test_direct_is_one_head_plus_health_and_post(kit: RouterKit) -> None:
    etag, size = kit.upload(KEY)
    result = route(kit, kit.event(KEY, etag, size))
    assert result["route"] == "direct" and result["reason"] == "server_ready"
    assert result["output_key"] == OUT and result["attempts"] == 1
    assert result["elapsed_ms"] > 0
    assert kit.calls.names == ["HeadObject"]
    assert [r.path for r in kit.server.seen()] == ["/health", "/transcribe-s3"]
    [post] = kit.server.seen("/transcribe-s3")
    assert post.body == {
        "s3_input_path": f"s3://{kit.bucket}/{KEY}",
        "s3_output_path": f"s3://{kit.bucket}/{OUT}",
        "etag": etag,
        "return_text": False,
    }
    transcript = kit.transcript(OUT)
    assert transcript is not None and transcript["source"]["etag"] == etag
    assert kit.jobs() == []


def test_api_key_is_sent_as_bearer(kit: RouterKit) -> None:
    kit.server.api_key = "router-key-123"
    try:
        etag, size = kit.upload(KEY)
        assert route(kit, kit.event(KEY, etag, size), api_key="router-key-123")["route"] == "direct"
        [post] = kit.server.seen("/transcribe-s3")
        assert post.headers["authorization"] == "Bearer router-key-123"
    finally:
        kit.server.api_key = None


def test_health_answer_is_cached_for_a_few_seconds(kit: RouterKit) -> None:
    router = kit.router(health_cache_seconds=30.0)
    for i in range(3):
        key = f"audio/cache/{i}.wav"
        etag, size = kit.upload(key)
        [result] = handle(router, kit.event(key, etag, size), context())
        assert result["route"] == "direct"
    assert kit.server.count("/health") == 1
    assert kit.server.count("/transcribe-s3") == 3


# --- queued -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "reason", "paths"),
    [
        ("down", "server_down", []),
        ("failing", "server_down", ["/health"]),
        ("starting", "server_down", ["/health"]),
        ("busy", "server_busy", ["/health"]),
    ],
)
def test_queue_when_the_server_cannot_take_it(
    kit: RouterKit, mode: str, reason: str, paths: list[str]
) -> None:
    etag, size = kit.upload(KEY)
    kit.server.set_mode(mode)
    result = route(kit, kit.event(KEY, etag, size))
    assert (result["route"], result["reason"], result["attempts"]) == ("queued", reason, 0)
    assert kit.calls.names == ["HeadObject", "SendMessage"]
    assert [r.path for r in kit.server.seen()] == paths
    [(job, attributes)] = kit.jobs()
    assert (job.bucket, job.key, job.etag, job.size) == (kit.bucket, KEY, etag, size)
    assert (job.output_bucket, job.output_key, job.reason) == (kit.bucket, OUT, reason)
    assert attributes["reason"]["StringValue"] == reason
    assert job.trace_id == result["trace_id"]
    assert job.options.formats == ("json", "txt", "srt", "vtt")


def test_too_large_goes_to_the_queue_without_asking_the_server(kit: RouterKit) -> None:
    etag, size = kit.upload(KEY, b"x" * 2000)
    result = route(kit, kit.event(KEY, etag, size), direct_max_bytes=1999)
    assert (result["route"], result["reason"]) == ("queued", "too_large")
    assert kit.calls.names == ["HeadObject", "SendMessage"]
    assert kit.server.count() == 0


def test_no_server_url_means_the_queue(kit: RouterKit) -> None:
    etag, size = kit.upload(KEY)
    result = route(kit, kit.event(KEY, etag, size), server_url=None)
    assert (result["route"], result["reason"]) == ("queued", "no_server")
    assert kit.calls.names == ["HeadObject", "SendMessage"]


def test_manual_queue_true_is_forced_to_the_batch_path(kit: RouterKit) -> None:
    kit.upload(KEY)
    result = route(kit, load_event("manual-queue", bucket=kit.bucket, key=KEY))
    assert (result["route"], result["reason"]) == ("queued", "forced")
    # A manual event has no ETag: the audio is HEADed first, then the transcript.
    assert kit.calls.names == ["HeadObject", "HeadObject", "SendMessage"]
    [(job, _)] = kit.jobs()
    assert job.reason == "forced" and job.size == len(f"not really audio: {KEY}")


def test_every_queue_reason_is_a_job_reason(kit: RouterKit) -> None:
    """The result reasons of the batch path are the job contract's reasons."""
    etag, size = kit.upload(KEY)
    kit.server.set_mode("down")
    assert route(kit, kit.event(KEY, etag, size))["reason"] in REASONS


def test_a_queue_that_refuses_raises_so_lambda_keeps_the_event(kit: RouterKit) -> None:
    etag, size = kit.upload(KEY)
    kit.server.set_mode("down")
    with pytest.raises(EnqueueFailed):
        route(kit, kit.event(KEY, etag, size), queue_url=kit.queue_url + "-missing")
    assert kit.emf_lines() == []  # no result is claimed for an event that was not handled


def test_an_unreachable_queue_raises_so_lambda_keeps_the_event(
    kit: RouterKit, aws_settings: AwsSettings
) -> None:
    etag, size = kit.upload(KEY)
    kit.server.set_mode("down")
    router = kit.router()
    nowhere = AwsSettings(aws_region=REGION, aws_endpoint_url=f"http://127.0.0.1:{free_port()}")
    router.queue.sqs = make_client("sqs", nowhere, connect_timeout=0.5, max_attempts=1)
    with pytest.raises(EnqueueFailed):
        handle(router, kit.event(KEY, etag, size), context())


# --- skipped ----------------------------------------------------------------------------
def test_duplicate_events_make_one_transcript(kit: RouterKit) -> None:
    etag, size = kit.upload(KEY)
    router = kit.router()
    first = handle(router, kit.event(KEY, etag, size), context())
    second = handle(router, kit.event(KEY, etag, size, name="s3-object-created"), context())
    assert [r["route"] for r in first + second] == ["direct", "skipped"]
    assert second[0]["reason"] == "transcript_current"
    assert kit.server.transcriptions == 1
    assert kit.calls.names == ["HeadObject", "HeadObject"]  # the duplicate: one HEAD, no HTTP
    versions = kit.s3.list_object_versions(Bucket=kit.bucket, Prefix=OUT).get("Versions", [])
    assert len(versions) == 1


def test_the_same_object_twice_in_one_batch_is_routed_once(kit: RouterKit) -> None:
    etag, size = kit.upload(KEY)
    event = kit.event(KEY, etag, size, name="s3-object-created")
    event["Records"] *= 2
    results = handle(kit.router(), event, context())
    assert [(r["route"], r["reason"]) for r in results] == [
        ("direct", "server_ready"),
        ("skipped", "duplicate_event"),
    ]
    assert kit.server.count("/transcribe-s3") == 1


def test_reupload_with_new_content_is_transcribed_again(kit: RouterKit) -> None:
    router = kit.router()
    etag1, size1 = kit.upload(KEY, b"first version")
    assert handle(router, kit.event(KEY, etag1, size1), context())[0]["route"] == "direct"
    etag2, size2 = kit.upload(KEY, b"second version, longer")
    assert etag2 != etag1
    [again] = handle(router, kit.event(KEY, etag2, size2), context())
    assert again["route"] == "direct"  # the transcript of the older audio does not count
    assert kit.server.transcriptions == 2
    transcript = kit.transcript(OUT)
    assert transcript is not None and transcript["source"]["etag"] == etag2


# --- ignored ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("transcripts/meetings/monday.wav.json", "outside_prefix"),
        ("other/monday.wav", "outside_prefix"),
        ("audio/meetings/", "folder_marker"),
    ],
)
def test_keys_outside_the_input_prefix_and_folders_are_ignored(
    kit: RouterKit, key: str, reason: str
) -> None:
    result = route(kit, kit.event(key, "d41d8cd98f00b204e9800998ecf8427e", 10))
    assert (result["route"], result["reason"], result["output_key"]) == ("ignored", reason, None)
    assert kit.calls.names == [] and kit.server.count() == 0


def test_other_buckets_and_other_s3_events_are_ignored(kit: RouterKit) -> None:
    other = load_event("eventbridge-object-created", bucket="someone-elses-bucket", key=KEY)
    assert route(kit, other)["reason"] == "foreign_bucket"
    deleted = load_event("eventbridge-object-deleted", bucket=kit.bucket, key=KEY)
    assert route(kit, deleted)["reason"] == "not_object_created"
    assert kit.calls.names == []


def test_zero_byte_objects_get_an_error_record(kit: RouterKit) -> None:
    """Users must see why nothing happened."""
    etag, size = kit.upload(KEY, b"")
    result = route(kit, kit.event(KEY, etag, size))
    assert (result["route"], result["reason"]) == ("ignored", "empty_object")
    assert result["error_key"] == "transcripts/meetings/monday.wav.error.json"
    assert kit.calls.names == ["PutObject"] and kit.server.count() == 0
    record = kit.transcript(result["error_key"])
    assert record is not None and record["error"] == "empty_object"
    assert record["source"] == {"bucket": kit.bucket, "key": KEY, "etag": etag, "size": 0}
    assert kit.jobs() == []


def test_unsupported_extension_gets_an_error_record(kit: RouterKit) -> None:
    key = "audio/meetings/notes.docx"
    etag, size = kit.upload(key)
    result = route(kit, kit.event(key, etag, size))
    assert (result["route"], result["reason"]) == ("ignored", "unsupported_extension")
    assert result["error_key"] == "transcripts/meetings/notes.docx.error.json"
    assert kit.calls.names == ["PutObject"]
    record = kit.transcript(result["error_key"])
    assert record is not None and record["error"] == "unsupported_extension"
    assert ".docx" in record["detail"]
    assert record["source"] == {"bucket": kit.bucket, "key": key, "etag": etag, "size": size}


def test_final_4xx_is_an_error_record_without_retry_or_queue(kit: RouterKit) -> None:
    etag, size = kit.upload(KEY)
    kit.server.set_mode("reject", status=415)
    result = route(kit, kit.event(KEY, etag, size), direct_max_attempts=5)
    assert (result["route"], result["reason"], result["status"]) == (
        "ignored",
        "server_rejected",
        415,
    )
    assert result["attempts"] == 1 and kit.server.count("/transcribe-s3") == 1
    assert kit.calls.names == ["HeadObject", "PutObject"]
    assert kit.jobs() == []
    record = kit.transcript("transcripts/meetings/monday.wav.error.json")
    assert record is not None and record["error"] == "not_audio"


def test_audio_replaced_before_the_call_is_left_to_its_own_event(kit: RouterKit) -> None:
    etag, size = kit.upload(KEY, b"the first version")
    kit.upload(KEY, b"replaced before the router got to it")
    result = route(kit, kit.event(KEY, etag, size))
    assert (result["route"], result["reason"], result["status"]) == (
        "skipped",
        "source_changed",
        409,
    )
    assert kit.calls.names == ["HeadObject"]  # no error record, no job
    assert kit.transcript("transcripts/meetings/monday.wav.error.json") is None


def test_a_refused_api_key_is_not_the_files_fault(kit: RouterKit) -> None:
    kit.server.api_key = "the-right-key"
    try:
        etag, size = kit.upload(KEY)
        result = route(kit, kit.event(KEY, etag, size), api_key="a-wrong-key")
    finally:
        kit.server.api_key = None
    assert (result["route"], result["reason"]) == ("queued", "server_down")
    assert kit.server.count("/transcribe-s3") == 1  # no retry either


def test_manual_invocation_of_a_missing_object(kit: RouterKit) -> None:
    result = route(kit, load_event("manual", bucket=kit.bucket, key="audio/never-uploaded.wav"))
    assert (result["route"], result["reason"]) == ("ignored", "source_missing")
    assert kit.calls.names == ["HeadObject"]


# --- the handler entry point and metrics ------------------------------------------------
def test_lambda_handler_from_the_environment(
    kit: RouterKit,
    monkeypatch: pytest.MonkeyPatch,
    aws_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    etag, size = kit.upload(KEY)
    for name, value in {
        "AUDIO_BUCKET": kit.bucket,
        "QUEUE_URL": kit.queue_url,
        "SERVER_URL": kit.server.url,
        "HEALTH_CACHE_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    handler.reset_router()
    try:
        event = load_event("sqs-eventbridge", bucket=kit.bucket, key=KEY, etag=etag, size=size)
        response = handler.lambda_handler(event, context())
        assert isinstance(response, dict) and response["batchItemFailures"] == []
        [result] = response["results"]
        assert result["route"] == "direct"
        assert handler.get_router() is handler.get_router()  # kept for warm invocations
    finally:
        handler.reset_router()
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "TranscriptionRouter"
    assert (line["route"], line["key"], line["attempts"]) == ("direct", KEY, 1)


def test_each_result_is_one_emf_line(kit: RouterKit) -> None:
    etag, size = kit.upload(KEY)
    kit.server.set_mode("busy")
    [result] = handle(kit.router(), kit.event(KEY, etag, size), context())
    [line] = kit.emf_lines()
    assert {k: line[k] for k in result} == result
    assert line["events"] == 1 and "_aws" in line


# --- redirects --------------------------------------------------------------------------
def test_a_redirect_is_a_failure_and_the_key_never_goes_elsewhere(kit: RouterKit) -> None:
    """A 302 to a second local server: not followed, so it sees no request, no header."""
    with FakeServer(s3=kit.s3) as elsewhere:
        kit.server.api_key = "router-key-123"
        kit.server.set_mode("redirect", location=f"{elsewhere.url}/transcribe-s3")
        try:
            etag, size = kit.upload(KEY)
            result = route(kit, kit.event(KEY, etag, size), api_key="router-key-123")
        finally:
            kit.server.api_key = None
        assert elsewhere.seen() == []
    assert (result["route"], result["reason"], result["attempts"]) == ("queued", "server_down", 1)
    [post] = kit.server.seen("/transcribe-s3")
    assert post.headers["authorization"] == "Bearer router-key-123"  # only where it belongs
    assert (
        kit.transcript(OUT) is None and kit.transcript(OUT.replace(".json", ".error.json")) is None
    )
    [(job, _)] = kit.jobs()
    assert job.reason == "server_down"


# --- batches: each record on its own ----------------------------------------------------
def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {"messageId": message_id, "eventSource": "aws:sqs", "body": body}


def test_one_malformed_record_among_50_does_not_stop_the_others(kit: RouterKit) -> None:
    records = []
    for i in range(50):
        key = f"audio/batch/{i:02d}.wav"
        body = json.dumps(kit.event(key, *kit.upload(key)))
        if i == 17:
            body = "{not json"
        if i == 33:  # a lone surrogate in the key: no S3 key can be that
            body = body.replace(f"{i:02d}.wav", "\\ud800.wav")
        records.append(sqs_record(f"message-{i:02d}", body))
    handled = process(kit.router(), {"Records": records}, context())
    response = handled.response()
    assert isinstance(response, dict)
    assert response["batchItemFailures"] == [
        {"itemIdentifier": "message-17"},
        {"itemIdentifier": "message-33"},
    ]
    results = response["results"]
    assert Counter(r["route"] for r in results) == {"direct": 48, "failed": 2}
    failed = [r for r in results if r["route"] == "failed"]
    assert [(r["reason"], r["event_message_id"]) for r in failed] == [
        ("malformed_record", "message-17"),
        ("malformed_record", "message-33"),
    ]
    assert "not valid UTF-8" in failed[1]["detail"] and "\\ud800" in failed[1]["detail"]
    assert kit.server.count("/transcribe-s3") == 48
    assert len(kit.emf_lines()) == 50  # every record has its result line


def test_a_malformed_s3_record_is_reported_and_the_others_routed(kit: RouterKit) -> None:
    """Outside SQS there is no per-record retry: the result says why; nothing raises."""
    etag, size = kit.upload(KEY)
    event = kit.event(KEY, etag, size, name="s3-object-created")
    event["Records"].append({"eventSource": "aws:s3", "s3": {"bucket": {}}})
    results = handle(kit.router(), event, context())
    assert [(r["route"], r["reason"]) for r in results] == [
        ("direct", "server_ready"),
        ("failed", "malformed_record"),
    ]


def test_an_unreachable_queue_hands_the_unrouted_sqs_records_back(kit: RouterKit) -> None:
    kit.server.set_mode("down")
    records = []
    for i in range(3):
        key = f"audio/no-queue/{i}.wav"
        records.append(sqs_record(f"m-{i}", json.dumps(kit.event(key, *kit.upload(key)))))
    router = kit.router(queue_url=kit.queue_url + "-missing")
    response = process(router, {"Records": records}, context()).response()
    assert isinstance(response, dict)
    assert response["batchItemFailures"] == [{"itemIdentifier": f"m-{i}"} for i in range(3)]
    assert response["results"] == []


# --- keys S3 cannot hold ----------------------------------------------------------------
def test_a_key_whose_error_record_cannot_fit_either_is_a_logged_result(
    kit: RouterKit, caplog: pytest.LogCaptureFixture
) -> None:
    key = "audio/" + "k" * 998 + ".wav"  # 1,008 bytes: the transcript key fits, the error key not
    etag, size = kit.upload(key)
    result = route(kit, kit.event(key, etag, size))
    assert (result["route"], result["reason"]) == ("ignored", "key_too_long")
    assert "1025 bytes" in result["detail"] and "error_key" not in result
    assert kit.calls.names == [] and kit.server.count() == 0 and kit.jobs() == []
    [logged] = [r for r in caplog.records if "no error record fits" in r.getMessage()]
    assert logged.levelname == "ERROR" and "1025 bytes" in logged.getMessage()


def test_a_key_whose_sidecar_would_be_too_long_gets_an_error_record(kit: RouterKit) -> None:
    key = "audio/" + "k" * 996 + ".wav"  # .verbose_json: 1,025 bytes; .error.json: 1,023
    etag, size = kit.upload(key)
    storage = StorageSettings(audio_bucket=kit.bucket, output_formats=("json", "verbose_json"))
    result = route(kit, kit.event(key, etag, size), storage=storage)
    assert (result["route"], result["reason"]) == ("ignored", "key_too_long")
    assert kit.calls.names == ["PutObject"] and kit.server.count() == 0
    record = kit.transcript(result["error_key"])
    assert record is not None and record["error"] == "key_too_long"
    assert record["source"] == {"bucket": kit.bucket, "key": key, "etag": etag, "size": size}


def test_keys_that_are_not_utf8_are_a_clear_error(kit: RouterKit) -> None:
    event = kit.event(KEY, "d41d8cd98f00b204e9800998ecf8427e", 10, name="s3-object-created")
    event["Records"][0]["s3"]["object"]["key"] = "audio/bad%ED%A0%80.wav"  # a UTF-16 surrogate
    [result] = handle(kit.router(), event, context())
    assert (result["route"], result["reason"]) == ("failed", "malformed_record")
    assert "not valid UTF-8" in result["detail"] and "%ED%A0%80" in result["detail"]
    manual = {"bucket": kit.bucket, "key": "audio/\ud800.wav"}  # json.loads makes these
    with pytest.raises(MalformedEvent, match="not valid UTF-8"):
        handle(kit.router(), manual, context())
    assert kit.calls.names == [] and kit.server.count() == 0


# --- the server's speed -----------------------------------------------------------------
def test_the_servers_health_reports_the_speed_the_router_sizes_its_timeout_with(
    engine: Any, samples: dict[str, Path]
) -> None:
    """The real app (tiny model, in process): null before a transcription, then its mean."""
    key = "speed-test-key-0123456789"
    app = create_app(
        in_process_settings(), keys=KeyRing([key]), s3=object(), engine_loader=lambda _: engine
    )
    with TestClient(app) as client:
        before = client.get("/health").json()
        assert before["realtime_factor"] is None and interpret(before).realtime_factor is None
        response = client.post(
            "/transcribe",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": ("one.wav", samples["one"].read_bytes(), "audio/wav")},
        )
        assert response.status_code == 200, response.text
        timings = response.json()["timings"]
        after = client.get("/health").json()
    expected = timings["processing_seconds"] / timings["audio_seconds"]
    assert after["realtime_factor"] == pytest.approx(expected, rel=0.05, abs=1e-3)
    assert interpret(after).realtime_factor == after["realtime_factor"]
