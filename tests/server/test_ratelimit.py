"""The token buckets: per API key, and per client address for requests without a valid key."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fastapi_server.auth import KeyRing
from fastapi_server.main import create_app
from fastapi_server.ratelimit import RateLimiter
from tests.server.harness import in_process_settings


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


# --- requests without a valid key, per client address (the app in process) ----------------
KEY = "rate-limit-key-0123456789"


def ready(client: TestClient) -> None:
    for _ in range(200):
        if client.get("/health").status_code == 200:
            return
        threading.Event().wait(0.05)
    raise AssertionError("the app never became ready")


def app_with(engine: Any, **limits: Any) -> Any:
    settings = replace(in_process_settings(), **limits)
    return create_app(settings, keys=KeyRing([KEY]), s3=object(), engine_loader=lambda _: engine)


def test_requests_without_a_valid_key_are_limited_per_client_address(engine: Any) -> None:
    app = app_with(
        engine, unauthenticated_rate_limit_per_minute=6, unauthenticated_rate_limit_burst=3
    )
    wrong = {"Authorization": "Bearer not-the-key-0123456789"}
    with TestClient(app, client=("127.0.0.1", 50000)) as guesser:
        ready(guesser)
        assert [guesser.get("/v1/models", headers=wrong).status_code for _ in range(3)] == [401] * 3
        limited = guesser.get("/v1/models", headers=wrong)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        assert "without a valid API key from this address" in limited.json()["error"]["message"]
        assert guesser.get("/v1/models").status_code == 429  # no key at all: the same bucket
        # A valid key is not held back by its address's failures; /health is never limited.
        good = guesser.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
        assert good.status_code == 200
        assert all(guesser.get("/health").status_code == 200 for _ in range(10))
        other = TestClient(app)  # another client address: a bucket of its own
        assert other.get("/v1/models", headers=wrong).status_code == 401


def test_zero_turns_the_unauthenticated_limit_off(engine: Any) -> None:
    app = app_with(engine, unauthenticated_rate_limit_per_minute=0)
    with TestClient(app) as client:
        ready(client)
        assert {client.get("/v1/models").status_code for _ in range(30)} == {401}
