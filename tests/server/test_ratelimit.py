"""The per-key token bucket."""

from __future__ import annotations

import pytest

from fastapi_server.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_token_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [None, None, None]
    wait = limiter.take("a")
    assert wait == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("a") is None
    assert limiter.take("b") is None  # every key has its own bucket


def test_zero_rate_turns_it_off() -> None:
    limiter = RateLimiter(per_minute=0, burst=1)
    assert all(limiter.take("a") is None for _ in range(100))
