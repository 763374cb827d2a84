"""The circuit breaker's states, driven by a manual clock."""

from __future__ import annotations

import threading

from lambda_router.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_n_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(3, cooldown=30, clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # resets the count: failures must be consecutive
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()


def test_after_cooldown_exactly_one_probe_then_its_outcome_decides() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, cooldown=30, clock=clock)
    breaker.record_failure()
    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # everyone else keeps going to the queue
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow() and breaker.allow()


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5, cooldown=10, clock=clock)
    for _ in range(5):
        breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()  # one failure is enough in half-open
    assert breaker.state is BreakerState.OPEN
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_a_probe_that_never_reports_is_given_up_after_another_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, cooldown=10, clock=clock)
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    clock.now += 5
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow()  # a new probe


def test_only_one_of_many_concurrent_callers_probes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, cooldown=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    allowed: list[bool] = []
    threads = [threading.Thread(target=lambda: allowed.append(breaker.allow())) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 1


def test_reset_closes() -> None:
    breaker = CircuitBreaker(1, cooldown=60, clock=Clock())
    breaker.record_failure()
    breaker.reset()
    assert breaker.state is BreakerState.CLOSED and breaker.failures == 0


def test_a_hang_trips_the_breaker_at_once() -> None:
    breaker = CircuitBreaker(3, cooldown=30, clock=Clock())
    breaker.trip()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()


def test_a_probe_that_made_no_call_is_released_to_the_next_caller() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, cooldown=30, clock=clock)
    breaker.record_failure()
    clock.now += 30
    assert breaker.allow()  # the probe; the server then said busy: no call was made
    assert not breaker.allow()
    breaker.release()
    assert breaker.state is BreakerState.OPEN
    assert breaker.allow()  # the next caller probes at once, no second cool-down
    assert breaker.state is BreakerState.HALF_OPEN


def test_release_does_not_close_or_shorten_an_open_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, cooldown=30, clock=clock)
    breaker.record_failure()
    breaker.release()  # not half-open: nothing to release
    assert not breaker.allow()
