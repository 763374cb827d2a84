"""Settings of the batch worker and of its scheduler, read from the environment.

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
from dataclasses import dataclass

from transcription.exceptions import SettingsError
from transcription.layout import Layout, OutputPolicy
from transcription.settings import AwsSettings, EngineSettings, StorageSettings

__all__ = ["SchedulerSettings", "WorkerSettings"]

DEFAULT_HEARTBEAT_SECONDS = 10.0
HEARTBEATS_PER_LEASE = 3  # renewals that may fail in a row before another worker may take it
MIN_VISIBILITY_SECONDS = 30  # the default lease is never shorter than this
MAX_VISIBILITY_SECONDS = 12 * 60 * 60  # SQS's limit
MAX_WAIT_TIME_SECONDS = 20  # SQS's long-poll limit
PRIORITY_WAIT_SECONDS = 2  # with several queues: the long poll of each in turn, when all empty


def _in_order(high: str | None, normal: str, low: str | None) -> tuple[str, ...]:
    """The queues set, highest priority first; a URL set twice counts once."""
    return tuple(dict.fromkeys(url for url in (high, normal, low) if url))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SettingsError(message)


@dataclass(frozen=True)
class WorkerSettings:
    """``python -m batch_worker``: where the jobs are, and how to hold them while they run."""

    aws: AwsSettings
    engine: EngineSettings
    queue_url: str
    storage: StorageSettings  # the layout: where a job's audio and transcript may be
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
        """A batch task's priority → its queue, for the queues this worker has."""
        urls = {"high": self.queue_url_high, "normal": self.queue_url, "low": self.queue_url_low}
        return {priority: url for priority, url in urls.items() if url}

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


@dataclass(frozen=True)
class SchedulerSettings:
    """The scheduler Lambda: how many worker boxes the backlog deserves, and which boxes."""

    aws: AwsSettings
    queue_url: str
    queue_url_high: str | None = None  # counted too when set (the worker drains them)
    queue_url_low: str | None = None
    max_workers: int = 1
    jobs_per_worker: int = 10
    project_name: str = "transcription-router"  # the instances' Project tag
    worker_tag_key: str = "Role"
    worker_tag_value: str = "batch-worker"

    def __post_init__(self) -> None:
        _require(self.max_workers >= 0, "MAX_WORKERS must be 0 or more")
        _require(self.jobs_per_worker >= 1, "JOBS_PER_WORKER must be 1 or more")
        _require(bool(self.worker_tag_key), "WORKER_TAG_KEY must not be empty")

    @property
    def queue_urls(self) -> tuple[str, ...]:
        """Every jobs queue whose backlog calls for workers (one URL set twice counts once)."""
        return _in_order(self.queue_url_high, self.queue_url, self.queue_url_low)
