"""The managed overflow's settings (config.env.example, "Managed overflow")."""

from __future__ import annotations

from dataclasses import dataclass

from transcription.exceptions import SettingsError

__all__ = ["MODES", "OverflowSettings"]

MODES = frozenset({"", "off", "transcribe"})


@dataclass(frozen=True)
class OverflowSettings:
    overflow: str = ""  # "transcribe": on; empty or "off": never
    # The deadline of a batch job (seconds from its upload to its transcript); a batch job's
    # own ``deadline`` wins. None: no deadline, so nothing overflows but jobs that name one.
    batch_deadline_seconds: float | None = None
    overflow_max_minutes_per_month: float = 0.0
    overflow_max_concurrent_jobs: int = 100  # Transcribe's default quota for batch jobs
    # Queued jobs are counted, not read: each is taken to hold this much audio.
    overflow_mean_job_audio_seconds: float = 300.0
    # In the transcript bucket: tickets/, budget/, output/ (Transcribe's documents).
    overflow_prefix: str = "overflow/"
    # The fleet the wait is computed for (the same names the deploy steps read): MAX_WORKERS
    # instances of the first WORKER_INSTANCE_TYPES, running MODEL, at the planner's speed.
    max_workers: int = 1
    worker_instance_types: tuple[str, ...] = ("g6.xlarge",)
    model: str = "tiny.en"

    def __post_init__(self) -> None:
        if self.overflow not in MODES:
            raise SettingsError(f"OVERFLOW={self.overflow!r}: expected transcribe, off or empty")
        if self.batch_deadline_seconds is not None and self.batch_deadline_seconds <= 0:
            raise SettingsError("BATCH_DEADLINE_SECONDS must be more than 0 (or empty)")
        if self.overflow_max_minutes_per_month < 0:
            raise SettingsError("OVERFLOW_MAX_MINUTES_PER_MONTH must be 0 or more")
        if self.overflow_max_concurrent_jobs < 1:
            raise SettingsError("OVERFLOW_MAX_CONCURRENT_JOBS must be at least 1")
        if self.overflow_mean_job_audio_seconds <= 0:
            raise SettingsError("OVERFLOW_MEAN_JOB_AUDIO_SECONDS must be more than 0")
        if self.max_workers < 0:
            raise SettingsError("MAX_WORKERS must be 0 or more")
        if not self.worker_instance_types:
            raise SettingsError("WORKER_INSTANCE_TYPES must name at least one instance type")
        if not self.overflow_prefix.endswith("/"):
            raise SettingsError("OVERFLOW_PREFIX must end with /")

    @property
    def enabled(self) -> bool:
        return self.overflow == "transcribe"

    @property
    def instance_type(self) -> str:
        return self.worker_instance_types[0]
