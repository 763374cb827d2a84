"""Real S3 event delivery from moto's server, and the local event pump.

moto delivers S3 notifications to SQS (classic ``Records``, keys URL-encoded) and S3
events through EventBridge to SQS (keys as they are). Keys with spaces, ``+``, ``%`` and
non-ASCII letters must reach the right object either way. The pump must delete an event
only after the handler returned.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lambda_router.handler import handle
from lambda_router.pump import Pump, StandInContext
from lambda_router.settings import PumpSettings
from tests.conftest import unique
from tests.support import router_kit
from tests.support.jobs import queue_counts
from tests.support.processes import ROOT
from tests.support.router_kit import RouterKit, context
from tests.support.sample_events import load_event
from transcription.settings import AwsSettings

KEYS = [
    "audio/with space.wav",
    "audio/plus+sign.wav",
    "audio/100% sure.wav",
    "audio/naïve café/ünïcode 日本語.mp3",
    "audio/a + b %2B c.m4a",
]


server, clients, kit = router_kit.server, router_kit.clients, router_kit.kit  # shared fixtures


@dataclass(frozen=True)
class Delivery:
    classic_queue: str  # S3 → SQS notifications
    events_queue: str  # S3 → EventBridge → SQS (the local stand-in for the Lambda target)


@pytest.fixture
def delivery(kit: RouterKit, aws_client: Any) -> Delivery:
    sqs, events = kit.sqs, aws_client("events")
    urls = [sqs.create_queue(QueueName=unique(n))["QueueUrl"] for n in ("classic", "events")]
    arns = [
        sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for u in urls
    ]
    kit.s3.put_bucket_notification_configuration(
        Bucket=kit.bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arns[0], "Events": ["s3:ObjectCreated:*"]}],
            "EventBridgeConfiguration": {},
        },
    )
    rule = unique("uploads")
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [kit.bucket]}, "object": {"key": [{"prefix": "audio/"}]}},
    }
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "events-queue", "Arn": arns[1]}])
    drain(sqs, urls[0])  # the s3:TestEvent sent when the notification is configured
    return Delivery(*urls)


def drain(sqs: Any, queue_url: str, wait: int = 0) -> list[dict[str, Any]]:
    """Receive (and delete) every message now on the queue."""
    messages: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
        ).get("Messages", [])
        if not got:
            return messages
        for m in got:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        messages += got


def transcript_key(key: str) -> str:
    return "transcripts/" + key.removeprefix("audio/") + ".json"


# --- keys in both event formats ---------------------------------------------------------
def test_special_keys_reach_the_right_object_from_s3_notifications(
    kit: RouterKit, delivery: Delivery
) -> None:
    etags = {key: kit.upload(key)[0] for key in KEYS}
    bodies = [json.loads(m["Body"]) for m in drain(kit.sqs, delivery.classic_queue)]
    assert len(bodies) == len(KEYS)
    assert any("%" in b["Records"][0]["s3"]["object"]["key"] for b in bodies)  # encoded by moto
    router = kit.router()
    # As Lambda's SQS event source would deliver them: wrapped in an SQS record each.
    wrapped = {"Records": [{"eventSource": "aws:sqs", "body": json.dumps(b)} for b in bodies]}
    results = handle(router, wrapped, context())
    assert sorted(r["key"] for r in results) == sorted(KEYS)
    assert all(r["route"] == "direct" for r in results), results
    for key, etag in etags.items():
        transcript = kit.transcript(transcript_key(key))
        assert transcript is not None and transcript["source"] == {
            "bucket": kit.bucket,
            "key": key,
            "etag": etag,
            "size": len(f"not really audio: {key}".encode()),
        }


def test_special_keys_reach_the_right_object_from_eventbridge(
    kit: RouterKit, delivery: Delivery, aws_settings: AwsSettings
) -> None:
    for key in KEYS:
        kit.upload(key)
    router = kit.router()  # moto's server: raw keys in EventBridge events (the default)
    assert router.settings.keys_encoded_in_eventbridge is False
    pump = Pump(
        PumpSettings(events_queue_url=delivery.events_queue, aws=aws_settings),
        kit.sqs,
        handler=lambda event, ctx: handle(router, event, ctx),
    )
    while pump.poll_once(wait_seconds=1, max_messages=10):
        pass
    assert pump.handled == len(KEYS) and pump.failed == 0
    assert sorted(r["key"] for r in kit.emf_lines()) == sorted(KEYS)
    for key in KEYS:
        assert kit.transcript(transcript_key(key)) is not None, key


@pytest.mark.parametrize("name", ["eventbridge-object-created", "sqs-eventbridge", "sqs-s3"])
def test_aws_encoded_events_reach_the_right_object(kit: RouterKit, name: str) -> None:
    """As AWS sends them: keys URL-encoded in both formats (the stored samples)."""
    router = kit.router(eventbridge_keys_encoded=True)
    for key in KEYS:
        etag, size = kit.upload(key)
        event = load_event(name, bucket=kit.bucket, key=key, etag=etag, size=size)
        [result] = handle(router, event, context())
        assert (result["key"], result["route"]) == (key, "direct")
        assert kit.transcript(transcript_key(key)) is not None


def test_duplicate_deliveries_make_one_transcript_and_reupload_another(
    kit: RouterKit, delivery: Delivery, aws_settings: AwsSettings
) -> None:
    router = kit.router()
    pump = Pump(
        PumpSettings(events_queue_url=delivery.events_queue, aws=aws_settings),
        kit.sqs,
        handler=lambda event, ctx: handle(router, event, ctx),
    )
    key = "audio/dup/talk.wav"
    etag, _ = kit.upload(key, b"same bytes")
    kit.upload(key, b"same bytes")  # the same content again: the same ETag, a second event
    while pump.poll_once(wait_seconds=1):
        pass
    assert [(r["route"], r["reason"]) for r in kit.emf_lines()] == [
        ("direct", "server_ready"),
        ("skipped", "transcript_current"),
    ]
    assert kit.server.transcriptions == 1
    new_etag, _ = kit.upload(key, b"new bytes")
    while pump.poll_once(wait_seconds=1):
        pass
    assert kit.emf_lines()[-1]["route"] == "direct"
    transcript = kit.transcript(transcript_key(key))
    assert transcript is not None and transcript["source"]["etag"] == new_etag != etag


# --- the pump ---------------------------------------------------------------------------
def pump_for(kit: RouterKit, aws_settings: AwsSettings, handler: Any, timeout: float = 300) -> Pump:
    queue = kit.sqs.create_queue(QueueName=unique("events"))["QueueUrl"]
    settings = PumpSettings(
        events_queue_url=queue, aws=aws_settings, lambda_timeout_seconds=timeout
    )
    return Pump(settings, kit.sqs, handler=handler)


def put_event(kit: RouterKit, pump: Pump, key: str = "audio/p.wav") -> None:
    event = load_event("eventbridge-object-created-moto", bucket=kit.bucket, key=key)
    kit.sqs.send_message(QueueUrl=pump.settings.events_queue_url, MessageBody=json.dumps(event))


def test_pump_deletes_the_event_only_after_the_handler_returned(
    kit: RouterKit, aws_settings: AwsSettings
) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow_handler(event: Any, ctx: Any) -> list[Any]:
        entered.set()
        release.wait(10)
        return []

    pump = pump_for(kit, aws_settings, slow_handler)
    put_event(kit, pump)
    worker = threading.Thread(target=pump.poll_once, kwargs={"wait_seconds": 1})
    worker.start()
    assert entered.wait(5)
    queue = pump.settings.events_queue_url
    assert queue_counts(kit.sqs, queue) == (0, 1)  # received, in flight, not deleted
    release.set()
    worker.join(5)
    assert queue_counts(kit.sqs, queue) == (0, 0)
    assert (pump.handled, pump.failed) == (1, 0)


def test_pump_keeps_the_event_when_the_handler_raises(
    kit: RouterKit, aws_settings: AwsSettings
) -> None:
    def broken_handler(event: Any, ctx: Any) -> list[Any]:
        raise RuntimeError("the queue is unreachable")

    pump = pump_for(kit, aws_settings, broken_handler)
    put_event(kit, pump)
    assert pump.poll_once(wait_seconds=1) == 1
    assert (pump.handled, pump.failed) == (0, 1)
    assert queue_counts(kit.sqs, pump.settings.events_queue_url) == (0, 1)  # comes back later


def test_one_malformed_event_among_good_ones_is_the_only_one_kept(
    kit: RouterKit, aws_settings: AwsSettings
) -> None:
    router = kit.router()
    pump = pump_for(kit, aws_settings, lambda event, ctx: handle(router, event, ctx))
    queue = pump.settings.events_queue_url
    for i in range(4):
        kit.upload(f"audio/pump-batch/{i}.wav")
        put_event(kit, pump, f"audio/pump-batch/{i}.wav")
    broken = {"detail-type": "Object Created", "source": "aws.s3", "detail": {}}
    kit.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(broken))
    while pump.poll_once(wait_seconds=1, max_messages=10):
        pass
    assert (pump.handled, pump.failed) == (4, 1)
    assert queue_counts(kit.sqs, queue) == (0, 1)  # only the broken one comes back
    assert sorted(r["key"] for r in kit.emf_lines()) == [
        f"audio/pump-batch/{i}.wav" for i in range(4)
    ]


def test_pump_context_deadline_mirrors_the_lambda_timeout(
    kit: RouterKit, aws_settings: AwsSettings
) -> None:
    seen: list[int] = []
    pump = pump_for(
        kit, aws_settings, lambda e, ctx: seen.append(ctx.get_remaining_time_in_millis()), timeout=3
    )
    put_event(kit, pump)
    pump.poll_once(wait_seconds=1)
    assert len(seen) == 1 and 2000 < seen[0] <= 3000
    assert StandInContext("x", 3, clock=lambda: 0.0).get_remaining_time_in_millis() == 3000


def test_python_m_lambda_router_pump_runs_the_real_handler(
    kit: RouterKit, delivery: Delivery, aws_env: dict[str, str], tmp_path: Any
) -> None:
    keys = ["audio/pump/first one.wav", "audio/pump/second+one.wav"]
    for key in keys:
        kit.upload(key)
    kit.upload(keys[0])  # a duplicate delivery of the first upload
    env = {
        **os.environ,
        **aws_env,
        "AUDIO_BUCKET": kit.bucket,
        "QUEUE_URL": kit.queue_url,
        "SERVER_URL": kit.server.url,
        "EVENTS_QUEUE_URL": delivery.events_queue,
        "HEALTH_CACHE_SECONDS": "0",
        "LAMBDA_TIMEOUT_SECONDS": "30",
        "PUMP_CONCURRENCY": "1",
        "PUMP_WAIT_SECONDS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "lambda_router.pump", "--max-events", "3"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    routes = Counter((r["key"], r["route"]) for r in records if "route" in r)
    assert routes == Counter(
        {(keys[0], "direct"): 1, (keys[1], "direct"): 1, (keys[0], "skipped"): 1}
    )
    assert queue_counts(kit.sqs, delivery.events_queue) == (0, 0)
    for key in keys:
        assert kit.transcript(transcript_key(key)) is not None
    assert '"event handled"' in done.stderr


def test_events_received_while_stopping_are_given_back(
    kit: RouterKit, aws_settings: AwsSettings
) -> None:
    handled: list[Any] = []
    pump = pump_for(kit, aws_settings, lambda e, ctx: handled.append(e))
    put_event(kit, pump)
    pump.stopping.set()
    assert pump.poll_once(wait_seconds=1) == 1
    assert handled == [] and pump.handled == 0
    assert queue_counts(kit.sqs, pump.settings.events_queue_url) == (1, 0)  # visible again now


def test_the_pump_process_stops_cleanly_on_sigterm(
    kit: RouterKit, aws_env: dict[str, str], tmp_path: Path
) -> None:
    queue = kit.sqs.create_queue(QueueName=unique("events"))["QueueUrl"]
    env = {**os.environ, **aws_env, "EVENTS_QUEUE_URL": queue, "PUMP_WAIT_SECONDS": "1"}
    log_path = tmp_path / "pump.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "lambda_router.pump"], cwd=ROOT, env=env, stderr=log
        )
    try:
        deadline = time.monotonic() + 30
        while '"event pump started"' not in log_path.read_text():
            assert time.monotonic() < deadline and process.poll() is None, log_path.read_text()
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert '"event pump stopped"' in log_path.read_text()
