"""Build routers for tests: real clients to moto's server, counted, aimed at a fake server.

The fixtures ``server`` (one fake server per test module), ``clients`` (the router's AWS
clients, per module) and ``kit`` (per test) are shared by the router's test modules, which
take them with ``server, clients, kit = router_kit.server, router_kit.clients, router_kit.kit``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from tenacity import wait_none

from lambda_router.handler import handle
from lambda_router.metrics import Metrics
from lambda_router.pump import StandInContext
from lambda_router.router import Router
from lambda_router.settings import RouterSettings
from lambda_router.transport import HttpResponse, Transport, UrllibTransport
from tests.conftest import REGION
from tests.support.aws_calls import AwsCalls
from tests.support.fake_server import FakeServer
from tests.support.sample_events import load_event
from transcription.aws import make_client
from transcription.job import Job
from transcription.layout import normalize_etag
from transcription.settings import AwsSettings, StorageSettings


def context(seconds: float = 60.0) -> StandInContext:
    """A Lambda context with ``seconds`` left (the pump's stand-in, as used locally)."""
    return StandInContext("test-request", seconds)


class RecordingTransport:
    """The real urllib transport, remembering each request's method, path and timeout."""

    def __init__(self) -> None:
        self.inner = UrllibTransport()
        self.requests: list[tuple[str, str, float]] = []

    def __call__(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        self.requests.append((method, "/" + url.split("/", 3)[-1], timeout))
        return self.inner(method, url, timeout=timeout, body=body, headers=headers)

    def timeouts(self, path: str) -> list[float]:
        return [timeout for _, p, timeout in self.requests if p == path]


@dataclass
class RouterClients:
    """The router's S3, SQS and SSM clients, built once per module; their calls counted."""

    s3: Any
    sqs: Any
    ssm: Any
    calls: AwsCalls

    @classmethod
    def build(cls, aws: AwsSettings) -> RouterClients:
        calls = AwsCalls()
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            s3, sqs, ssm = (calls.watch(make_client(s, aws)) for s in ("s3", "sqs", "ssm"))
        return cls(s3=s3, sqs=sqs, ssm=ssm, calls=calls)


@dataclass
class RouterKit:
    aws: AwsSettings
    bucket: str
    queue_url: str
    server: FakeServer
    s3: Any  # the test's own client (uploads, checks): not counted
    sqs: Any
    clients: RouterClients
    emf: io.StringIO = field(default_factory=io.StringIO)

    def __post_init__(self) -> None:
        self.clients.calls.clear()

    @property
    def calls(self) -> AwsCalls:
        return self.clients.calls

    def settings(self, **overrides: Any) -> RouterSettings:
        values: dict[str, Any] = {
            "storage": StorageSettings(audio_bucket=self.bucket),
            "queue_url": self.queue_url,
            "aws": self.aws,
            "server_url": self.server.url,
            "health_cache_seconds": 0.0,
            "direct_timeout_min_seconds": 5.0,
            "direct_timeout_seconds": 10.0,
            # A small enqueue reserve (the SQS client's worst case): 0.4 s.
            "sqs_connect_timeout_seconds": 0.2,
            "sqs_read_timeout_seconds": 0.2,
            "sqs_max_attempts": 1,
        }
        values.update(overrides)
        return RouterSettings(**values)

    def router(
        self, *, real_waits: bool = False, transport: Transport | None = None, **overrides: Any
    ) -> Router:
        """A router whose S3, SQS and SSM calls are counted in ``calls``."""
        settings = self.settings(**overrides)
        return Router(
            settings,
            s3=self.clients.s3,
            sqs=self.clients.sqs,
            ssm=lambda: self.clients.ssm,
            transport=transport,
            metrics=Metrics("Test", stream=self.emf),
            wait=None if real_waits else wait_none(),
        )

    def send(
        self, router: Router, key: str, body: bytes | None = None, seconds: float = 60.0
    ) -> dict[str, Any]:
        """Upload ``key`` and route its EventBridge event with ``seconds`` of budget."""
        etag, size = self.upload(key, body)
        [result] = handle(router, self.event(key, etag, size), context(seconds))
        return result

    def upload(self, key: str, body: bytes | None = None) -> tuple[str, int]:
        data = body if body is not None else f"not really audio: {key}".encode()
        etag = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)["ETag"]
        return normalize_etag(etag), len(data)

    def event(
        self, key: str, etag: str, size: int, name: str = "eventbridge-object-created"
    ) -> Any:
        return load_event(name, bucket=self.bucket, key=key, etag=etag, size=size)

    def jobs(self, queue_url: str | None = None) -> list[tuple[Job, dict[str, Any]]]:
        """Every job on the queue (default: the jobs queue), received and left in flight, with
        its message attributes."""
        jobs: list[tuple[Job, dict[str, Any]]] = []
        while True:
            response = self.sqs.receive_message(
                QueueUrl=queue_url or self.queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=60,
            )
            messages = response.get("Messages", [])
            if not messages:
                return jobs
            jobs += [(Job.from_json(m["Body"]), m.get("MessageAttributes", {})) for m in messages]

    def transcript(self, output_key: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=output_key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return dict(json.loads(body))

    def emf_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.emf.getvalue().splitlines()]


# --- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(s3=None) as fake:
        yield fake


@pytest.fixture(scope="module")
def clients(moto_url: str) -> RouterClients:
    return RouterClients.build(AwsSettings(aws_region=REGION, aws_endpoint_url=moto_url))


@pytest.fixture
def kit(
    server: FakeServer,
    clients: RouterClients,
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    aws_settings: AwsSettings,
) -> Iterator[RouterKit]:
    """A fresh bucket and queue, the fake server healthy and empty, the call count at zero."""
    server.reset()
    server.s3 = s3
    yield RouterKit(aws_settings, bucket, queue_url, server, s3, sqs, clients)
    server.reset()
