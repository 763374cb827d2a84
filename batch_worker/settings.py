"""Settings of the batch worker and of its scheduler, read from the environment.

The visibility timeout the worker asks for on each receive (and renews with every heartbeat)
defaults to the longest a job may honestly take::

    VISIBILITY_TIMEOUT = ceil(MAX_AUDIO_SECONDS / MIN_REALTIME_SPEED) + 120

clamped to SQS's range (30 s … 12 h). ``MIN_REALTIME_SPEED`` is the conservative speed of
the slowest worker box, in audio seconds transcribed per wall-clock second; the 120 s cover
the download, decoding and upload around the transcription. With the defaults (3 h of audio,
speed 1.0) that is 10,920 s; a GPU box set to ``MIN_REALTIME_SPEED=10`` gets 1,200 s. The
heartbeat renews the timeout every ``HEARTBEAT_SECONDS`` (default: a third of it, at most
300 s), so a slower job is not handed to a second worker either; the timeout is only how long
a crashed worker's job waits before another worker may take it.

Every variable is documented in ``config.env.example``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from transcription.exceptions import SettingsError
from transcription.layout import Layout, OutputPolicy
from transcription.settings import AwsSettings, EngineSettings, StorageSettings

__all__ = [
    "TRANSFER_MARGIN_SECONDS",
    "SchedulerSettings",
    "WorkerSettings",
    "default_visibility_timeout",
]

TRANSFER_MARGIN_SECONDS = 120  # download, decode and upload around the transcription
MIN_VISIBILITY_SECONDS = 30  # the derived default is never shorter than this
MAX_VISIBILITY_SECONDS = 12 * 60 * 60  # SQS's limit
MAX_HEARTBEAT_SECONDS = 300.0
MAX_WAIT_TIME_SECONDS = 20  # SQS's long-poll limit


def default_visibility_timeout(max_audio_seconds: float, min_realtime_speed: float) -> int:
    """``ceil(max_audio_seconds / min_realtime_speed) + 120``, within 30 s … 12 h."""
    seconds = math.ceil(max_audio_seconds / min_realtime_speed) + TRANSFER_MARGIN_SECONDS
    return max(MIN_VISIBILITY_SECONDS, min(MAX_VISIBILITY_SECONDS, seconds))


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
    allowed_buckets: tuple[str, ...] = ()  # default: AUDIO_BUCKET and TRANSCRIPT_BUCKET
    visibility_timeout: int | None = None  # default: see the module docstring
    min_realtime_speed: float = 1.0
    heartbeat_seconds: float | None = None  # default: visibility / 3, at most 300 s
    prefetch: int = 1  # jobs downloaded and decoded ahead of the one transcribing
    shutdown_grace_seconds: float = 90.0
    retry_backoff_seconds: float = 30.0  # first backoff after a transient failure
    wait_time_seconds: int = 20  # SQS long poll
    metrics_namespace: str = "TranscriptionRouter"

    def __post_init__(self) -> None:
        _require(self.min_realtime_speed > 0, "MIN_REALTIME_SPEED must be greater than 0")
        if self.visibility_timeout is not None:
            _require(
                1 <= self.visibility_timeout <= MAX_VISIBILITY_SECONDS,
                f"VISIBILITY_TIMEOUT must be between 1 and {MAX_VISIBILITY_SECONDS} seconds",
            )
        if self.heartbeat_seconds is not None:
            _require(
                0 < self.heartbeat_seconds < self.visibility,
                "HEARTBEAT_SECONDS must be greater than 0 and less than VISIBILITY_TIMEOUT",
            )
        _require(self.prefetch >= 0, "PREFETCH must be 0 or more")
        _require(self.shutdown_grace_seconds >= 0, "SHUTDOWN_GRACE_SECONDS must be 0 or more")
        _require(self.retry_backoff_seconds >= 0, "RETRY_BACKOFF_SECONDS must be 0 or more")
        _require(  # 0 would make an idle worker poll SQS in a tight loop
            1 <= self.wait_time_seconds <= MAX_WAIT_TIME_SECONDS,
            f"WAIT_TIME_SECONDS must be between 1 and {MAX_WAIT_TIME_SECONDS}",
        )

    @property
    def visibility(self) -> int:
        """The visibility timeout in force: the setting, or the derived default."""
        if self.visibility_timeout is not None:
            return self.visibility_timeout
        return default_visibility_timeout(self.engine.max_audio_seconds, self.min_realtime_speed)

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
        return min(MAX_HEARTBEAT_SECONDS, self.visibility / 3)


@dataclass(frozen=True)
class SchedulerSettings:
    """The scheduler Lambda: how many worker boxes the backlog deserves, and which boxes."""

    aws: AwsSettings
    queue_url: str
    max_workers: int = 1
    jobs_per_worker: int = 10
    project_name: str = "transcription-router"  # the instances' Project tag
    worker_tag_key: str = "Role"
    worker_tag_value: str = "batch-worker"

    def __post_init__(self) -> None:
        _require(self.max_workers >= 0, "MAX_WORKERS must be 0 or more")
        _require(self.jobs_per_worker >= 1, "JOBS_PER_WORKER must be 1 or more")
        _require(bool(self.worker_tag_key), "WORKER_TAG_KEY must not be empty")
