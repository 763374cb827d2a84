"""One job, in the three stages the consumer overlaps across jobs.

1. :meth:`JobProcessor.prepare` (prefetch thread): parse the message, check its buckets and
   output key against the worker's own settings (a job naming anything but the layout's place
   for its audio is dead-lettered, never written), drop a task of a canceled batch job
   (:mod:`batch_worker.cancel`: deleted, nothing written, outcome ``canceled``), re-check the
   transcript (skip if current, after writing any sidecar it lacks), download the audio
   conditionally on the job's ETag, decode it.
2. :meth:`JobProcessor.transcribe` (compute thread): run the engine; the transcript gets
   route ``batch``, its source, and ``timings.queued_at`` from the job's ``enqueued_at``.
3. :meth:`JobProcessor.publish` (upload threads): write the transcript and sidecars with the
   store's conditional semantics, then delete the message.

S3 requests per transcribed job: the transcript HEAD, the audio GET, the transcript PUT
(conditional on what the HEAD saw, so no second look), one PUT per sidecar and the error
record DELETE.

A stage that fails hands the message to :class:`~batch_worker.failures.FailureHandler`.
The message is deleted only after its transcript is stored (or found current), or after
the failure handler has stored its outcome.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from batch_worker.cancel import CanceledJobs
from batch_worker.consumer import JobConsumer, Received
from batch_worker.failures import FailureHandler
from batch_worker.metrics import JobMetrics
from transcription import formats
from transcription.exceptions import MalformedJob, RefusedJob, TargetNotAllowed, TranscriptExists
from transcription.inference.audio import Audio, decode_audio
from transcription.inference.engines.base import Engine, TranscribeOptions
from transcription.inference.service import download, publish, transcribe_audio
from transcription.job import Job
from transcription.layout import OutputPolicy, normalize_etag
from transcription.logging import append_keys, log_context
from transcription.store import StoredObject, TranscriptStore
from transcription.transcript import Source, Transcript

__all__ = ["JobProcessor", "Prepared", "Stores", "Transcribed", "parse_job"]

log = logging.getLogger(__name__)

ROUTE = "batch"


def parse_job(body: str, policy: OutputPolicy | None = None) -> Job:
    """A job message, validated; raises :class:`MalformedJob` (or its version subclass).

    With ``policy`` its buckets and output key are checked too: :class:`RefusedJob`.
    """
    job = Job.from_json(body)
    unknown = sorted(set(job.options.formats) - set(formats.FORMATS))
    if unknown:
        raise MalformedJob(f"unknown output formats {unknown}; known: {', '.join(formats.FORMATS)}")
    if policy is not None:
        try:
            policy.check(job.bucket, job.key, job.output_bucket, job.output_key, job.job_id)
        except TargetNotAllowed as refused:
            raise RefusedJob(refused) from None
    return job


class Stores:
    """One :class:`TranscriptStore` per output bucket, made on first use."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self._stores: dict[str, TranscriptStore] = {}

    def __call__(self, bucket: str) -> TranscriptStore:
        store = self._stores.get(bucket)
        if store is None:
            store = self._stores[bucket] = TranscriptStore(self.s3, bucket)
        return store


