"""What happens to a message whose job failed: permanent, dead letter, or try again later.

- **Dead letter** (malformed message, unknown job version): the worker cannot even tell what
  was asked. The message is copied to the DLQ with a ``reason`` attribute and deleted here at
  once, instead of burning ``maxReceiveCount`` receives.
- **Permanent** (not audio, empty, too long, object gone, unsupported type): retrying the
  same input cannot succeed. An error record is written where the transcript would be, and
  the message is deleted.
- **Stale** (the audio was replaced after the job was made): the new version has its own
  event and job, so this message is deleted without an error record.
- **Transient** (S3 throttling or timeouts, an engine crash, and anything unexpected): the
  message becomes visible again after an exponential, jittered backoff. Once it has been
  received ``maxReceiveCount`` times, SQS's redrive policy moves it to the DLQ, from where
  ``python -m batch_worker redrive`` brings it back after a fix.

Nothing here deletes a message before its outcome (transcript, error record or DLQ copy) is
written; when writing that outcome fails, the message is returned for a retry instead.
"""

from __future__ import annotations

import enum
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from batch_worker.consumer import JobConsumer, Received
from batch_worker.metrics import JobMetrics
from transcription.aws_errors import error_code
from transcription.exceptions import MalformedJob, SourceChanged, TranscriptionError
from transcription.job import Job
from transcription.store import TranscriptStore

__all__ = [
    "MAX_BACKOFF_SECONDS",
    "Action",
    "Disposition",
    "FailureHandler",
    "backoff_seconds",
    "classify",
]

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 15 * 60


class Action(enum.Enum):
    DEAD_LETTER = "dead_lettered"
    RECORD = "failed"
    DROP = "stale"
    RETRY = "retried"


@dataclass(frozen=True)
class Disposition:
    action: Action
    code: str
    detail: str


def _code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return error_code(error) or type(error).__name__
    return str(getattr(error, "code", None) or type(error).__name__)


def classify(error: BaseException) -> Disposition:
    code = _code(error)
    detail = str(error) or type(error).__name__
    if isinstance(error, MalformedJob):
        return Disposition(Action.DEAD_LETTER, code, detail)
    if isinstance(error, SourceChanged):
        return Disposition(Action.DROP, code, detail)
    if isinstance(error, TranscriptionError) and error.permanent:
        return Disposition(Action.RECORD, code, detail)
    return Disposition(Action.RETRY, code, detail)


def backoff_seconds(receive_count: int, base: float, rng: random.Random | None = None) -> int:
    """``base × 2^(receive_count − 1)``, at most 15 min, with jitter down to half of it."""
    ceiling = min(MAX_BACKOFF_SECONDS, base * 2 ** max(0, receive_count - 1))
    return math.ceil((rng or random).uniform(ceiling / 2, ceiling))


class FailureHandler:
    def __init__(
        self,
        queue: JobConsumer,
        stores: Callable[[str], TranscriptStore],  # output bucket → its store
        metrics: JobMetrics,
        backoff_base: float,
    ) -> None:
        self.queue = queue
        self.stores = stores
        self.metrics = metrics
        self.backoff_base = backoff_base

    def handle(self, message: Received, job: Job | None, error: BaseException) -> str:
        """Settle ``message`` after ``error``; returns the outcome recorded."""
        disposition = classify(error)
        if disposition.action is Action.RETRY and not isinstance(error, TranscriptionError):
            log.error("unexpected error; the job will be retried", exc_info=error)
        else:
            log.warning("job failed (%s): %s", disposition.code, disposition.detail)
        try:
            self._settle(message, job, disposition)
            outcome = disposition.action.value
        except (TranscriptionError, ClientError, BotoCoreError) as failure:
            # The outcome (error record, DLQ copy) could not be stored: try again later.
            log.warning("could not settle a failed job (%s); retrying it later", failure)
            outcome = self.retry(message)
        self.metrics.record(message, outcome, job, error=disposition.code)
        return outcome

    def _settle(self, message: Received, job: Job | None, disposition: Disposition) -> None:
        action = disposition.action
        if action is Action.RETRY:
            self.retry(message)
        elif action is Action.DEAD_LETTER or job is None:
            self.queue.dead_letter(message, disposition.code, disposition.detail)
        else:
            if action is Action.RECORD:
                source = {"bucket": job.bucket, "key": job.key, "etag": job.etag, "size": job.size}
                store = self.stores(job.output_bucket)
                store.save_error(job.output_key, disposition.code, disposition.detail, source)
            self.queue.delete(message)

    def retry(self, message: Received) -> str:
        self.queue.release(message, backoff_seconds(message.receive_count, self.backoff_base))
        return Action.RETRY.value
