"""Managed overflow: AWS Transcribe as a third route beside direct and queue (route ``managed``).

When the GPU fleet cannot finish a batch job within its deadline (the router's decision,
:mod:`lambda_router.overflow`), the job goes to AWS Transcribe instead, within a monthly
budget of minutes and Transcribe's concurrency quota. The pieces, each small:

* :mod:`~transcription.managed.settings`: ``OVERFLOW``, ``OVERFLOW_MAX_MINUTES_PER_MONTH``…
* :mod:`~transcription.managed.names`: the deterministic job name (audio key + ETag) and the
  keys of the ticket, budget and Transcribe output objects;
* :mod:`~transcription.managed.budget`: the month's minutes, one S3 counter object per month
  updated with ``If-Match`` conditional writes (retried on conflict);
* :mod:`~transcription.managed.ticket`: the start's claim (``If-None-Match``), so a job starts
  once however many times its upload event arrives;
* :mod:`~transcription.managed.start`: quota, ticket, budget, ``StartTranscriptionJob``;
* :mod:`~transcription.managed.convert`: Transcribe's output document → our transcript;
* :mod:`~transcription.managed.collect`: a completed job's output, converted, written with the
  store's conditional writes (:class:`~transcription.store.TranscriptStore`).

Standard library and boto3 only: the router's Lambda ships it.
"""

from transcription.managed.collect import Collected, Collector
from transcription.managed.convert import from_transcribe
from transcription.managed.exceptions import (
    AlreadyStarted,
    BudgetSpent,
    ManagedError,
    OutputMissing,
    QuotaFull,
    TranscribeUnavailable,
)
from transcription.managed.settings import OverflowSettings
from transcription.managed.start import ManagedStarter, Started

__all__ = [
    "AlreadyStarted",
    "BudgetSpent",
    "Collected",
    "Collector",
    "ManagedError",
    "ManagedStarter",
    "OutputMissing",
    "OverflowSettings",
    "QuotaFull",
    "Started",
    "TranscribeUnavailable",
    "from_transcribe",
]