@dataclass(eq=False)
class Prepared:
    """A job whose audio is downloaded and decoded, waiting for the engine."""

    message: Received
    job: Job
    source: Source
    audio: Audio
    seen: StoredObject | None = None  # the transcript key before the download (None: empty)

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes two jobs the same work: output object and audio version."""
        return (self.job.output_bucket, self.job.output_key, normalize_etag(self.source.etag))


@dataclass(eq=False)
class Transcribed:
    prepared: Prepared
    transcript: Transcript


class JobProcessor:
    def __init__(
        self,
        engine: Engine,
        s3: Any,
        queue: JobConsumer,
        failures: FailureHandler,
        metrics: JobMetrics,
        max_audio_seconds: float | None,
        policy: OutputPolicy,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.s3 = s3
        self.queue = queue
        self.failures = failures
        self.metrics = metrics
        self.stores = failures.stores
        self.max_audio_seconds = max_audio_seconds
        self.canceled = CanceledJobs(s3, policy)

    @contextlib.contextmanager
    def _job_context(self, message: Received, job: Job | None = None) -> Iterator[None]:
        with log_context(message_id=message.message_id, route=ROUTE):
            if job is not None:
                append_keys(s3_key=job.key, trace_id=job.trace_id, reason=job.reason)
            yield

    def _finish(
        self, message: Received, outcome: str, job: Job, transcript: Transcript | None = None
    ) -> None:
        self.queue.delete(message)
        self.metrics.record(message, outcome, job, transcript)

    # --- 1. prefetch thread ------------------------------------------------------------
    def prepare(self, message: Received) -> Prepared | None:
        """Download and decode the job's audio; ``None`` when the message is settled here."""
        job: Job | None = None
        with self._job_context(message):
            try:
                job = parse_job(message.body, self.policy)
                append_keys(s3_key=job.key, trace_id=job.trace_id, reason=job.reason)
                if job.job_id is not None and self.canceled.is_canceled(job.job_id):
                    log.info("job %s is canceled: its task is dropped", job.job_id)
                    self._finish(message, "canceled", job)
                    return None
                store = self.stores(job.output_bucket)
                seen = store.head(job.output_key)
                if seen is not None and seen.is_current_for(job.etag):
                    store.repair(job.output_key, seen, job.options.formats)
                    self._finish(message, "skipped", job)
                    return None
                started = time.perf_counter()
                downloaded = download(self.s3, job.bucket, job.key, job.etag)
                message.stages["download_seconds"] = time.perf_counter() - started
                started = time.perf_counter()
                try:
                    audio = decode_audio(downloaded.path, max_seconds=self.max_audio_seconds)
                finally:
                    downloaded.discard()
                message.stages["decode_seconds"] = time.perf_counter() - started
                return Prepared(message, job, downloaded.source, audio, seen)
            except Exception as error:  # noqa: BLE001 - every failure is classified and settled
                self.failures.handle(message, job, error)
                return None

    # --- 2. compute thread -------------------------------------------------------------
    def transcribe(self, prepared: Prepared) -> Transcribed | None:
        message, job = prepared.message, prepared.job
        with self._job_context(message, job):
            log.info("transcribing", extra={"fields": {"audio_seconds": prepared.audio.duration}})
            options = TranscribeOptions(language=job.options.language, task=job.options.task)
            try:
                transcript = transcribe_audio(self.engine, prepared.audio, options)
            except Exception as error:  # noqa: BLE001 - every failure is classified and settled
                self.failures.handle(message, job, error)
                return None
        transcript = transcript.with_context(
            source=prepared.source,
            route=ROUTE,
            timings=replace(transcript.timings, queued_at=job.enqueued_at),
        )
        return Transcribed(prepared, transcript)

    # --- 3. upload threads -------------------------------------------------------------
    def publish(self, done: Transcribed) -> None:
        message, job = done.prepared.message, done.prepared.job
        with self._job_context(message, job):
            started = time.perf_counter()
            try:
                publish(
                    self.stores(job.output_bucket),
                    done.transcript,
                    job.output_key,
                    job.options.formats,
                    done.prepared.seen,
                )
                outcome = "transcribed"
            except TranscriptExists as exists:
                log.info("kept the other writer's transcript: %s", exists)
                outcome = "exists"
            except Exception as error:  # noqa: BLE001 - every failure is classified and settled
                self.failures.handle(message, job, error)
                return
            message.stages["upload_seconds"] = time.perf_counter() - started
            self._finish(message, outcome, job, done.transcript)

    def confirm_duplicate(self, prepared: Prepared) -> None:
        """A second message for work this worker just did: delete it once that is stored.

        Runs on an upload thread after the first copy's upload, so the transcript is
        there unless that upload failed; then this copy is retried later like any other.
        """
        message, job = prepared.message, prepared.job
        with self._job_context(message, job):
            try:
                current = self.stores(job.output_bucket).is_current(
                    job.output_key, prepared.source.etag
                )
            except Exception as error:  # noqa: BLE001 - every failure is classified and settled
                self.failures.handle(message, job, error)
                return
            if current:
                self._finish(message, "duplicate", job)
            else:
                self.metrics.record(message, self.failures.retry(message), job)
