"""Named errors of the batch worker."""

from __future__ import annotations

from transcription.exceptions import SettingsError, TranscriptionError

__all__ = ["MetadataUnavailable", "NoDeadLetterQueue", "QueueUnreachable", "WorkerError"]


class WorkerError(TranscriptionError):
    """Base class for errors the worker raises on purpose."""

    code = "worker_error"


class NoDeadLetterQueue(SettingsError):
    """DLQ_URL is empty and the jobs queue has no redrive policy naming one."""

    code = "no_dead_letter_queue"


class QueueUnreachable(WorkerError):
    """SQS kept failing for longer than the worker's retry budget."""

    code = "queue_unavailable"
    permanent = False


class MetadataUnavailable(WorkerError):
    """The instance metadata service (IMDS) did not answer, or answered something unreadable."""

    code = "metadata_unavailable"
    permanent = False
