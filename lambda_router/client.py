"""The direct call: ``POST /transcribe-s3`` with bounded, jittered retries inside the budget.

Retried: connection errors and 429/502/503/504 (waiting at least what ``Retry-After``
asks). Never retried: other answers, and an attempt that timed out (the server may still
be working on it, and it de-duplicates a repeat into the same run: a retry would only
wait on it again). A 2xx is the transcript; 3xx (never followed), 401 and other 5xx mean
the server cannot do it now (the batch path can); any other 4xx is final for this object
(:class:`ServerRejected`).

Each attempt's timeout follows the work (:class:`~lambda_router.timeout.AttemptTimeout`),
capped by what is left of the Lambda's time minus ``reserve`` (kept to put the job on the
queue instead). An attempt that outlives its work-based timeout is a hang: the circuit
breaker opens at once. Retrying stops after ``max_attempts``, when the circuit breaker
opens, or when the next attempt would eat into the reserve; the reason says which.
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
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from lambda_router.breaker import BreakerState, CircuitBreaker
from lambda_router.deadline import Deadline
from lambda_router.exceptions import DirectCallFailed, RetryableServerError, ServerRejected
from lambda_router.health import Health, HealthClient, HealthState
from lambda_router.timeout import AttemptTimeout
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


class _Stop(stop_base):
    """Stop on the breaker, the attempt count or the budget, remembering which it was."""

    def __init__(
        self, max_attempts: int, breaker: CircuitBreaker, deadline: Deadline, reserve: float
    ) -> None:
        self.max_attempts = max_attempts
        self.breaker = breaker
        self.deadline = deadline
        self.reserve = reserve
        self.reason: str | None = None  # None: the attempts ran out

    def __call__(self, retry_state: RetryCallState) -> bool:
        if retry_state.attempt_number >= self.max_attempts:
            return True  # the reason is the last answer's
        if self.breaker.state is BreakerState.OPEN:
            self.reason = "breaker_open"
            return True
        left = self.deadline.remaining() - self.reserve - (retry_state.upcoming_sleep or 0.0)
        if left < MIN_ATTEMPT_SECONDS:
            self.reason = "budget_exhausted"
            return True
        return False


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
        timeout: AttemptTimeout,
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
        self,
        server_url: str,
        input_uri: str,
        output_uri: str,
        etag: str,
        size: int,
        deadline: Deadline,
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
        if deadline.remaining() - self.reserve < MIN_ATTEMPT_SECONDS:
            message = "no time left for a direct call"
            raise DirectCallFailed(message, attempts=0, timed_out=False, reason="budget_exhausted")
        work = self.timeout.for_object(size, self.health.speed(server_url))
        stop = _Stop(self.max_attempts, self.breaker, deadline, self.reserve)
        retrying = Retrying(
            retry=retry_if_exception_type(RetryableServerError),
            stop=stop,
            wait=_RetryAfterWait(self.wait),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    left = deadline.remaining() - self.reserve
                    response = self._post(url, body, work, left, attempts)
                    return self._answer(server_url, response, attempts)
        except RetryableServerError as error:
            self.breaker.release()  # a half-open probe that only heard "busy" proved nothing
            reason = stop.reason or error.reason
            raise DirectCallFailed(
                f"gave up after {attempts} attempt(s) ({reason}): {error}",
                attempts=attempts,
                timed_out=False,
                reason=reason,
            ) from error
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _post(self, url: str, body: bytes, work: float, left: float, attempts: int) -> HttpResponse:
        """One attempt, with the work's timeout unless the budget leaves less."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = self.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        timeout = max(0.05, min(work, left))
        try:
            return self.transport("POST", url, timeout=timeout, body=body, headers=headers)
        except TransportError as error:
            if error.timed_out:
                raise self._timed_out(error, timeout, work, attempts) from None
            self.breaker.record_failure()
            server_url = url.removesuffix("/transcribe-s3")
            self.health.remember(server_url, Health(HealthState.DOWN, str(error)))
            raise RetryableServerError(str(error)) from None

    def _timed_out(
        self, error: TransportError, timeout: float, work: float, attempts: int
    ) -> DirectCallFailed:
        """No answer in time: a hang (the breaker opens), or the budget ran out first."""
        if timeout < work:
            self.breaker.record_failure()
            reason, what = "budget_exhausted", f"the budget left {timeout:.1f} s of {work:.1f} s"
        else:
            self.breaker.trip()
            reason, what = "server_down", f"no answer within {work:.1f} s for this object's size"
        return DirectCallFailed(
            f"{what}: {error}", attempts=attempts, timed_out=True, reason=reason
        )

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
        if status < 400 or status == 401 or status >= 500:
            # Not this object's fault (a redirect, which is never followed, a refused API
            # key, a server error): the batch path can.
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
