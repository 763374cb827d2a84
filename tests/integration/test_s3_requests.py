"""What each job costs in S3 requests, and what no request or job message can make a
component write. Counted on each component's own client (botocore's event hooks):

- the direct path: the router in-process, the real app on uvicorn (127.0.0.1, in this
  process so its S3 client can be counted, the real tiny model), moto's server over HTTP;
- the batch path: the real worker in-process on its own queues.

Target (issue 10): at most 5 S3 requests per job plus one per sidecar, router and server
together, and for the worker.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from batch_worker.consumer import dead_letter_info
from batch_worker.prefetch import RunLimits
from batch_worker.settings import WorkerSettings
from batch_worker.worker import RunSummary, Worker
from fastapi_server.auth import KeyRing
from fastapi_server.main import create_app
from fastapi_server.settings import ServerSettings
from lambda_router.handler import handle
from lambda_router.metrics import Metrics
from lambda_router.pump import StandInContext
from lambda_router.router import Router
from lambda_router.settings import RouterSettings
from tests.conftest import unique
from tests.support.aws_calls import AwsCalls
from tests.support.jobs import enqueue, queue_counts, upload_job
from tests.support.processes import free_port
from tests.support.sample_events import load_event
from transcription.job import Job
from transcription.layout import Layout
from transcription.settings import AwsSettings, EngineSettings, StorageSettings

pytestmark = pytest.mark.slow

SIDECARS = ("txt", "srt", "vtt")
FORMATS = ("json", *SIDECARS)
TARGET = 5  # S3 requests per job, besides one per sidecar
KEY = "audio/counted/one.wav"
OUT = Layout().transcript_key(KEY)
ERROR_KEY = Layout().error_key(KEY)


def sidecar_keys(output_key: str) -> list[str]:
    base = output_key.removesuffix(".json")
    return [f"{base}.{fmt}" for fmt in SIDECARS]


class CountingEngine:
    """The real engine, counting its runs."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.name, self.model, self.device = engine.name, engine.model, engine.device
        self.runs = 0

    def transcribe(self, audio: Any, options: Any) -> Any:
        self.runs += 1
        return self.engine.transcribe(audio, options)


