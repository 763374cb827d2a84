"""Named errors of the managed overflow; each tells the router where the job goes instead."""

from __future__ import annotations

from transcription.exceptions import TranscriptionError

__all__ = [
    "AlreadyStarted",
    "BudgetSpent",
    "ManagedError",
    "OutputMissing",
    "QuotaFull",
    "TranscribeUnavailable",
]


class ManagedError(TranscriptionError):
    code = "managed_error"
    permanent = False


class BudgetSpent(ManagedError):
    """The month's OVERFLOW_MAX_MINUTES_PER_MONTH would be passed: the job is queued."""

    code = "budget_exhausted"


class QuotaFull(ManagedError):
    """OVERFLOW_MAX_CONCURRENT_JOBS Transcribe jobs are queued or running: the job is queued."""

    code = "managed_quota"


class AlreadyStarted(ManagedError):
    """A ticket for this audio version exists: its Transcribe job was started before."""

    code = "managed_started"

    def __init__(self, job_name: str) -> None:
        super().__init__(f"Transcribe job {job_name} was already started for this audio")
        self.job_name = job_name


class TranscribeUnavailable(ManagedError):
    """Transcribe refused or failed the call (throttled, quota, bad request): queue instead."""

    code = "managed_unavailable"


class OutputMissing(ManagedError):
    """A completed job whose output document is not (yet) where the job was told to write."""

    code = "managed_output_missing"
