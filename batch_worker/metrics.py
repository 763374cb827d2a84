"""Per-job metrics: one JSON log line per job, which is also a CloudWatch EMF record.

The line carries the job's outcome and its numbers (audio seconds, processing seconds,
realtime factor = processing ÷ audio, seconds spent queued, download/decode/upload seconds).
Its ``_aws`` member makes the same line an Embedded Metric Format record: shipped to
CloudWatch Logs (the CloudWatch agent on the worker box), the numbers become metrics in
``METRICS_NAMESPACE`` with the dimension ``outcome``, at no extra API call (see
:mod:`transcription.emf`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

from batch_worker.consumer import Received
from transcription.emf import MetricSchema
from transcription.job import Job
from transcription.transcript import Transcript

__all__ = ["OUTCOMES", "SCHEMA", "JobMetrics", "job_fields"]

log = logging.getLogger(__name__)

# What can become of a received message.
OUTCOMES = (
    "transcribed",  # transcript written by this worker
    "exists",  # another writer stored it first (412): theirs is kept
    "skipped",  # a current transcript was already there
    "duplicate",  # the same audio was just transcribed by this worker
    "stale",  # the audio changed since the job was made; its own job follows
    "failed",  # permanent failure: error record written
    "dead_lettered",  # malformed or unknown version: sent to the DLQ
    "retried",  # transient failure: back on the queue after a backoff
    "released",  # shutdown: back on the queue at once
    "canceled",  # a task of a canceled batch job: deleted, never run
)

SCHEMA = MetricSchema(
    dimensions=(("outcome",),),
    units=(
        ("jobs", "Count"),
        ("audio_seconds", "Seconds"),
        ("processing_seconds", "Seconds"),
        ("realtime_factor", "None"),
        ("queued_seconds", "Seconds"),
        ("download_seconds", "Seconds"),
        ("decode_seconds", "Seconds"),
        ("upload_seconds", "Seconds"),
        ("total_seconds", "Seconds"),
    ),
)


def _seconds_since(iso: str | None, wall: float) -> float | None:
    if not iso:
        return None
    try:
        then = datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None
    return round(max(0.0, wall - then), 3)


def job_fields(
    message: Received,
    outcome: str,
    job: Job | None = None,
    transcript: Transcript | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The numbers of one finished message, ready for a log line."""
    fields: dict[str, Any] = {
        "outcome": outcome,
        "jobs": 1,
        "message_id": message.message_id,
        "receive_count": message.receive_count,
        "total_seconds": round(time.monotonic() - message.received_at, 3),
        **{name: round(value, 3) for name, value in message.stages.items()},
    }
    if error:
        fields["error"] = error
    if job is not None:
        fields["s3_key"] = job.key
        fields["output_key"] = job.output_key
        fields["job_id"] = job.job_id  # batch job tasks only (None is left out below)
        fields["priority"] = job.priority
        fields["queued_seconds"] = _seconds_since(job.enqueued_at, message.received_wall)
    if transcript is not None:
        audio = transcript.timings.audio_seconds
        processing = transcript.timings.processing_seconds
        fields["audio_seconds"] = audio
        fields["processing_seconds"] = processing
        if audio and processing is not None:
            fields["realtime_factor"] = round(processing / audio, 4)
    return {k: v for k, v in fields.items() if v is not None}


class JobMetrics:
    """Writes the per-job line and counts outcomes (for the worker's exit summary)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(
        self,
        message: Received,
        outcome: str,
        job: Job | None = None,
        transcript: Transcript | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        fields = job_fields(message, outcome, job, transcript, error)
        with self._lock:
            self._counts[outcome] += 1
        level = (
            logging.WARNING if outcome in {"failed", "dead_lettered", "retried"} else logging.INFO
        )
        directive = SCHEMA.directive(self.namespace, fields)
        log.log(level, "job %s", outcome, extra={"fields": {**fields, "_aws": directive}})
        return fields

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
