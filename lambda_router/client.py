"""The direct call: ``POST /transcribe-s3`` with bounded, jittered retries inside the budget.

Retried: connection errors, timeouts, and 429/502/503/504 (waiting at least what
``Retry-After`` asks). Never retried: other answers. A 2xx is the transcript; 401 and other
5xx mean the server cannot do it now (the batch path can); any other 4xx is final for this
object (:class:`ServerRejected`). Retrying stops after ``max_attempts``, when the circuit
breaker opens, or when the next attempt would not leave ``reserve`` seconds of the
Lambda's remaining time to put the job on the queue instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from lambda_router.breaker import CircuitBreaker
from lambda_router.deadline import Deadline
from lambda_router.exceptions import DirectCallFailed, RetryableServerError, ServerRejected
from lambda_router.health import Health, HealthClient, HealthState
from lambda_router.transport import HttpResponse, Transport, TransportError, retry_after_seconds

__all__ = ["RETRYABLE_STATUSES", "DirectClient", "DirectResult"]

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MAX_BACKOFF_SECONDS = 10.0
MIN_ATTEMPT_SECONDS = 0.5  # an attempt with less time than this is not worth starting


@dataclass(frozen=True)
class DirectResult:
    status: int
    attempts: int


class _BudgetStop(stop_base):
    """Stop when the wait plus a minimal attempt would eat into the enqueue reserve."""

    def __init__(self, deadline: Deadline, reserve: float) -> None:
        self.deadline = deadline
        self.reserve = reserve

    def __call__(self, retry_state: RetryCallState) -> bool:
        left = self.deadline.remaining() - self.reserve - (retry_state.upcoming_sleep or 0.0)
        return left < MIN_ATTEMPT_SECONDS


class _BreakerStop(stop_base):
    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker

    def __call__(self, retry_state: RetryCallState) -> bool:
        return not self.breaker.allow()


class _RetryAfterWait(wait_base):
    """The backoff, but never shorter than the server's ``Retry-After``."""

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self.backoff(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(error, RetryableServerError) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait


class DirectClient:
    def __init__(
        self,
        transport: Transport,
        *,
        breaker: CircuitBreaker,
        health: HealthClient,
        api_key: Callable[[], str | None],  # read per request: a rotated key is picked up
        timeout: float,
        max_attempts: int,
        backoff: float,
        reserve_seconds: float,
        wait: wait_base | None = None,
    ) -> None:
        self.transport = transport
        self.breaker = breaker
        self.health = health
        self.api_key = api_key
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.reserve = reserve_seconds
        self.wait = wait or wait_random_exponential(multiplier=backoff, max=MAX_BACKOFF_SECONDS)

    def transcribe(
        self, server_url: str, input_uri: str, output_uri: str, etag: str, deadline: Deadline
    ) -> DirectResult:
        """Have the server transcribe ``input_uri`` (as of ``etag``) into ``output_uri``.

        Raises :class:`ServerRejected` (final 4xx; 409 when the object changed since
        ``etag``) or :class:`DirectCallFailed` (give up: the caller queues the job).
        """
        url = server_url.rstrip("/") + "/transcribe-s3"
        request = {
            "s3_input_path": input_uri,
            "s3_output_path": output_uri,
            "etag": etag,  # the version this event is about; a newer one has its own event
            "return_text": False,  # the transcript is in S3; the router needs only the status
        }
        body = json.dumps(request, ensure_ascii=False).encode()
        attempts = 0
        if deadline.remaining() - self.reserve < MIN_ATTEMPT_SECONDS:
            raise DirectCallFailed("no time left for a direct call", attempts=0, timed_out=False)
        retrying = Retrying(
            retry=retry_if_exception_type(RetryableServerError),
            stop=(
                stop_after_attempt(self.max_attempts)
                | _BudgetStop(deadline, self.reserve)
                | _BreakerStop(self.breaker)
            ),
            wait=_RetryAfterWait(self.wait),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    timeout = max(0.05, min(self.timeout, deadline.remaining() - self.reserve))
                    response = self._post(url, body, timeout)
                    return self._answer(server_url, response, attempts)
        except RetryableServerError as error:
            raise DirectCallFailed(
                f"gave up after {attempts} attempt(s): {error}",
                attempts=attempts,
                timed_out=error.timed_out,
            ) from error
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _post(self, url: str, body: bytes, timeout: float) -> HttpResponse:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = self.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            return self.transport("POST", url, timeout=timeout, body=body, headers=headers)
        except TransportError as error:
            self.breaker.record_failure()
            server_url = url.removesuffix("/transcribe-s3")
            if not error.timed_out:  # a timeout may just be a long file; the box is up
                self.health.remember(server_url, Health(HealthState.DOWN, str(error)))
            raise RetryableServerError(str(error), timed_out=error.timed_out) from None

    def _answer(self, server_url: str, response: HttpResponse, attempts: int) -> DirectResult:
        status = response.status
        if 200 <= status < 300:
            self.breaker.record_success()
            return DirectResult(status=status, attempts=attempts)
        code, message = _error_of(response)
        if status in RETRYABLE_STATUSES:
            error = RetryableServerError(
                f"HTTP {status} {code}: {message}",
                status=status,
                retry_after=retry_after_seconds(response.header("Retry-After")),
            )
            if error.counts_against_server:
                self.breaker.record_failure()
            if status in (429, 503):
                self.health.remember(server_url, Health(HealthState.BUSY, f"HTTP {status}"))
            raise error
        if status == 401 or status >= 500:
            # Not this object's fault (a refused API key, a server error): the batch path can.
            self.breaker.record_failure()
            raise DirectCallFailed(
                f"HTTP {status} {code}: {message}",
                attempts=attempts,
                timed_out=False,
                reason="server_down",
            )
        self.breaker.record_success()  # the server is up and gave a final answer
        raise ServerRejected(status, code, message, attempts=attempts)


def _error_of(response: HttpResponse) -> tuple[str, str]:
    """``{"error": {"code", "message"}}`` of the contract, with fallbacks for other bodies."""
    data: Any = response.json()
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or f"http_{response.status}"), str(error.get("message", ""))
    if isinstance(data, dict) and "detail" in data:  # FastAPI's default error shape
        return f"http_{response.status}", str(data["detail"])
    return f"http_{response.status}", response.body[:200].decode("utf-8", "replace")
