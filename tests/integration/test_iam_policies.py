"""Each component's AWS calls, on resources named as a deployment names them, against its
IAM policy (``scripts/policies/<component>-policy.json``) rendered with those names.

moto does not enforce IAM. The plugin ``tests/support/iam_audit.py`` records every call a
component makes (botocore's event hooks) and, after every test anywhere, checks
its *action* against the component's policy. Here each component runs its main paths on a
bucket, queues and parameters named ``<project>-jobs``, ``<project>-jobs-dlq``,
``/<project>/server-url``... so each call's *resource* is checked too: a queue the worker
sends to but its policy names only for receiving is caught (it was: the worker's DLQ).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from batch_worker.consumer import dead_letter_queue_url
from batch_worker.prefetch import RunLimits
from batch_worker.settings import WorkerSettings
from batch_worker.worker import Worker
from fastapi_server.auth import KeyRing, load_keys
from fastapi_server.main import create_app
from fastapi_server.settings import ServerSettings
from jobs_api.main import create_app as create_jobs_app
from jobs_api.settings import JobsSettings
from jobs_api.tables import TableNames, create_tables
from jobs_api.tracker import build_tracker
from jobs_api.webhooks.sender import build_sender
from lambda_router.handler import handle
from lambda_router.router import Router
from lambda_router.settings import RouterSettings
from tests.conftest import ACCOUNT_ID, REGION
from tests.jobs_api.test_webhooks import receiver
from tests.support import iam_audit
from tests.support.fake_server import FakeServer
from tests.support.jobs import enqueue, upload_job
from tests.support.jobs_api import serve
from tests.support.router_kit import context
from tests.support.sample_events import load_event
from transcription.managed import OverflowSettings
from transcription.settings import AwsSettings, EngineSettings, StorageSettings

pytestmark = pytest.mark.slow

IMAGE_ID = "ami-12c6146b"  # one of the images moto's EC2 has in every region
KEY = "iam-test-key-0123456789"
STAND_INS = Path(__file__).resolve().parents[1] / "stand_ins" / "transcribe"


@dataclass
class Deployment:
    """One project's resources in moto, named as scripts/lib/common.sh derives them."""

    names: dict[str, str]
    queue_url: str
    dlq_url: str
    aws: AwsSettings
    high_url: str  # the jobs API's high- and low-priority queues, drained by the worker too
    low_url: str
    start: int  # the calls recorded before this test's components ran

    @property
    def bucket(self) -> str:
        return self.names["AUDIO_BUCKET"]


@pytest.fixture
def deployment(aws_client: Any, aws_settings: AwsSettings) -> Deployment:
    project = f"iam{uuid.uuid4().hex[:8]}"
    names = {
        "PARTITION": "aws",
        "AWS_REGION": REGION,
        "ACCOUNT_ID": ACCOUNT_ID,
        "PROJECT_NAME": project,
        "AUDIO_BUCKET": f"{project}-audio",
        "OUTPUT_BUCKET": f"{project}-audio",
        "INPUT_PREFIX": "audio/",
        "OUTPUT_PREFIX": "transcripts/",
        "OVERFLOW_PREFIX": "overflow/",
        "JOBS_QUEUE_NAME": f"{project}-jobs",
        "JOBS_HIGH_QUEUE_NAME": f"{project}-jobs-high",
        "JOBS_LOW_QUEUE_NAME": f"{project}-jobs-low",
        "DLQ_NAME": f"{project}-jobs-dlq",
        "ROUTER_FAILURES_NAME": f"{project}-router-failures",
        "EVENTS_QUEUE_NAME": f"{project}-events",
        "ROUTER_NAME": f"{project}-router",
        "SERVER_URL_PARAMETER": f"/{project}/server-url",
        "API_KEYS_PARAMETER": f"/{project}/api-keys",
        "SERVER_REPOSITORY_NAME": f"{project}/fastapi-server",
        "WORKER_REPOSITORY_NAME": f"{project}/batch-worker",
        "WORKER_GROUP_NAME": f"{project}-workers",
        "JOBS_TABLE_PREFIX": project,
        "JOBS_API_NAME": f"{project}-jobs-api",
        "JOBS_TRACKER_NAME": f"{project}-jobs-tracker",
        "JOBS_WEBHOOKS_NAME": f"{project}-jobs-webhooks",
        "WEBHOOK_QUEUE_NAME": f"{project}-webhooks",
        "JOBS_ADMIN_KEY_PARAMETER": f"/{project}/jobs-admin-key",
        "JOBS_EVENT_BUS": "default",
    }
    s3, sqs, ssm = aws_client("s3"), aws_client("sqs"), aws_client("ssm")
    s3.create_bucket(Bucket=names["AUDIO_BUCKET"])
    dlq_url = sqs.create_queue(QueueName=names["DLQ_NAME"])["QueueUrl"]
    redrive = {
        "deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{names['DLQ_NAME']}",
        "maxReceiveCount": "5",
    }
    queue_url = sqs.create_queue(
        QueueName=names["JOBS_QUEUE_NAME"], Attributes={"RedrivePolicy": json.dumps(redrive)}
    )["QueueUrl"]
    high_url, low_url = (
        sqs.create_queue(QueueName=names[name], Attributes={"RedrivePolicy": json.dumps(redrive)})[
            "QueueUrl"
        ]
        for name in ("JOBS_HIGH_QUEUE_NAME", "JOBS_LOW_QUEUE_NAME")
    )
    ssm.put_parameter(Name=names["API_KEYS_PARAMETER"], Value=KEY, Type="SecureString")
    return Deployment(
        names, queue_url, dlq_url, aws_settings, high_url, low_url, iam_audit.recorded_count()
    )


