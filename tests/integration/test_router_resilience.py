"""Retries, the circuit breaker, the time budget and the server's address from SSM.

Against moto's server over HTTP and the fake server (a real HTTP server on 127.0.0.1)
switched between healthy, busy, slow, flaky, failing and down.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from lambda_router.breaker import BreakerState
from lambda_router.handler import handle
from lambda_router.router import Router
from tests.support import router_kit
from tests.support.processes import free_port
from tests.support.router_kit import RouterKit, context

KEY = "audio/resilience/talk.mp3"


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


def test_retries_are_bounded_then_the_job_is_queued(kit: RouterKit) -> None:
    kit.server.set_mode("flaky", failures=10, status=503)
    result = send(kit, kit.router(direct_max_attempts=3, breaker_failures=10))
    assert (result["route"], result["reason"], result["attempts"]) == (
        "queued",
        "retries_exhausted",
        3,
    )
    assert kit.server.count("/transcribe-s3") == 3
    assert kit.calls.names == ["HeadObject", "SendMessage"]
    [(job, _)] = kit.jobs()  # no delay: the server answered, it is not still working
    assert job.reason == "retries_exhausted"


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
        "retries_exhausted",
        1,
    )
    assert time.monotonic() - started < 10  # it did not sleep 120 s, nor until the deadline


# --- the time budget --------------------------------------------------------------------
def test_with_a_3_s_deadline_and_a_hanging_server_the_event_is_queued_in_time(
    kit: RouterKit,
) -> None:
    kit.server.set_mode("slow", delay=60)  # /health answers, /transcribe-s3 hangs
    router = kit.router(direct_timeout_seconds=120, enqueue_reserve_ms=1500)
    started = time.monotonic()
    result = send(kit, router, seconds=3.0)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"queued after {elapsed:.2f} s: past the 3 s deadline"
    assert (result["route"], result["reason"]) == ("queued", "retries_exhausted")
    assert result["attempts"] >= 1
    # The server may still finish it: the job waits before a worker sees it.
    attributes = kit.sqs.get_queue_attributes(
        QueueUrl=kit.queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert kit.calls.names == ["HeadObject", "SendMessage"]


def test_no_time_left_means_no_direct_call(kit: RouterKit) -> None:
    result = send(kit, kit.router(enqueue_reserve_ms=2000), seconds=2.2)
    assert (result["route"], result["reason"], result["attempts"]) == (
        "queued",
        "retries_exhausted",
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
    assert (result["route"], result["detail"]) == ("queued", "circuit breaker open")
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
    assert send(kit, router, "audio/probe/c.wav")["detail"] == "circuit breaker open"
    assert kit.server.count() == 0


def test_failing_direct_calls_open_the_breaker_and_stop_the_retries(kit: RouterKit) -> None:
    kit.server.set_mode("flaky", failures=10, status=502)
    router = kit.router(direct_max_attempts=5, breaker_failures=2, breaker_cooldown_seconds=30)
    result = send(kit, router)
    assert (result["route"], result["reason"], result["attempts"]) == (
        "queued",
        "retries_exhausted",
        2,
    )
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
