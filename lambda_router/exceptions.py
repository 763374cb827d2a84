"""Named errors of the router.

Only :class:`EnqueueFailed` and :class:`MalformedEvent` leave the handler: both make the
invocation fail, so Lambda's own retries and its on-failure destination keep the event.
The server errors are caught by the router and turned into a route.
"""

from __future__ import annotations

from transcription.exceptions import TranscriptionError

__all__ = [
    "DirectCallFailed",
    "EnqueueFailed",
    "MalformedEvent",
    "NotAFailureRecord",
    "RetryableServerError",
    "RouterError",
    "ServerRejected",
]


class RouterError(TranscriptionError):
    """Base class of the router's errors."""

    code = "router_error"


class MalformedEvent(RouterError):
    """The invocation event is not one of the shapes the router understands."""

    code = "malformed_event"


class EnqueueFailed(RouterError):
    """SQS could not be reached or refused the job: the event must not be dropped."""

    code = "queue_unavailable"
    permanent = False


class RetryableServerError(RouterError):
    """A connection error, or 429/502/503/504 from the server: worth another try.

    (A timeout is not: the server may still be working on it; see ``DirectCallFailed``.)
    """

    code = "server_unavailable"
    permanent = False

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def counts_against_server(self) -> bool:
        """Connection errors and 5xx count towards opening the circuit breaker."""
        return self.status is None or self.status >= 500

    @property
    def reason(self) -> str:
        """The job reason when the attempts ran out on this error."""
        return "server_busy" if self.status in (429, 503) else "server_down"


class ServerRejected(RouterError):
    """A final 4xx answer: the server will not transcribe this object (no retry, no queue)."""

    def __init__(self, status: int, code: str, message: str, *, attempts: int = 1) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.attempts = attempts


class DirectCallFailed(RouterError):
    """The direct call gave up; ``reason`` says why, as the job's reason.

    ``server_down`` / ``server_busy`` (the attempts ran out on that kind of answer, or an
    attempt hung), ``breaker_open`` (the breaker opened during the retries),
    ``budget_exhausted`` (no time left for another attempt before the enqueue reserve).
    """

    code = "direct_call_failed"
    permanent = False

    def __init__(self, message: str, *, attempts: int, timed_out: bool, reason: str) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.timed_out = timed_out  # the server may still be working on it
        self.reason = reason


class NotAFailureRecord(RouterError):
    """A message on the router failure queue that is not a Lambda invocation record."""

    code = "not_a_failure_record"
