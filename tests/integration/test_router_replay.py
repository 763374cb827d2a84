"""Replaying the router's failure queue (``python -m lambda_router.replay``) against moto.

The failure queue holds what Lambda's on-failure destination sends: invocation records that
wrap the event (``tests/events/lambda-destination-on-failure.json``, a real record's shape).
Replay hands each ``requestPayload`` to the router in-process, deletes what was replayed,
leaves failures and foreign messages queued, and never takes more than was there at the start.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from typing import Any

import pytest

from lambda_router.handler import handle
from lambda_router.replay import Replayer, failure_payload, in_process, via_lambda
from lambda_router.router import Router
from lambda_router.settings import RouterSettings
from tests.conftest import unique
from tests.support.processes import ROOT
from tests.support.sample_events import load_event
from transcription.exceptions import TranscriptionError
from transcription.settings import AwsSettings, StorageSettings

NOBODY = "http://127.0.0.1:9"  # nothing listens: the router queues the job (server_down)
KEY = "audio/replay/team meeting+1.wav"  # AWS URL-encodes it in the record's event


@pytest.fixture
def failure_queue(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName=unique("router-failures"))["QueueUrl"])


def record(bucket: str, key: str, etag: str, size: int) -> str:
    """A Lambda on-failure record of the upload event of ``s3://bucket/key``."""
    event = load_event(
        "lambda-destination-on-failure", bucket=bucket, key=key, etag=etag, size=size
    )
    return json.dumps(event)


def upload(s3: Any, bucket: str, key: str) -> tuple[str, int]:
    body = b"RIFF....WAVEfmt "
    etag = s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
    return etag, len(body)


def router(bucket: str, queue_url: str, aws: AwsSettings) -> Router:
    settings = RouterSettings(
        storage=StorageSettings(audio_bucket=bucket),
        queue_url=queue_url,
        aws=aws,
        server_url=NOBODY,
        eventbridge_keys_encoded=True,  # as AWS sends them; the record holds AWS's event
    )
    return Router.from_settings(settings)


def jobs(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def visible(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_the_sample_record_wraps_the_event_the_router_failed_on() -> None:
    event = load_event("lambda-destination-on-failure")
    payload = failure_payload(json.dumps(event))
    assert payload == load_event("eventbridge-object-created") | {
        "detail": payload["detail"]  # the sample's event, but for its address
    }
    assert payload["detail-type"] == "Object Created"
    with pytest.raises(TranscriptionError, match="not a Lambda invocation record"):
        failure_payload(json.dumps(load_event("eventbridge-object-created")))


def test_replay_routes_each_failed_event_and_deletes_only_what_was_replayed(
    s3: Any, sqs: Any, bucket: str, queue_url: str, failure_queue: str, aws_settings: AwsSettings
) -> None:
    etag, size = upload(s3, bucket, KEY)
    good = sqs.send_message(QueueUrl=failure_queue, MessageBody=record(bucket, KEY, etag, size))
    broken = json.loads(record(bucket, KEY, etag, size))
    broken["requestPayload"] = {"detail-type": "Object Created", "detail": {}}  # unreadable
    bad = sqs.send_message(QueueUrl=failure_queue, MessageBody=json.dumps(broken))
    foreign = sqs.send_message(QueueUrl=failure_queue, MessageBody='{"version": 1, "key": "x"}')
    routing = router(bucket, queue_url, aws_settings)

    report = Replayer(sqs, failure_queue, in_process(60, lambda e, c: handle(routing, e, c))).run()

    assert report.at_start == 3
    assert report.replayed == [good["MessageId"]]
    assert list(report.failed) == [bad["MessageId"]]
    assert list(report.skipped) == [foreign["MessageId"]]
    assert "no requestPayload" in report.skipped[foreign["MessageId"]]
    assert report.left == 2  # given back at once, for a later run
    [job] = jobs(sqs, queue_url)
    assert (job["bucket"], job["key"], job["etag"]) == (bucket, KEY, etag)  # the key decoded
    assert job["reason"] == "server_down"


def test_replay_takes_at_most_what_was_there_at_the_start(sqs: Any, failure_queue: str) -> None:
    """On AWS an event that fails again comes back as a new record while replay runs: the
    run must end, leaving the new records for the next run (no ping-pong)."""
    for i in range(3):
        body = json.dumps({"requestContext": {}, "requestPayload": {"n": i}})
        sqs.send_message(QueueUrl=failure_queue, MessageBody=body)
    replayed: list[Any] = []

    def fails_again(event: dict[str, Any], record_id: str) -> None:
        replayed.append(event["n"])
        again = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": event}
        sqs.send_message(QueueUrl=failure_queue, MessageBody=json.dumps(again))

    report = Replayer(sqs, failure_queue, fails_again).run()

    assert sorted(replayed) == [0, 1, 2]  # each once
    assert (report.at_start, len(report.replayed), report.left) == (3, 3, 3)
    limited = Replayer(sqs, failure_queue, fails_again).run(limit=1)
    assert (len(limited.replayed), limited.left) == (1, 3)
    dry = Replayer(sqs, failure_queue, fails_again).run(dry_run=True)
    assert (dry.at_start, dry.replayed, dry.left) == (3, [], 3)
    assert len(replayed) == 4


def test_the_replay_command_runs_the_router_in_process_locally(
    aws_env: dict[str, str],
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    failure_queue: str,
) -> None:
    etag, size = upload(s3, bucket, KEY)
    sqs.send_message(QueueUrl=failure_queue, MessageBody=record(bucket, KEY, etag, size))
    env = {
        **os.environ,
        **aws_env,
        "PYTHONPATH": str(ROOT),
        "AUDIO_BUCKET": bucket,
        "QUEUE_URL": queue_url,
        "SERVER_URL": NOBODY,
        "EVENTBRIDGE_KEYS_ENCODED": "true",
        "ROUTER_FAILURE_QUEUE_URL": failure_queue,
    }
    done = subprocess.run(
        [sys.executable, "-m", "lambda_router.replay"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert (report["at_start"], len(report["replayed"]), report["left"]) == (1, 1, 0)
    [job] = jobs(sqs, queue_url)
    assert job["key"] == KEY


def test_on_aws_replay_invokes_the_router_function_asynchronously(
    aws_client: Any, sqs: Any, failure_queue: str
) -> None:
    """As EventBridge invoked it (InvocationType=Event). moto accepts the invocation (202) but
    cannot run Lambda code; the router's own run is the in-process tests above."""
    iam, aws_lambda = aws_client("iam"), aws_client("lambda")
    role = iam.create_role(RoleName=unique("router"), AssumeRolePolicyDocument="{}")["Role"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("lambda_router/handler.py", "def lambda_handler(event, context): ...\n")
    function = aws_lambda.create_function(
        FunctionName=unique("router"),
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="lambda_router.handler.lambda_handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    body = json.dumps(load_event("lambda-destination-on-failure"))
    sent = sqs.send_message(QueueUrl=failure_queue, MessageBody=body)["MessageId"]
    report = Replayer(sqs, failure_queue, via_lambda(aws_lambda, function)).run()
    assert (report.replayed, report.failed, report.left) == ([sent], {}, 0)
    refused = Replayer(sqs, failure_queue, via_lambda(aws_lambda, function + "-gone"))
    sqs.send_message(QueueUrl=failure_queue, MessageBody=body)
    report = refused.run()
    assert len(report.failed) == 1 and "ResourceNotFoundException" in str(report.failed)
    assert report.left == 1
