"""The router's own cost, in one run, against moto's server on 127.0.0.1.

* **queue path**: handler time per event with the server down and the circuit breaker
  open (one S3 HEAD + one SQS SendMessage, no HTTP), over ``--events`` events;
  p50 and p95. Target p95 ≤ 50 ms against the local endpoint.
* **direct path**: the wall time of the handler routing an upload to the server (HEAD,
  health check, ``POST /transcribe-s3``, the server downloading, transcribing and storing)
  against calling the server's ``POST /transcribe-s3`` directly with the same body, on the
  same file (each run on a fresh key, so both really transcribe). In each round both run,
  in alternating order; the ratio is taken per round, then the median. Target ≤ 1.10.
  The server is the real one (``python -m fastapi_server``, tiny.en on the CPU) when it can
  start; otherwise the test fake server running the real model through
  ``transcription.inference.service`` (the output says which).
* **hang**: a server whose ``/health`` passes while ``POST /transcribe-s3`` hangs (the
  test fake server in ``slow`` mode), with the default settings but a 5 s breaker
  cool-down. The first event may cost one attempt timeout for its size, every later event
  must take ≤ 50 ms (the breaker is open: no HTTP at all) until a real call succeeds; after
  the cool-down the probe is one more such attempt, and once the server is healthy again
  the probe succeeds and events go direct. Measured side by side with a healthy fake
  server's per-event time (baseline) in the same run.
* **zip**: the size of ``dist/lambda_router.zip`` (built when missing: ``make lambda-zip``).

    .venv/bin/python bench/bench_router.py [--events 200] [--rounds 7] [--hang-events 20]
    .venv/bin/python bench/bench_router.py --only hang
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lambda_router.handler import handle  # noqa: E402
from lambda_router.metrics import Metrics  # noqa: E402
from lambda_router.package import build  # noqa: E402
from lambda_router.router import Router, aws_client  # noqa: E402
from lambda_router.settings import RouterSettings  # noqa: E402
from tests.server.harness import AWS_ENV, server_env, start_server  # noqa: E402
from tests.support.fake_server import FakeServer, engine_transcriber  # noqa: E402
from tests.support.processes import free_port, moto_server  # noqa: E402
from tests.support.router_kit import context  # noqa: E402
from tests.support.sample_events import load_event  # noqa: E402
from transcription.aws import make_client  # noqa: E402
from transcription.layout import normalize_etag  # noqa: E402
from transcription.settings import AwsSettings, StorageSettings  # noqa: E402

SAMPLE = ROOT / "tests" / "samples" / "speech-one.wav"
ZIP = ROOT / "dist" / "lambda_router.zip"
TARGET_P95_MS = 50.0
TARGET_RATIO = 1.10
API_KEY = "bench-router-key"


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def router_for(
    aws: AwsSettings, bucket: str, queue_url: str, server_url: str, **extra: Any
) -> Router:
    settings = RouterSettings(
        storage=StorageSettings(audio_bucket=bucket),
        queue_url=queue_url,
        aws=aws,
        server_url=server_url,
        api_key=API_KEY,
        **extra,
    )
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the router
    return Router(
        settings,
        s3=aws_client("s3", settings),
        sqs=aws_client("sqs", settings),
        metrics=Metrics(settings.metrics_namespace, stream=devnull),
    )


def upload(s3: Any, bucket: str, key: str, body: bytes) -> Any:
    etag = normalize_etag(s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"])
    return load_event(
        "eventbridge-object-created", bucket=bucket, key=key, etag=etag, size=len(body)
    )


# --- queue path ---------------------------------------------------------------------------
class CallClock:
    """Time spent inside AWS calls (botocore before-call/after-call on the router's clients)."""

    def __init__(self, *clients: Any) -> None:
        self.total = 0.0
        self._started: dict[str, float] = {}
        for client in clients:
            client.meta.events.register("before-call", self._before)
            client.meta.events.register("after-call", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        self._started[model.name] = time.perf_counter()

    def _after(self, model: Any, **_: Any) -> None:
        self.total += time.perf_counter() - self._started.pop(model.name)


def bench_queue_path(
    aws: AwsSettings, s3: Any, sqs: Any, events: int
) -> tuple[list[float], list[float]]:
    """Handler milliseconds per event, and of those the router's own (outside AWS calls)."""
    bucket = f"bench-queue-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=f"bench-jobs-{os.getpid()}")["QueueUrl"]
    nowhere = f"http://127.0.0.1:{free_port()}"  # the server is down
    router = router_for(
        aws, bucket, queue_url, nowhere, breaker_failures=1, breaker_cooldown_seconds=3600
    )
    handle(router, upload(s3, bucket, "audio/warm-up.wav", b"warm up"), context())  # opens it
    assert router.breaker.state == "open"
    clock = CallClock(router.s3, router.queue.sqs)
    times: list[float] = []
    own: list[float] = []
    for i in range(events):
        event = upload(s3, bucket, f"audio/queue/{i:04d}.wav", b"x" * 1000)
        clock.total = 0.0
        started = time.perf_counter()
        [result] = handle(router, event, context())
        elapsed = time.perf_counter() - started
        times.append(elapsed * 1000)
        own.append((elapsed - clock.total) * 1000)
        assert (result["route"], result["reason"]) == ("queued", "breaker_open"), result
    return times, own


# --- direct path --------------------------------------------------------------------------
@contextlib.contextmanager
def a_server(
    moto_url: str, aws: AwsSettings, s3: Any, bucket: str, log_dir: Path
) -> Iterator[tuple[str, str]]:
    """The real server when it starts, else the fake server with the real model."""
    try:
        env = server_env(moto_url, bucket, API_KEY, CONCURRENCY=1)
        with start_server(env, log_dir / "server.log", ready_timeout=120) as server:
            yield server.url, "python -m fastapi_server (tiny.en, CPU)"
            return
    except (RuntimeError, TimeoutError) as error:
        sys.stderr.write(f"the real server did not start ({error}); using the fake server\n")
    from transcription.inference.engines import load_engine
    from transcription.settings import EngineSettings

    fake = FakeServer(
        s3, api_key=API_KEY, transcriber=engine_transcriber(load_engine(EngineSettings()))
    )
    with fake:
        yield (
            fake.url,
            "tests/support/fake_server.py running tiny.en via transcription.inference.service",
        )


def post_directly(server_url: str, bucket: str, key: str, etag: str) -> float:
    body = json.dumps(
        {
            "s3_input_path": f"s3://{bucket}/{key}",
            "s3_output_path": f"s3://{bucket}/transcripts/{key.removeprefix('audio/')}.json",
            "etag": etag,
            "return_text": False,
        }
    ).encode()
    request = urllib.request.Request(
        f"{server_url}/transcribe-s3",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        response.read()
        assert response.status == 200
    return time.perf_counter() - started


def bench_direct_path(
    moto_url: str, aws: AwsSettings, s3: Any, sqs: Any, rounds: int, log_dir: Path
) -> tuple[list[float], list[float], str]:
    """Seconds per file through the router and straight to the server, round by round."""
    bucket = f"bench-direct-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=f"bench-direct-jobs-{os.getpid()}")["QueueUrl"]
    audio = SAMPLE.read_bytes()
    with a_server(moto_url, aws, s3, bucket, log_dir) as (server_url, which):
        router = router_for(aws, bucket, queue_url, server_url)

        def through_router(i: int) -> float:
            event = upload(s3, bucket, f"audio/direct/router-{i}.wav", audio)
            started = time.perf_counter()
            [result] = handle(router, event, context(300))
            elapsed = time.perf_counter() - started
            assert result["route"] == "direct", result
            return elapsed

        def straight(i: int) -> float:
            key = f"audio/direct/plain-{i}.wav"
            etag = normalize_etag(s3.put_object(Bucket=bucket, Key=key, Body=audio)["ETag"])
            return post_directly(server_url, bucket, key, etag)

        through_router(0), straight(0)  # warm both paths up
        routed: list[float] = []
        direct: list[float] = []
        for i in range(1, rounds + 1):  # alternate which goes first, so drift cancels
            if i % 2:
                routed.append(through_router(i))
                direct.append(straight(i))
            else:
                direct.append(straight(i))
                routed.append(through_router(i))
    return routed, direct, which


# --- a hanging server behind a healthy /health ---------------------------------------------
HANG_TARGET_MS = 50.0
HANG_COOLDOWN_SECONDS = 5.0


def bench_hang(aws: AwsSettings, s3: Any, sqs: Any, events: int) -> None:
    """Per-event time with a hanging server vs a healthy one, printed phase by phase."""
    bucket = f"bench-hang-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=f"bench-hang-jobs-{os.getpid()}")["QueueUrl"]
    audio = SAMPLE.read_bytes()
    counter = iter(range(1_000_000))

    def timed(router: Router) -> tuple[float, dict[str, Any]]:
        event = upload(s3, bucket, f"audio/hang/{next(counter):05d}.wav", audio)
        started = time.perf_counter()
        [result] = handle(router, event, context(300))
        return (time.perf_counter() - started) * 1000, result

    with FakeServer(s3, api_key=API_KEY) as fake:
        healthy = router_for(aws, bucket, queue_url, fake.url)
        timed(healthy)  # warm up
        baseline = [timed(healthy)[0] for _ in range(events)]
        base_p50 = statistics.median(baseline)
        print(
            f"hang: healthy fake server baseline, {events} events: p50 {base_p50:.1f} ms, "
            f"max {max(baseline):.1f} ms per event (direct)"
        )
        router = router_for(
            aws, bucket, queue_url, fake.url, breaker_cooldown_seconds=HANG_COOLDOWN_SECONDS
        )
        timed(router)  # warm up (healthy: direct)
        clock = CallClock(router.s3, router.queue.sqs)
        limit = router.client.timeout.for_object(len(audio))
        fake.set_mode("slow", delay=3600)  # /health passes, transcriptions never answer

        def phase(name: str) -> bool:
            first_ms, first = timed(router)
            later, own_ms = [], []
            for _ in range(events):
                clock.total = 0.0
                later.append(timed(router))
                own_ms.append(later[-1][0] - clock.total * 1000)
            later_ms = [ms for ms, _ in later]
            reasons = sorted({r["reason"] for _, r in later})
            overhead_ms = first_ms - limit * 1000  # the HEAD, /health and the enqueue
            first_ok = overhead_ms <= router.settings.enqueue_reserve_seconds * 1000
            later_ok = max(later_ms) <= HANG_TARGET_MS
            print(
                f"hang, {name}: first event {first_ms / 1000:.2f} s ({first['route']}: "
                f"{first['reason']}, {first['attempts']} attempt) = its attempt timeout "
                f"{limit:.2f} s for {len(audio)} bytes + {overhead_ms:.0f} ms (HEAD, /health, "
                f"enqueue): {verdict(first_ok)}; next {events} events p50 "
                f"{statistics.median(later_ms):.1f} ms, max {max(later_ms):.1f} ms "
                f"({', '.join(reasons)}; target <= {HANG_TARGET_MS:.0f} ms): "
                f"{verdict(later_ok)}; outside the AWS calls max {max(own_ms):.2f} ms; "
                f"p50 / healthy p50 {statistics.median(later_ms) / base_p50:.2f}"
            )
            return first_ok and later_ok

        phase("the hang begins")
        time.sleep(HANG_COOLDOWN_SECONDS)
        phase(f"after the {HANG_COOLDOWN_SECONDS:.0f} s cool-down, the probe hangs too")
        fake.set_mode("healthy")
        time.sleep(HANG_COOLDOWN_SECONDS)
        recovered = [timed(router) for _ in range(events)]
        routes = sorted({r["route"] for _, r in recovered})
        print(
            f"hang, healed: after the cool-down the probe succeeds; {events} events "
            f"p50 {statistics.median(ms for ms, _ in recovered):.1f} ms ({', '.join(routes)}); "
            f"POST /transcribe-s3 seen {fake.count('/transcribe-s3')} times in all"
        )


def zip_size() -> tuple[Path, int]:
    if not ZIP.exists():
        build(ZIP)
    return ZIP, ZIP.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--hang-events", type=int, default=20)
    parser.add_argument("--only", choices=["queue", "direct", "hang", "zip"], action="append")
    args = parser.parse_args()
    run = set(args.only or ["queue", "direct", "hang", "zip"])
    for name, value in AWS_ENV.items():
        os.environ.setdefault(name, value)
    with (
        tempfile.TemporaryDirectory(prefix="bench-router-") as tmp,
        moto_server(log_path=Path(tmp) / "moto.log") as moto_url,
    ):
        aws = AwsSettings(aws_region=AWS_ENV["AWS_REGION"], aws_endpoint_url=moto_url)
        s3, sqs = make_client("s3", aws), make_client("sqs", aws)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if "queue" in run:
            times, own = bench_queue_path(aws, s3, sqs, args.events)
            p95 = percentile(times, 95)
            print(
                f"queue path (server down, breaker open), {args.events} events: "
                f"p50 {percentile(times, 50):.1f} ms, p95 {p95:.1f} ms per event "
                f"(target p95 <= {TARGET_P95_MS:.0f} ms): {verdict(p95 <= TARGET_P95_MS)}; "
                f"outside the two AWS calls: p50 {percentile(own, 50):.2f} ms, "
                f"p95 {percentile(own, 95):.2f} ms"
            )
        if "direct" in run:
            routed, direct, which = bench_direct_path(
                moto_url, aws, s3, sqs, args.rounds, Path(tmp)
            )
            ratio = statistics.median(r / d for r, d in zip(routed, direct, strict=True))
            print(
                f"direct path, {SAMPLE.name}, {args.rounds} rounds: router median "
                f"{statistics.median(routed):.3f} s, POST /transcribe-s3 directly median "
                f"{statistics.median(direct):.3f} s; ratio (per round, median) {ratio:.3f} "
                f"(target <= {TARGET_RATIO:.2f}): {verdict(ratio <= TARGET_RATIO)}  "
                f"[server: {which}]"
            )
        if "hang" in run:
            bench_hang(aws, s3, sqs, args.hang_events)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if "zip" in run:
        path, size = zip_size()
        print(f"lambda zip: {path.relative_to(ROOT)} {size / 1e6:.2f} MB ({size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
