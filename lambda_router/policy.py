"""The routing decision: which objects are ignored, and direct or queue for the rest.

Guards (no AWS call): only ``Object Created`` events, in the audio bucket, under the input
prefix (transcripts never trigger new work), not folder markers; then zero-byte objects.
Route: larger than ``DIRECT_MAX_BYTES`` → queue (too_large); no known server → queue
(no_server); the circuit breaker open → queue (breaker_open) without a request; else the
health answer (cached a few seconds, one request in flight): ready and not busy → direct,
busy → queue (server_busy), down or not ready → queue (server_down).

An unreachable or not-ready ``/health`` counts as a breaker failure; a healthy one proves
nothing about transcriptions, so it neither resets the count nor closes a half-open
breaker: the direct call that follows decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lambda_router.breaker import CircuitBreaker
from lambda_router.events import ObjectEvent
from lambda_router.health import HealthClient, HealthState
from transcription.layout import Layout

__all__ = ["Decision", "Route", "choose", "ignore_reason"]


class Route(StrEnum):
    DIRECT = "direct"
    QUEUED = "queued"
    MANAGED = "managed"  # sent to AWS Transcribe (lambda_router.overflow)
    SKIPPED = "skipped"
    IGNORED = "ignored"
    FAILED = "failed"  # a malformed record: nothing could be routed


@dataclass(frozen=True)
class Decision:
    direct: bool
    reason: str  # direct: server_ready; queue: a job reason (transcription.job.REASONS)
    detail: str = ""


def ignore_reason(event: ObjectEvent, *, audio_bucket: str, layout: Layout) -> str | None:
    """Why this event needs no work at all, or ``None``. Needs no AWS call."""
    if not event.created:
        return "not_object_created"
    if event.bucket != audio_bucket:
        return "foreign_bucket"
    if event.key.endswith("/"):
        return "folder_marker"
    if not layout.is_input(event.key):
        return "outside_prefix"
    return None


def choose(
    size: int,
    *,
    direct_max_bytes: int,
    server_url: str | None,
    breaker: CircuitBreaker,
    health: HealthClient,
) -> Decision:
    """Direct or queue for an object that needs transcribing (probes the server if allowed)."""
    if size > direct_max_bytes:
        return Decision(False, "too_large", f"{size} bytes > DIRECT_MAX_BYTES={direct_max_bytes}")
    if server_url is None:
        return Decision(False, "no_server", "no server URL is configured or known")
    if not breaker.allow():
        return Decision(False, "breaker_open", "circuit breaker open")
    answer = health.check(server_url)
    if answer.state is HealthState.READY:
        return Decision(True, "server_ready", "cached health" if answer.cached else "")
    if answer.counts_against_server and not answer.cached:
        breaker.record_failure()  # also re-opens a half-open breaker
    else:
        breaker.release()  # no call made: a half-open probe goes to the next event
    if answer.state is HealthState.BUSY:
        return Decision(False, "server_busy", answer.detail)
    return Decision(False, "server_down", answer.detail)