def checked(d: Deployment, component: str) -> set[str]:
    """The operations ``component`` made since the deployment was set up; fails on any call
    its policy (rendered with the deployment's names) does not allow, resource included."""
    made = [c for c in iam_audit.recorded_since(d.start) if c.component == component]
    assert iam_audit.check(made, d.names) == []
    return {c.operation for c in made}


def test_the_worker_policy_allows_what_the_worker_calls(
    deployment: Deployment, aws_client: Any, engine: Any, samples: dict[str, Any]
) -> None:
    d, s3, sqs = deployment, aws_client("s3"), aws_client("sqs")
    good = upload_job(s3, d.bucket, "audio/iam/one.wav", samples["one"])
    enqueue(sqs, d.queue_url, good)
    missing = upload_job(s3, d.bucket, "audio/iam/gone.wav", b"x")
    s3.delete_object(Bucket=d.bucket, Key=missing.key)
    enqueue(sqs, d.queue_url, missing)
    sqs.send_message(QueueUrl=d.queue_url, MessageBody="{not json")
    # A batch job's s3:// item outside the input prefix (high), a canceled job's task (low).
    job_id, canceled_id = "a" * 32, "b" * 32
    item = replace(
        upload_job(s3, d.bucket, "elsewhere/item.wav", samples["one"], output_key="x.json"),
        output_key=f"transcripts/jobs/{job_id}/item.json",
        job_id=job_id,
        priority="high",
    )
    enqueue(sqs, d.high_url, item)
    s3.put_object(Bucket=d.bucket, Key=f"transcripts/jobs/{canceled_id}/canceled", Body=b"")
    canceled = replace(item, job_id=canceled_id, priority="low")
    enqueue(sqs, d.low_url, replace(canceled, output_key=f"transcripts/jobs/{canceled_id}/i.json"))
    settings = WorkerSettings(
        aws=d.aws,
        engine=EngineSettings(),
        storage=StorageSettings(audio_bucket=d.bucket),
        queue_url=d.queue_url,
        queue_url_high=d.high_url,
        queue_url_low=d.low_url,
        wait_time_seconds=1,
        priority_wait_seconds=1,
    )  # no DLQ_URL: the worker finds the DLQ from the jobs queue's redrive policy
    worker_sqs = aws_client("sqs")
    dlq_url = dead_letter_queue_url(worker_sqs, d.queue_url)
    assert dlq_url == d.dlq_url
    worker = Worker(settings, engine, sqs=worker_sqs, s3=aws_client("s3"), dlq_url=dlq_url)
    outcomes = worker.run(RunLimits.once()).outcomes
    assert outcomes == {"transcribed": 2, "failed": 1, "dead_lettered": 1, "canceled": 1}
    assert s3.head_object(Bucket=d.bucket, Key="transcripts/iam/one.wav.json")
    assert s3.head_object(Bucket=d.bucket, Key=item.output_key)
    made = checked(d, "worker")
    assert {"ReceiveMessage", "DeleteMessageBatch", "SendMessage", "GetObject", "PutObject"} <= made


