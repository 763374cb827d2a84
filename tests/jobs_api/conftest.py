"""Fixtures of the jobs API tests: its tables on moto's server, its stores, its settings."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from jobs_api.audit import AuditLog
from jobs_api.dynamo import Dynamo
from jobs_api.keys import KeyStore
from jobs_api.main import create_app
from jobs_api.settings import JobsSettings
from jobs_api.store import JobStore
from jobs_api.tables import TableNames, create_tables
from tests.conftest import REGION, unique
from tests.support.jobs_api import serve
from tests.support.processes import free_port, running
from transcription.priority import PRIORITIES
from transcription.settings import load


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server over HTTP, its DynamoDB requests serialized (see local_stack.serial_moto).

    Overrides the session's ``moto_url`` for these tests, so every fixture built on it
    (``s3``, ``sqs``, ``aws_env``...) talks to this one.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "local_stack.serial_moto", "-p", str(port)]
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with running(args, ready_url=f"{url}/moto-api/", log_path=log_path):
        yield url


@pytest.fixture
def dynamodb(aws_client: Any) -> Any:
    return aws_client("dynamodb")


@pytest.fixture
def table_prefix(dynamodb: Any) -> str:
    """A fresh set of the jobs API's tables; their names start with the returned prefix."""
    prefix = unique("jobs")
    create_tables(dynamodb, TableNames.from_prefix(prefix))
    return prefix


@pytest.fixture
def tables(table_prefix: str) -> TableNames:
    return TableNames.from_prefix(table_prefix)


@pytest.fixture
def dynamo(dynamodb: Any) -> Dynamo:
    return Dynamo(dynamodb)


@pytest.fixture
def job_store(dynamo: Dynamo, tables: TableNames) -> JobStore:
    return JobStore(dynamo, tables.jobs)


@pytest.fixture
def key_store(dynamo: Dynamo, tables: TableNames) -> KeyStore:
    return KeyStore(dynamo, tables.keys)


@pytest.fixture
def audit_log(dynamo: Dynamo, tables: TableNames) -> AuditLog:
    return AuditLog(dynamo, tables.audit)


ADMIN_KEY = "test-admin-" + "k" * 24


@dataclass
class JobsStack:
    """Everything one jobs API test needs: settings, the AWS clients, and their names."""

    settings: JobsSettings
    bucket: str
    queues: dict[str, str]  # priority → queue URL
    webhook_queue: str
    webhook_dlq: str
    events_queue: str  # receives the completion events (an EventBridge rule's target)
    clients: dict[str, Any]
    resolver: dict[str, list[str]] = field(default_factory=dict)  # host → addresses (stub)

    def resolve(self, host: str, port: int) -> list[str]:
        """A stand-in DNS: names a test registers, else localhost; nothing is looked up."""
        if host in self.resolver:
            return self.resolver[host]
        if host == "localhost":
            return ["127.0.0.1"]
        raise OSError(f"{host} does not resolve (test resolver)")


@pytest.fixture
def jobs_stack(aws_client: Any, s3: Any, sqs: Any, table_prefix: str, bucket: str) -> JobsStack:
    queues = {p: sqs.create_queue(QueueName=unique(f"jobs-{p}"))["QueueUrl"] for p in PRIORITIES}
    dlq = sqs.create_queue(QueueName=unique("webhooks-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    webhook_queue = sqs.create_queue(
        QueueName=unique("webhooks"),
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
        },
    )["QueueUrl"]
    events = aws_client("events")
    events_queue = sqs.create_queue(QueueName=unique("completions"))["QueueUrl"]
    events_arn = sqs.get_queue_attributes(QueueUrl=events_queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    rule = unique("job-completed")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {"source": ["transcription-router"], "detail-type": ["Transcription Job Completed"]}
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": events_arn}])
    environ = {
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": s3.meta.endpoint_url,
        "AUDIO_BUCKET": bucket,
        "QUEUE_URL": queues["normal"],
        "QUEUE_URL_HIGH": queues["high"],
        "QUEUE_URL_LOW": queues["low"],
        "JOBS_TABLE_PREFIX": table_prefix,
        "JOBS_ADMIN_KEY": ADMIN_KEY,
        "WEBHOOK_QUEUE_URL": webhook_queue,
        "WEBHOOK_ALLOW_LOOPBACK": "true",
        "WEBHOOK_MAX_ATTEMPTS": "3",
        "WEBHOOK_BACKOFF_SECONDS": "0",
        "JOBS_API_URL": "http://127.0.0.1:8100",
    }
    yield_stack = JobsStack(
        settings=load(JobsSettings, environ),
        bucket=bucket,
        queues=queues,
        webhook_queue=webhook_queue,
        webhook_dlq=dlq,
        events_queue=events_queue,
        clients={
            "dynamodb": aws_client("dynamodb"),
            "s3": s3,
            "sqs": sqs,
            "events": events,
        },
    )
    return yield_stack


@dataclass
class Api:
    """The real app on uvicorn, and an HTTP client for it holding the admin key."""

    url: str
    stack: JobsStack
    http: httpx.Client

    def issue(self, owner: str, scopes: list[str], **extra: Any) -> dict[str, Any]:
        response = self.http.post(
            "/v1/auth/keys",
            json={"owner": owner, "scopes": scopes, **extra},
            headers=bearer(ADMIN_KEY),
        )
        assert response.status_code == 201, response.text
        issued: dict[str, Any] = response.json()
        return issued


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api(jobs_stack: JobsStack) -> Iterator[Api]:
    app = create_app(jobs_stack.settings, **jobs_stack.clients, resolve=jobs_stack.resolve)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield Api(url, jobs_stack, http)
