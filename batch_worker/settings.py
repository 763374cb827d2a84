"""Settings of the batch worker, read from the environment.

A received job is *leased*: it stays invisible to other workers for ``VISIBILITY_TIMEOUT``
seconds (asked for on each receive), and the heartbeat renews that lease every
``HEARTBEAT_SECONDS`` while the job is held, however long it runs. The lease is therefore
short: by default three heartbeats (10 s each), at least 30 s, so the jobs of a worker
that dies (kill -9, a lost Spot box) are visible again within 30 s, not after the longest a
job may take. Setting only ``VISIBILITY_TIMEOUT`` makes the heartbeat a third of it.

The jobs queue's own visibility timeout (``QUEUE_VISIBILITY_TIMEOUT``, set by the deploy
scripts) applies only to a receive that asks for none; the worker always asks.

Batch jobs' tasks come on three queues, one per priority: ``QUEUE_URL_HIGH``, ``QUEUE_URL``
(normal, which the router fills too) and ``QUEUE_URL_LOW``; the worker takes high before
normal before low (:attr:`WorkerSettings.queue_urls`; empty: not drained). All three share
one dead-letter queue: ``DLQ_URL``, or else the target of ``QUEUE_URL``'s redrive policy.

Every variable is documented in ``config.env.example``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from transcription.exceptions import SettingsError
from transcription.layout import Layout, OutputPolicy
from transcription.priority import queue_urls
from transcription.settings import (
    AwsSettings,
    EngineSettings,
    StorageSettings,
    TranslationSettings,
)

__all__ = ["InstanceSettings", "WorkerSettings"]

DEFAULT_HEARTBEAT_SECONDS = 10.0
HEARTBEATS_PER_LEASE = 3  # renewals that may fail in a row before another worker may take it
MIN_VISIBILITY_SECONDS = 30  # the default lease is never shorter than this
MAX_VISIBILITY_SECONDS = 12 * 60 * 60  # SQS's limit
MAX_WAIT_TIME_SECONDS = 20  # SQS's long-poll limit
DEFAULT_IMDS_ENDPOINT = "http://169.254.169.254"  # AWS's fixed instance metadata address
PRIORITY_WAIT_SECONDS = 2  # with several queues: the long poll of each in turn, when all empty


def _in_order(high: str | None, normal: str, low: str | None) -> tuple[str, ...]:
    """The queues set, highest priority first; a URL set twice (or unset: normal) counts once."""
    return tuple(dict.fromkeys(queue_urls(normal, high, low).values()))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SettingsError(message)


@dataclass(frozen=True)
class InstanceSettings:
    """The worker's own box on its Auto Scaling group (see :mod:`batch_worker.lifecycle`).

    With ``ASG_NAME`` empty (off AWS, the local stack, a box outside a group) all of it is
    off and the worker behaves as a plain queue consumer.
    """

    asg_name: str | None = None
    lifecycle_hook_name: str | None = None  # the group's termination hook
    launch_hook_name: str | None = None  # the group's launch hook (completed once prepared)
    idle_timeout_seconds: float = 300.0  # nothing received or held this long: leave the group
    protection_idle_seconds: float = 20.0  # idle this long before scale-in protection goes off
    imds_endpoint: str = DEFAULT_IMDS_ENDPOINT
    imds_poll_seconds: float = 2.0  # how often the Spot notice and lifecycle state are read
    imds_timeout_seconds: float = 1.0
    spot_notice_margin_seconds: float = 15.0  # kept free before the Spot deadline

    def __post_init__(self) -> None:
        _require(self.idle_timeout_seconds > 0, "IDLE_TIMEOUT_SECONDS must be greater than 0")
        _require(self.protection_idle_seconds >= 0, "PROTECTION_IDLE_SECONDS must be 0 or more")
        _require(self.imds_poll_seconds > 0, "IMDS_POLL_SECONDS must be greater than 0")
        _require(self.imds_timeout_seconds > 0, "IMDS_TIMEOUT_SECONDS must be greater than 0")
        _require(
            self.spot_notice_margin_seconds >= 0, "SPOT_NOTICE_MARGIN_SECONDS must be 0 or more"
        )
        _require(
            self.imds_endpoint.startswith(("http://", "https://")),
            f"IMDS_ENDPOINT must be an http:// URL, not {self.imds_endpoint!r}",
        )

    @property
    def enabled(self) -> bool:
        return bool(self.asg_name)

    @property
    def unprotect_after(self) -> float:
        """Idle seconds before scale-in protection goes off: never past the idle timeout."""
        return min(self.protection_idle_seconds, self.idle_timeout_seconds)


@dataclass(frozen=True)
class WorkerSettings:
    """``python -m batch_worker``: where the jobs are, and how to hold them while they run."""

    aws: AwsSettings
    engine: EngineSettings
    queue_url: str
    storage: StorageSettings  # the layout: where a job's audio and transcript may be
    translation: TranslationSettings = field(default_factory=TranslationSettings)  # nmt tasks
    dlq_url: str | None = None  # default: the target of the queue's redrive policy
    queue_url_high: str | None = None  # high-priority tasks; None: no such queue
    queue_url_low: str | None = None  # low-priority tasks; None: no such queue
    allowed_buckets: tuple[str, ...] = ()  # default: AUDIO_BUCKET and TRANSCRIPT_BUCKET
    visibility_timeout: int | None = None  # the lease; default: 3 heartbeats, at least 30 s
    heartbeat_seconds: float | None = None  # default: 10 s, or a third of VISIBILITY_TIMEOUT
    prefetch: int = 1  # jobs downloaded and decoded ahead of the one transcribing
    shutdown_grace_seconds: float = 90.0
    retry_backoff_seconds: float = 30.0  # first backoff after a transient failure
    wait_time_seconds: int = 20  # SQS long poll
    priority_wait_seconds: int = PRIORITY_WAIT_SECONDS  # each queue's long poll, with several
    metrics_namespace: str = "TranscriptionRouter"
    instance: InstanceSettings = field(default_factory=InstanceSettings)

    def __post_init__(self) -> None:
        if self.visibility_timeout is not None:
            _require(
                1 <= self.visibility_timeout <= MAX_VISIBILITY_SECONDS,
                f"VISIBILITY_TIMEOUT must be between 1 and {MAX_VISIBILITY_SECONDS} seconds",
            )
        _require(
            0 < self.heartbeat_interval < self.visibility,
            "HEARTBEAT_SECONDS must be greater than 0 and less than VISIBILITY_TIMEOUT",
        )
        _require(self.prefetch >= 0, "PREFETCH must be 0 or more")
        _require(self.shutdown_grace_seconds >= 0, "SHUTDOWN_GRACE_SECONDS must be 0 or more")
        _require(self.retry_backoff_seconds >= 0, "RETRY_BACKOFF_SECONDS must be 0 or more")
        _require(  # 0 would make an idle worker poll SQS in a tight loop
            1 <= self.wait_time_seconds <= MAX_WAIT_TIME_SECONDS,
            f"WAIT_TIME_SECONDS must be between 1 and {MAX_WAIT_TIME_SECONDS}",
        )
        _require(
            1 <= self.priority_wait_seconds <= MAX_WAIT_TIME_SECONDS,
            f"PRIORITY_WAIT_SECONDS must be between 1 and {MAX_WAIT_TIME_SECONDS}",
        )

    @property
    def queues_by_priority(self) -> dict[str, str]:
        """A batch task's priority → its queue (QUEUE_URL for a priority without one)."""
        return queue_urls(self.queue_url, self.queue_url_high, self.queue_url_low)

    @property
    def queue_urls(self) -> tuple[str, ...]:
        """The queues to drain, highest priority first (one URL set twice counts once)."""
        return _in_order(self.queue_url_high, self.queue_url, self.queue_url_low)

    @property
    def visibility(self) -> int:
        """The lease in force: the setting, or three heartbeats (at least 30 s)."""
        if self.visibility_timeout is not None:
            return self.visibility_timeout
        lease = math.ceil(HEARTBEATS_PER_LEASE * self.heartbeat_interval)
        return min(MAX_VISIBILITY_SECONDS, max(MIN_VISIBILITY_SECONDS, lease))

    @property
    def buckets(self) -> frozenset[str]:
        """The buckets a job may read from and write to (as the server's ALLOWED_BUCKETS)."""
        if self.allowed_buckets:
            return frozenset(self.allowed_buckets)
        return frozenset({self.storage.audio_bucket, self.storage.output_bucket})

    @property
    def output_policy(self) -> OutputPolicy:
        """What no job message can override: the allowed buckets and the layout's keys."""
        layout = Layout(self.storage.input_prefix, self.storage.output_prefix)
        return OutputPolicy(layout, self.storage.output_bucket, self.buckets)

    @property
    def heartbeat_interval(self) -> float:
        if self.heartbeat_seconds is not None:
            return self.heartbeat_seconds
        if self.visibility_timeout is not None:
            return self.visibility_timeout / HEARTBEATS_PER_LEASE
        return DEFAULT_HEARTBEAT_SECONDS