def test_the_router_policy_allows_what_the_router_calls(
    deployment: Deployment, aws_client: Any
) -> None:
    d, s3, ssm = deployment, aws_client("s3"), aws_client("ssm")
    with FakeServer(s3, api_key=KEY) as server:
        ssm.put_parameter(Name=d.names["SERVER_URL_PARAMETER"], Value=server.url, Type="String")
        settings = RouterSettings(
            storage=StorageSettings(audio_bucket=d.bucket),
            queue_url=d.queue_url,
            aws=d.aws,
            server_url_parameter=d.names["SERVER_URL_PARAMETER"],
            api_key_parameter=d.names["API_KEYS_PARAMETER"],  # as step-340 configures it
        )
        router = Router.from_settings(settings)
        for key in ("audio/iam/direct.wav", "audio/iam/notes.txt"):
            put = s3.put_object(Bucket=d.bucket, Key=key, Body=b"RIFF....WAVE")
            event = load_event("eventbridge-object-created-moto", bucket=d.bucket, key=key)
            event["detail"]["object"].update(etag=put["ETag"].strip('"'), size=12)
            handle(router, event, context())
        server.set_mode("busy")
        router.health.forget()
        queued = s3.put_object(Bucket=d.bucket, Key="audio/iam/queued.wav", Body=b"RIFF")
        event = load_event("manual", bucket=d.bucket, key="audio/iam/queued.wav")
        [result] = handle(router, event, context())
    assert result["route"] == "queued", result
    assert queued["ETag"]
    assert [p.headers["authorization"] for p in server.seen("/transcribe-s3")] == [f"Bearer {KEY}"]
    made = checked(d, "router")
    assert {"GetParameter", "HeadObject", "SendMessage", "PutObject"} <= made


def test_the_router_policy_allows_the_managed_overflow(
    deployment: Deployment, aws_client: Any
) -> None:
    """Start (quota, ticket, budget, StartTranscriptionJob) and collect, on a deployment's
    names: every S3 key, queue and Transcribe job the router names is in its policy."""
    d, s3 = deployment, aws_client("s3")
    for i in range(40):  # a backlog one worker cannot clear within the deadline
        body = json.dumps({"version": 1, "bucket": d.bucket, "key": f"audio/backlog/{i}.wav"})
        aws_client("sqs").send_message(QueueUrl=d.queue_url, MessageBody=body)
    settings = RouterSettings(
        storage=StorageSettings(audio_bucket=d.bucket),
        queue_url=d.queue_url,
        aws=d.aws,
        overflow=OverflowSettings(
            overflow="transcribe",
            batch_deadline_seconds=60,
            worker_instance_types=("c7i.large",),
            overflow_max_minutes_per_month=5,
            overflow_max_concurrent_jobs=10_000,
        ),
    )
    router = Router.from_settings(settings)
    put = s3.put_object(Bucket=d.bucket, Key="audio/iam/overflow.wav", Body=b"RIFF")
    event = load_event("manual", bucket=d.bucket, key="audio/iam/overflow.wav")
    [result] = handle(router, event, context())
    assert result["route"] == "managed", result
    assert put["ETag"]
    transcribe = aws_client("transcribe")
    name = result["managed_job"]
    job: dict[str, Any] = {}
    for _ in range(3):  # moto: one state per read (its default jumps to COMPLETED)
        job = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
    key = f"overflow/output/{name}.json"
    s3.put_object(
        Bucket=d.bucket, Key=key, Body=(STAND_INS / "output-two-speakers.json").read_bytes()
    )
    change = load_event("transcribe-job-state-change")
    change["detail"]["TranscriptionJobName"] = name
    [collected] = handle(router, change, context())
    assert job["TranscriptionJobStatus"] == "COMPLETED"
    assert collected["reason"] == "written", collected
    made = checked(d, "router")
    assert {"ListTranscriptionJobs", "StartTranscriptionJob", "GetTranscriptionJob"} <= made


def test_the_server_policy_allows_what_the_server_calls(
    deployment: Deployment, aws_client: Any, engine: Any, samples: dict[str, Any]
) -> None:
    d, s3 = deployment, aws_client("s3")
    settings = ServerSettings(
        storage=StorageSettings(audio_bucket=d.bucket),
        engine=EngineSettings(),
        aws=d.aws,
        api_keys_parameter=d.names["API_KEYS_PARAMETER"],
    )
    keys = load_keys(settings, lambda: aws_client("ssm"))
    assert keys.identify(KEY)
    s3.put_object(Bucket=d.bucket, Key="audio/iam/served.wav", Body=samples["one"].read_bytes())
    app = create_app(
        settings, keys=KeyRing([KEY]), s3=aws_client("s3"), engine_loader=lambda _: engine
    )
    with TestClient(iam_audit.as_component(app, "server")) as client:
        answer = client.post(
            "/transcribe-s3",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"s3_input_path": f"s3://{d.bucket}/audio/iam/served.wav"},
        )
    assert answer.status_code == 200, answer.text
    made = checked(d, "server")
    assert {"GetParameter", "GetObject", "PutObject"} <= made, made