# --- the direct path ----------------------------------------------------------------------
@dataclass
class AppServer:
    url: str
    key: str
    calls: AwsCalls  # the server's S3 requests
    engine: CountingEngine

    def post(self, body: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.post(f"{self.url}/transcribe-s3", json=body, headers=headers, timeout=120)


@pytest.fixture
def app_server(
    aws_client: Callable[[str], Any], aws_settings: AwsSettings, bucket: str, engine: Any
) -> Iterator[AppServer]:
    """The real app on uvicorn in a thread of this process, its S3 client counted."""
    calls, counting, key = AwsCalls(), CountingEngine(engine), unique("key")
    settings = ServerSettings(
        storage=StorageSettings(audio_bucket=bucket),
        engine=EngineSettings(),
        aws=aws_settings,
        rate_limit_per_minute=0,
    )
    app = create_app(
        settings,
        keys=KeyRing([key]),
        s3=calls.watch(aws_client("s3")),
        engine_loader=lambda _: counting,  # type: ignore[arg-type,return-value]
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the in-process server did not become ready"
        time.sleep(0.05)
    try:
        yield AppServer(url, key, calls, counting)
    finally:
        server.should_exit = True
        thread.join(10)


def router_for(
    server: AppServer, aws_client: Callable[[str], Any], aws: AwsSettings, bucket: str, queue: str
) -> tuple[Router, AwsCalls]:
    calls = AwsCalls()
    settings = RouterSettings(
        storage=StorageSettings(audio_bucket=bucket),
        queue_url=queue,
        aws=aws,
        server_url=server.url,
        api_key=server.key,
        health_cache_seconds=0.0,
    )
    router = Router(
        settings,
        s3=calls.watch(aws_client("s3")),
        sqs=aws_client("sqs"),
        metrics=Metrics("Test", stream=io.StringIO()),
    )
    return router, calls


def upload(s3: Any, bucket: str, key: str, path: Path) -> tuple[str, int]:
    data = path.read_bytes()
    etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
    return etag, len(data)


def test_a_direct_job_costs_the_router_one_head_and_the_server_four_plus_sidecars(
    app_server: AppServer,
    aws_client: Callable[[str], Any],
    aws_settings: AwsSettings,
    s3: Any,
    bucket: str,
    queue_url: str,
    samples: dict[str, Path],
) -> None:
    router, router_calls = router_for(app_server, aws_client, aws_settings, bucket, queue_url)
    etag, size = upload(s3, bucket, KEY, samples["one"])
    event = load_event("s3-object-created", bucket=bucket, key=KEY, etag=etag, size=size)

    [result] = handle(router, event, StandInContext("counted", 60.0))

    assert (result["route"], result["reason"]) == ("direct", "server_ready"), result
    assert router_calls.names == ["HeadObject"]
    server = app_server.calls
    assert server.on(OUT) == ["GetObject", "PutObject"]  # look once, write conditionally
    assert server.on(KEY) == ["GetObject"]  # the audio, conditional on the event's ETag
    assert [server.on(k) for k in sidecar_keys(OUT)] == [["PutObject"]] * len(SIDECARS)
    assert server.on(ERROR_KEY) == ["DeleteObject"]
    total = len(router_calls.names) + len(server.names)
    assert total <= TARGET + len(SIDECARS), (router_calls.names, server.names)
    stored = s3.head_object(Bucket=bucket, Key=OUT)["Metadata"]
    assert stored == {"source-etag": etag, "sidecars": ",".join(SIDECARS)}


def test_a_missing_sidecar_comes_back_without_running_the_model(
    app_server: AppServer, s3: Any, bucket: str, samples: dict[str, Path]
) -> None:
    etag, _ = upload(s3, bucket, KEY, samples["one"])
    body = {"s3_input_path": f"s3://{bucket}/{KEY}", "etag": etag}
    assert app_server.post(body).json()["output"]["outcome"] == "created"
    srt = sidecar_keys(OUT)[1]
    written = s3.get_object(Bucket=bucket, Key=srt)["Body"].read()
    s3.delete_object(Bucket=bucket, Key=srt)  # as a crash between the JSON and it would
    app_server.calls.clear()

    again = app_server.post(body)

    assert again.status_code == 200, again.text
    assert again.json()["output"]["outcome"] == "existing"
    assert app_server.engine.runs == 1
    assert s3.get_object(Bucket=bucket, Key=srt)["Body"].read() == written
    assert app_server.calls.names == ["GetObject", "ListObjectsV2", "PutObject"]

    app_server.calls.clear()
    assert app_server.post(body).json()["output"]["outcome"] == "existing"
    assert app_server.calls.names == ["GetObject", "ListObjectsV2"]  # complete: nothing to do


# --- the batch path -----------------------------------------------------------------------
@dataclass
class WorkerRun:
    """``run()`` drains the test's queue with a new worker (one run each), sharing the S3
    call count and the engine."""

    settings: WorkerSettings
    sqs: Any
    s3: Any
    calls: AwsCalls  # the worker's S3 requests
    engine: CountingEngine

    @property
    def queue(self) -> str:
        return self.settings.queue_url

    @property
    def dlq(self) -> str:
        assert self.settings.dlq_url is not None
        return self.settings.dlq_url

    def __call__(self) -> RunSummary:
        worker = Worker(
            self.settings,
            self.engine,  # type: ignore[arg-type]
            sqs=self.sqs,
            s3=self.s3,
            dlq_url=self.dlq,
        )
        return worker.run(RunLimits.once())


@pytest.fixture
def worker_run(
    aws_client: Callable[[str], Any], aws_settings: AwsSettings, bucket: str, engine: Any
) -> WorkerRun:
    sqs = aws_client("sqs")
    queue = sqs.create_queue(QueueName=unique("jobs"))["QueueUrl"]
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    calls = AwsCalls()
    settings = WorkerSettings(
        aws=aws_settings,
        engine=EngineSettings(),
        queue_url=queue,
        storage=StorageSettings(audio_bucket=bucket),
        dlq_url=dlq,
        wait_time_seconds=1,
    )
    s3 = calls.watch(aws_client("s3"))
    return WorkerRun(settings, sqs, s3, calls, CountingEngine(engine))


def test_a_batch_job_costs_the_worker_four_s3_requests_plus_sidecars(
    worker_run: WorkerRun, s3: Any, sqs: Any, bucket: str, samples: dict[str, Path]
) -> None:
    job = upload_job(s3, bucket, KEY, samples["one"], formats=FORMATS)
    enqueue(sqs, worker_run.queue, job)

    assert worker_run().outcomes == {"transcribed": 1}

    calls = worker_run.calls
    assert calls.on(OUT) == ["HeadObject", "PutObject"]
    assert calls.on(KEY) == ["GetObject"]
    assert [calls.on(k) for k in sidecar_keys(OUT)] == [["PutObject"]] * len(SIDECARS)
    assert calls.on(ERROR_KEY) == ["DeleteObject"]
    assert len(calls.names) <= TARGET + len(SIDECARS), calls.names


def test_the_worker_repairs_a_missing_sidecar_of_a_current_transcript(
    worker_run: WorkerRun, s3: Any, sqs: Any, bucket: str, samples: dict[str, Path]
) -> None:
    job = upload_job(s3, bucket, KEY, samples["one"], formats=FORMATS)
    enqueue(sqs, worker_run.queue, job)
    assert worker_run().outcomes == {"transcribed": 1}
    vtt = sidecar_keys(OUT)[2]
    written = s3.get_object(Bucket=bucket, Key=vtt)["Body"].read()
    s3.delete_object(Bucket=bucket, Key=vtt)
    worker_run.calls.clear()

    enqueue(sqs, worker_run.queue, job)  # a second delivery, or the router's delayed copy
    assert worker_run().outcomes == {"skipped": 1}

    assert worker_run.engine.runs == 1
    assert s3.get_object(Bucket=bucket, Key=vtt)["Body"].read() == written
    assert worker_run.calls.names == ["HeadObject", "ListObjectsV2", "GetObject", "PutObject"]


def dead_letters(sqs: Any, dlq: str) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return list(response.get("Messages", ()))


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda job: replace(job, output_key=job.key), id="output-is-the-audio"),
        pytest.param(
            lambda job: replace(job, output_key="transcripts/counted/other.wav.json"),
            id="output-is-another-audios-transcript",
        ),
        pytest.param(
            lambda job: replace(job, output_bucket=unique("elsewhere")), id="output-bucket"
        ),
        pytest.param(lambda job: replace(job, bucket=unique("elsewhere")), id="input-bucket"),
    ],
)
def test_a_job_naming_anything_but_its_transcripts_place_is_dead_lettered_untouched(
    worker_run: WorkerRun,
    s3: Any,
    sqs: Any,
    bucket: str,
    samples: dict[str, Path],
    forge: Callable[[Job], Job],
) -> None:
    job = forge(upload_job(s3, bucket, KEY, samples["one"], formats=FORMATS))
    audio_etag = s3.head_object(Bucket=bucket, Key=KEY)["ETag"]
    enqueue(sqs, worker_run.queue, job)

    assert worker_run().outcomes == {"dead_lettered": 1}

    assert worker_run.calls.names == []  # refused before any S3 request
    assert worker_run.engine.runs == 0
    assert s3.head_object(Bucket=bucket, Key=KEY)["ETag"] == audio_etag
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", ())
    assert [o["Key"] for o in listing] == [KEY]  # no transcript, no error record anywhere
    assert queue_counts(sqs, worker_run.queue) == (0, 0)
    [letter] = dead_letters(sqs, worker_run.dlq)
    info = dead_letter_info(letter["MessageAttributes"])
    assert info is not None
    assert info["reason"] == "refused_job"
    assert "not_allowed" in info["detail"]
    assert json.loads(letter["Body"])["output_key"] == job.output_key
