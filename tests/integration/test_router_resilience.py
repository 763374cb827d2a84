"""Retries, the circuit breaker, the time budget and the server's address from SSM.

Against moto's server over HTTP and the fake server (a real HTTP server on 127.0.0.1)
switched between healthy, busy, slow, flaky, failing and down.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from lambda_router import handler
from lambda_router.breaker import BreakerState
from lambda_router.exceptions import EnqueueFailed
from lambda_router.handler import handle
from lambda_router.publisher import JobPublisher
from lambda_router.router import Router, aws_client
from lambda_router.settings import RouterSettings
from tests.conftest import REGION
from tests.support import router_kit
from tests.support.fake_server import SilentServer
from tests.support.processes import free_port
from tests.support.router_kit import RecordingTransport, RouterKit, context
from transcription.exceptions import SettingsError
from transcription.job import Job
from transcription.settings import AwsSettings, load

LINUX_FIRST_SYN_RETRANSMIT_SECONDS = 1.0  # TCP_TIMEOUT_INIT

KEY = "audio/resilience/talk.mp3"
RESERVE_1S = {  # the SQS client's worst case, so the enqueue reserve: 1 s
    "sqs_connect_timeout_seconds": 0.5,
    "sqs_read_timeout_seconds": 0.5,
    "sqs_max_attempts": 1,
}


server, clients, kit = router_kit.server, router_kit.clients, router_kit.kit  # shared fixtures


def send(kit: RouterKit, router: Router, key: str = KEY, seconds: float = 60.0) -> dict[str, Any]:
    etag, size = kit.upload(key)
    [result] = handle(router, kit.event(key, etag, size), context(seconds))
    return result


# --- retries ----------------------------------------------------------------------------
def test_flaky_server_is_retried_until_it_answers(kit: RouterKit) -> None:
    kit.server.set_mode("flaky", failures=2, status=503)
    result = send(kit, kit.router(direct_max_attempts=3))
    assert (result["route"], result["attempts"]) == ("direct", 3)
    assert kit.server.count("/transcribe-s3") == 3
    assert kit.calls.names == ["HeadObject"]


@pytest.mark.parametrize("status", [429, 502, 504, 0])  # 0: the connection is dropped
def test_every_retryable_failure_is_retried(kit: RouterKit, status: int) -> None:
    kit.server.set_mode("flaky", failures=1, status=status)
    result = send(kit, kit.router())
    assert (result["route"], result["attempts"]) == ("direct", 2)


@pytest.mark.parametrize(("status", "reason"), [(503, "server_busy"), (502, "server_down")])
def test_retries_are_bounded_then_the_job_is_queued(
    kit: RouterKit, status: int, reason: str
) -> None:
    """The reason says what the last answer was, not just that the attempts ran out."""
    kit.server.set_mode("flaky", failures=10, status=status)
    result = send(kit, kit.router(direct_max_attempts=3, breaker_failures=10))
    assert (result["route"], result["reason"], result["attempts"]) == ("queued", reason, 3)
    assert kit.server.count("/transcribe-s3") == 3
    assert kit.calls.names == ["HeadObject", "SendMessage"]
    [(job, _)] = kit.jobs()  # no delay: the server answered, it is not still working
    assert job.reason == reason


def test_a_server_error_other_than_502_503_504_is_not_retried(kit: RouterKit) -> None:
    kit.server.set_mode("flaky", failures=1, status=500)
    result = send(kit, kit.router(direct_max_attempts=5))
    assert (result["route"], result["reason"], result["attempts"]) == ("queued", "server_down", 1)


def test_retry_after_is_honoured(kit: RouterKit) -> None:
    kit.server.set_mode("flaky", failures=1, status=503, retry_after="1")
    result = send(kit, kit.router(real_waits=True, direct_backoff_seconds=0.01))
    assert (result["route"], result["attempts"]) == ("direct", 2)
    first, second = kit.server.seen("/transcribe-s3")
    assert second.at - first.at >= 0.95


def test_a_retry_after_beyond_the_budget_queues_at_once(kit: RouterKit) -> None:
    kit.server.set_mode("flaky", failures=1, status=503, retry_after="120")
    started = time.monotonic()
    result = send(kit, kit.router(real_waits=True), seconds=30)
    assert (result["route"], result["reason"], result["attempts"]) == (
        "queued",
        "budget_exhausted",
        1,
    )
    assert time.monotonic() - started < 10  # it did not sleep 120 s, nor until the deadline


# --- the time budget --------------------------------------------------------------------
def test_with_a_3_s_deadline_and_a_hanging_server_the_event_is_queued_in_time(
    kit: RouterKit,
) -> None:
    kit.server.set_mode("slow", delay=60)  # /health answers, /transcribe-s3 hangs
    # The work would allow 60 s; the budget allows less: the reserve (1 s) is kept.
    router = kit.router(direct_timeout_min_seconds=60, direct_timeout_seconds=120, **RESERVE_1S)
    started = time.monotonic()
    result = send(kit, router, seconds=3.0)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"queued after {elapsed:.2f} s: past the 3 s deadline"
    assert (result["route"], result["reason"], result["attempts"]) == (
        "queued",
        "budget_exhausted",
        1,
    )
    assert (
        router.breaker.state is BreakerState.CLOSED
    )  # cut short by the budget: no proof of a hang
    # The server may still finish it: the job waits before a worker sees it.
    attributes = kit.sqs.get_queue_attributes(
        QueueUrl=kit.queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert kit.calls.names == ["HeadObject", "SendMessage"]


def test_no_time_left_means_no_direct_call(kit: RouterKit) -> None:
    router = kit.router(sqs_connect_timeout_seconds=1.0, sqs_read_timeout_seconds=1.0)
    assert router.settings.enqueue_reserve_seconds == 2.0
    result = send(kit, router, seconds=2.2)
    assert (result["route"], result["reason"], result["attempts"]) == (
        "queued",
        "budget_exhausted",
        0,
    )
    assert kit.server.count("/transcribe-s3") == 0


# --- the circuit breaker ----------------------------------------------------------------
def test_flapping_server_opens_the_breaker_which_half_opens_and_recovers(kit: RouterKit) -> None:
    router = kit.router(breaker_failures=3, breaker_cooldown_seconds=1.0)
    kit.server.set_mode("failing")
    for i in range(3):
        result = send(kit, router, f"audio/flap/fail-{i}.wav")
        assert (result["route"], result["reason"]) == ("queued", "server_down")
    assert router.breaker.state is BreakerState.OPEN
    assert kit.server.count("/health") == 3

    # Open: straight to the queue, the server is not asked at all.
    kit.server.set_mode("healthy")
    result = send(kit, router, "audio/flap/while-open.wav")
    assert (result["route"], result["reason"]) == ("queued", "breaker_open")
    assert kit.server.count() == 3

    # After the cool-down one probe decides; the server is back, so the breaker closes.
    time.sleep(1.1)
    result = send(kit, router, "audio/flap/probe.wav")
    assert result["route"] == "direct"
    assert router.breaker.state is BreakerState.CLOSED
    assert send(kit, router, "audio/flap/after.wav")["route"] == "direct"
    assert len(kit.jobs()) == 4


def test_a_failed_probe_reopens_the_breaker(kit: RouterKit) -> None:
    router = kit.router(breaker_failures=1, breaker_cooldown_seconds=1.0)
    kit.server.set_mode("down")
    assert send(kit, router, "audio/probe/a.wav")["reason"] == "server_down"
    assert router.breaker.state is BreakerState.OPEN
    time.sleep(1.1)
    assert send(kit, router, "audio/probe/b.wav")["route"] == "queued"  # the probe failed
    assert router.breaker.state is BreakerState.OPEN
    kit.server.set_mode("healthy")
    assert send(kit, router, "audio/probe/c.wav")["reason"] == "breaker_open"
    assert kit.server.count() == 0


def test_failing_direct_calls_open_the_breaker_and_stop_the_retries(kit: RouterKit) -> None:
    kit.server.set_mode("flaky", failures=10, status=502)
    router = kit.router(direct_max_attempts=5, breaker_failures=2, breaker_cooldown_seconds=30)
    result = send(kit, router)
    assert (result["route"], result["reason"], result["attempts"]) == ("queued", "breaker_open", 2)
    assert router.breaker.state is BreakerState.OPEN


def test_concurrent_events_while_half_open_send_one_probe(kit: RouterKit) -> None:
    router = kit.router(breaker_failures=1, breaker_cooldown_seconds=1.0)
    kit.server.set_mode("down")
    send(kit, router, "audio/half/first.wav")
    keys = [f"audio/half/{i}.wav" for i in range(4)]
    events = [kit.event(k, *kit.upload(k)) for k in keys]
    kit.server.set_mode("healthy", health_delay=0.5)  # the probe takes a while to answer
    time.sleep(1.1)
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda e=e: results.extend(handle(router, e, context())))
        for e in events
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kit.server.count("/health") == 1  # exactly one probe; the others did not wait for it
    assert sorted(r["route"] for r in results) == ["direct", "queued", "queued", "queued"]
    assert router.breaker.state is BreakerState.CLOSED


# --- the server's address ---------------------------------------------------------------
def test_server_url_from_ssm_is_cached_then_refreshed(kit: RouterKit) -> None:
    name = f"/test/{kit.bucket}/server-url"
    ssm = kit.clients.ssm
    ssm.put_parameter(Name=name, Value=kit.server.url, Type="String")
    router = kit.router(server_url=None, server_url_parameter=name, server_url_ttl_seconds=0.5)
    kit.calls.clear()
    assert send(kit, router, "audio/ssm/1.wav")["route"] == "direct"
    assert send(kit, router, "audio/ssm/2.wav")["route"] == "direct"
    # Read once in the TTL, and only once an object needs routing (after its HEAD).
    assert kit.calls.names == ["HeadObject", "GetParameter", "HeadObject"]

    # The box was relaunched elsewhere: the new address is picked up after the TTL.
    ssm.put_parameter(
        Name=name, Value=f"http://127.0.0.1:{free_port()}", Type="String", Overwrite=True
    )
    time.sleep(0.6)
    kit.calls.clear()
    result = send(kit, router, "audio/ssm/3.wav")
    assert (result["route"], result["reason"]) == ("queued", "server_down")
    assert kit.calls.names == ["HeadObject", "GetParameter", "SendMessage"]


# --- a server that hangs while /health passes -------------------------------------------
HANG = {"direct_timeout_min_seconds": 0.5, "direct_timeout_seconds": 30.0}


def test_a_hang_behind_a_healthy_health_costs_one_attempt_then_the_breaker_is_open(
    kit: RouterKit,
) -> None:
    kit.server.set_mode("slow", delay=60)  # /health passes, /transcribe-s3 never answers
    transport = RecordingTransport()
    router = kit.router(
        transport=transport, breaker_failures=3, breaker_cooldown_seconds=60, **HANG
    )
    first = kit.send(router, "audio/hang/0.wav")
    # One attempt, as long as the work of this size should take, then the queue (delayed:
    # the server may still finish it); no retry into the same hang.
    assert (first["route"], first["reason"], first["attempts"]) == ("queued", "server_down", 1)
    size = len(b"not really audio: audio/hang/0.wav")
    assert transport.timeouts("/transcribe-s3") == [router.client.timeout.for_object(size)]
    assert router.breaker.state is BreakerState.OPEN  # one hang is enough
    for i in range(1, 4):
        later = kit.send(router, f"audio/hang/{i}.wav")
        assert (later["route"], later["reason"], later["attempts"]) == ("queued", "breaker_open", 0)
    assert kit.server.count("/transcribe-s3") == 1
    assert kit.server.count("/health") == 1  # an open breaker asks nothing


def test_half_open_is_decided_by_a_real_direct_call_not_by_health(kit: RouterKit) -> None:
    kit.server.set_mode("slow", delay=60)
    # Attempts of 2 s: time enough to look at the breaker while the probe hangs.
    router = kit.router(breaker_cooldown_seconds=0.5, **{**HANG, "direct_timeout_min_seconds": 2})
    assert kit.send(router, "audio/half-open/0.wav")["reason"] == "server_down"
    assert router.breaker.state is BreakerState.OPEN
    time.sleep(0.6)
    # The probe: /health passes, but the call hangs again, so the breaker re-opens.
    probes: list[dict[str, Any]] = []
    prober = threading.Thread(
        target=lambda: probes.append(kit.send(router, "audio/half-open/1.wav"))
    )
    prober.start()
    kit.server.wait_for("/transcribe-s3", 2)
    # While it hangs, the healthy /health has closed nothing: others still go to the queue.
    assert router.breaker.state is BreakerState.HALF_OPEN
    assert kit.send(router, "audio/half-open/meanwhile.wav")["reason"] == "breaker_open"
    prober.join()
    assert (probes[0]["route"], probes[0]["attempts"]) == ("queued", 1)
    assert router.breaker.state is BreakerState.OPEN
    assert kit.send(router, "audio/half-open/2.wav")["reason"] == "breaker_open"
    kit.server.set_mode("healthy")
    time.sleep(0.6)
    assert kit.send(router, "audio/half-open/3.wav")["route"] == "direct"  # a call succeeded
    assert router.breaker.state is BreakerState.CLOSED
    assert kit.server.count("/transcribe-s3") == 3


def test_a_probe_that_only_heard_busy_lets_the_next_event_probe(kit: RouterKit) -> None:
    router = kit.router(breaker_failures=1, breaker_cooldown_seconds=0.5, direct_max_attempts=2)
    kit.server.set_mode("failing")
    assert kit.send(router, "audio/busy-probe/0.wav")["reason"] == "server_down"
    time.sleep(0.6)
    kit.server.set_mode("flaky", failures=2, status=429)  # the probe hears only "busy"
    probe = kit.send(router, "audio/busy-probe/1.wav")
    assert (probe["reason"], probe["attempts"]) == ("server_busy", 2)
    # No second cool-down: the next event is the probe, and the server now answers.
    assert kit.send(router, "audio/busy-probe/2.wav")["route"] == "direct"
    assert router.breaker.state is BreakerState.CLOSED


def test_a_healthy_health_does_not_reset_the_count_of_failed_direct_calls(kit: RouterKit) -> None:
    kit.server.set_mode("flaky", failures=10, status=500)  # /health passes; every call 500
    router = kit.router(breaker_failures=3)
    for i in range(3):
        result = kit.send(router, f"audio/count/{i}.wav")
        assert (result["route"], result["reason"], result["attempts"]) == (
            "queued",
            "server_down",
            1,
        )
    assert router.breaker.state is BreakerState.OPEN
    assert kit.send(router, "audio/count/3.wav")["reason"] == "breaker_open"
    assert kit.server.count("/transcribe-s3") == 3


def test_failures_count_across_invocations_of_the_warm_container(
    kit: RouterKit, monkeypatch: pytest.MonkeyPatch, aws_env: dict[str, str]
) -> None:
    """Each invocation allows one attempt, fewer than BREAKER_FAILURES: it opens anyway."""
    for name, value in {
        "AUDIO_BUCKET": kit.bucket,
        "QUEUE_URL": kit.queue_url,
        "SERVER_URL": kit.server.url,
        "HEALTH_CACHE_SECONDS": "0",
        "BREAKER_FAILURES": "3",
        "DIRECT_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    kit.server.set_mode("flaky", failures=10, status=502)
    handler.reset_router()
    try:
        results = []
        for i in range(4):
            key = f"audio/warm/{i}.wav"
            results += handler.lambda_handler(kit.event(key, *kit.upload(key)), context())
        router = handler.get_router()
    finally:
        handler.reset_router()
    assert [(r["reason"], r["attempts"]) for r in results] == [
        ("server_down", 1),
        ("server_down", 1),
        ("server_down", 1),
        ("breaker_open", 0),
    ]
    assert router.breaker.state is BreakerState.OPEN
    assert kit.server.count("/transcribe-s3") == 3


def test_the_attempt_timeout_follows_the_size_and_the_servers_speed(kit: RouterKit) -> None:
    transport = RecordingTransport()
    router = kit.router(
        transport=transport,
        direct_timeout_min_seconds=2.0,
        direct_timeout_seconds=100.0,
        direct_realtime_factor=0.5,
        direct_audio_bytes_per_second=16_000,
    )
    ten_seconds = b"x" * 160_000  # about 10 s of audio at 16,000 bytes per second
    assert kit.send(router, "audio/speed/a.wav", ten_seconds)["route"] == "direct"
    kit.server.realtime_factor = 0.05  # the server now reports its speed in /health
    assert kit.send(router, "audio/speed/b.wav", ten_seconds)["route"] == "direct"
    assert kit.send(router, "audio/speed/c.wav", ten_seconds * 10)["route"] == "direct"
    kit.server.realtime_factor = None
    assert kit.send(router, "audio/speed/d.wav", ten_seconds * 10)["route"] == "direct"
    # floor + 3 × expected, at most the ceiling; the last reported speed is kept.
    assert transport.timeouts("/transcribe-s3") == pytest.approx(
        [2 + 3 * 10 * 0.5, 2 + 3 * 10 * 0.05, 2 + 3 * 100 * 0.05, 2 + 3 * 100 * 0.05]
    )
    assert router.client.timeout.for_object(10**9) == 100.0


# --- the health check -------------------------------------------------------------------
def test_concurrent_events_share_the_one_health_request_in_flight(kit: RouterKit) -> None:
    router = kit.router()  # HEALTH_CACHE_SECONDS=0: only the single flight can share it
    keys = [f"audio/flight/{i}.wav" for i in range(6)]
    events = [kit.event(k, *kit.upload(k)) for k in keys]
    kit.server.set_mode("healthy", health_delay=0.5)
    start = threading.Barrier(len(events))
    results: list[dict[str, Any]] = []

    def run(event: Any) -> None:
        start.wait()
        results.extend(handle(router, event, context()))

    threads = [threading.Thread(target=run, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kit.server.count("/health") == 1
    assert [r["route"] for r in results] == ["direct"] * len(events)


def test_the_health_timeout_is_safely_above_the_first_syn_retransmit() -> None:
    settings = load(RouterSettings, {"AUDIO_BUCKET": "b", "QUEUE_URL": "q"})
    assert settings.health_timeout_seconds >= 2 * LINUX_FIRST_SYN_RETRANSMIT_SECONDS
    with pytest.raises(SettingsError, match="HEALTH_TIMEOUT_SECONDS"):
        load(RouterSettings, {"AUDIO_BUCKET": "b", "QUEUE_URL": "q", "HEALTH_TIMEOUT_SECONDS": "1"})


# --- the enqueue reserve ----------------------------------------------------------------
def test_the_enqueue_reserve_covers_the_sqs_clients_worst_case(
    kit: RouterKit, aws_env: dict[str, str]
) -> None:
    """The reserve and the client come from the same settings; a hung SQS uses it all."""
    defaults = load(RouterSettings, {"AUDIO_BUCKET": "b", "QUEUE_URL": "q"})
    assert defaults.enqueue_reserve_seconds == 2 * (1.0 + 3.0) + 1.0  # 2 attempts, 1 backoff
    with SilentServer() as sqs_endpoint:
        settings = kit.settings(
            aws=AwsSettings(aws_region=REGION, aws_endpoint_url=sqs_endpoint.url),
            sqs_connect_timeout_seconds=0.2,
            sqs_read_timeout_seconds=0.3,
            sqs_max_attempts=3,
        )
        publisher = JobPublisher(aws_client("sqs", settings), {"normal": settings.queue_url})
        job = Job("b", "audio/a.wav", "e", 1, "b", "transcripts/a.wav.json", "server_down")
        started = time.monotonic()
        with pytest.raises(EnqueueFailed):
            publisher.send(job)
        elapsed = time.monotonic() - started
    assert sqs_endpoint.connections == settings.sqs_limits.attempts == 3
    assert elapsed <= settings.enqueue_reserve_seconds, (elapsed, settings.sqs_limits)