def jobs_settings(d: Deployment, aws_client: Any) -> JobsSettings:
    """The jobs API's settings as step-370 configures its functions, on resources named as
    the steps name them (the tables of step-360, the queues of step-020, step-363's key)."""
    n, sqs = d.names, aws_client("sqs")
    create_tables(aws_client("dynamodb"), TableNames.from_prefix(n["JOBS_TABLE_PREFIX"]))
    high, low, webhooks = (
        sqs.create_queue(QueueName=n[name])["QueueUrl"]
        for name in ("JOBS_HIGH_QUEUE_NAME", "JOBS_LOW_QUEUE_NAME", "WEBHOOK_QUEUE_NAME")
    )
    aws_client("ssm").put_parameter(
        Name=n["JOBS_ADMIN_KEY_PARAMETER"], Value=ADMIN_KEY, Type="SecureString"
    )
    return JobsSettings(
        storage=StorageSettings(audio_bucket=d.bucket),
        queue_url=d.queue_url,
        queue_url_high=high,
        queue_url_low=low,
        aws=d.aws,
        jobs_table_prefix=n["JOBS_TABLE_PREFIX"],
        jobs_admin_key_parameter=n["JOBS_ADMIN_KEY_PARAMETER"],
        webhook_queue_url=webhooks,
        webhook_allow_loopback=True,  # the receiver is on 127.0.0.1
        webhook_backoff_seconds=0,
    )


ADMIN_KEY = "iam-admin-key-" + "a" * 24


def test_the_jobs_policies_allow_what_the_api_tracker_and_sender_call(
    deployment: Deployment, aws_client: Any, samples: dict[str, Any]
) -> None:
    """Every route of the API (keys, jobs of every item kind, lists, results, cancel), the
    tracker completing a job and the sender delivering its webhook, each checked against its
    own policy, resources included."""
    d, s3 = deployment, aws_client("s3")
    settings = jobs_settings(d, aws_client)
    s3.put_object(Bucket=d.bucket, Key="audio/iam/item.wav", Body=samples["one"].read_bytes())
    audio = base64.b64encode(samples["one"].read_bytes()[:4000]).decode()
    app = create_jobs_app(settings)  # its clients from the factory, as in the Lambda
    with (
        receiver([]) as hook,
        serve(app) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}  # read from SSM at start-up
        issued = http.post(
            "/v1/auth/keys",
            headers=admin,
            json={"owner": "iam", "scopes": ["jobs:write", "jobs:read"]},
        )
        assert issued.status_code == 201, issued.text
        assert http.get("/v1/auth/keys", headers=admin).status_code == 200
        writer = {"Authorization": f"Bearer {issued.json()['key']}"}
        items = [
            {"id": "s3", "audio_url": f"s3://{d.bucket}/audio/iam/item.wav"},
            {"id": "b64", "audio_base64": audio, "ext": "wav"},
            {"id": "up", "upload": True, "ext": "wav"},
        ]
        jobs = []
        for priority in ("high", "normal", "low"):
            body = {
                "job_type": "asr",
                "items": items,
                "priority": priority,
                "webhook_url": hook.url,
            }
            made = http.post("/v1/jobs", headers=writer, json=body)
            assert made.status_code == 202, made.text
            jobs.append(made.json()["job_id"])
        assert http.get(f"/v1/jobs/{jobs[0]}", headers=writer).status_code == 200
        assert http.get("/v1/jobs", headers=writer).json()["jobs"]
        assert http.get(f"/v1/jobs/{jobs[0]}/results", headers=writer).status_code == 200
        assert http.delete(f"/v1/jobs/{jobs[2]}", headers=writer).status_code == 200
        # The tracker: every item of the first job has its result, so it completes.
        tracker = build_tracker(settings)
        # s3:// items' results go to the job's result key, written items' (uploaded or
        # base64) where the router writes the transcripts of their audio.
        for name in ("s3", "b64.wav", "up.wav"):
            key = f"transcripts/jobs/{jobs[0]}/{name}.json"
            s3.put_object(Bucket=d.bucket, Key=key, Body=json.dumps({"text": "hi"}).encode())
            tracker.handle(load_event("eventbridge-object-created-moto", bucket=d.bucket, key=key))
        done = http.get(f"/v1/jobs/{jobs[0]}", headers=writer).json()
        assert done["status"] == "succeeded", done
        # The sender: the completion's webhook, POSTed to the receiver.
        sender = build_sender(settings, resolve=lambda host, port: ["127.0.0.1"])
        while sender.drain(wait_seconds=1):
            pass
        assert any(jobs[0].encode() in body for _, body in hook.requests)
    assert {"GetParameter", "PutItem", "Query", "Scan", "SendMessageBatch", "PutEvents"} <= checked(
        d, "jobs-api"
    )
    assert {"GetObject", "UpdateItem", "PutEvents", "SendMessage"} <= checked(d, "jobs-tracker")
    assert {"ReceiveMessage", "GetItem", "UpdateItem", "DeleteMessage"} <= checked(
        d, "jobs-webhooks"
    )
