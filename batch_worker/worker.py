"""The worker: drain the jobs queues with one loaded engine, overlapping I/O and compute.

With priority queues (``QUEUE_URL_HIGH``/``QUEUE_URL_LOW`` beside ``QUEUE_URL``) high tasks
go before normal before low ones (see :mod:`.consumer` and :mod:`.prefetch`); tasks of a
canceled batch job are dropped unrun (see :mod:`.cancel`).

Threads share the work of every job:

- *receive* takes messages off the queue, up to 10 at a time, and two *prefetch* threads
  prepare them (download + decode; see :mod:`.prefetch`);
- *compute* takes prepared jobs and runs the engine;
- *upload* (a few threads) writes the transcripts and hands the messages to *deleter*,
  which deletes them in batches (see :mod:`.deleter`);
- *heartbeat* renews the lease of every held message (see :mod:`.heartbeat`).

The calling thread only supervises: it returns when the run ends by itself
(:class:`~batch_worker.prefetch.RunLimits`) or, after a stop request, when the running job
is done or the grace period has run out (see :mod:`.shutdown`).

A job this worker has just transcribed is not transcribed again when a duplicate message
for it comes along: the duplicate waits for the first copy's upload and is then deleted
(or retried later, if that upload failed).
Duplicates that reach different workers are settled by the store's conditional writes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any

from batch_worker.consumer import JobConsumer, Received
from batch_worker.failures import FailureHandler
from batch_worker.heartbeat import Heartbeat
from batch_worker.metrics import JobMetrics
from batch_worker.prefetch import Prefetcher, RunLimits, Uploader
from batch_worker.processor import JobProcessor, Prepared, Stores
from batch_worker.settings import WorkerSettings
from batch_worker.shutdown import Shutdown
from transcription.inference.engines.base import Engine
from transcription.job import Job

__all__ = ["RunSummary", "Worker"]

log = logging.getLogger(__name__)

RECENT_JOBS = 1024  # identities of jobs transcribed lately, for the duplicate check
_POLL = 0.2


@dataclass(frozen=True)
class RunSummary:
    outcomes: dict[str, int]
    received: int
    returned_at_exit: int  # messages given back because the grace period ran out
    error: str | None = None

    @property
    def clean(self) -> bool:
        return self.returned_at_exit == 0 and self.error is None


class Worker:
    def __init__(
        self,
        settings: WorkerSettings,
        engine: Engine,
        *,
        sqs: Any,
        s3: Any,
        dlq_url: str,
        shutdown: Shutdown | None = None,
    ) -> None:
        self.settings = settings
        self.shutdown = shutdown or Shutdown(settings.shutdown_grace_seconds)
        self.heartbeat = Heartbeat(
            sqs, settings.queue_url, settings.visibility, settings.heartbeat_interval
        )
        self.jobs = JobConsumer(
            sqs,
            settings.queue_urls,
            dlq_url,
            self.heartbeat,
            priority_wait_seconds=settings.priority_wait_seconds,
        )
        self.metrics = JobMetrics(settings.metrics_namespace)
        self.failures = FailureHandler(
            self.jobs, Stores(s3), self.metrics, settings.retry_backoff_seconds
        )
        self.processor = JobProcessor(
            engine,
            s3,
            self.jobs,
            self.failures,
            self.metrics,
            settings.engine.max_audio_seconds,
            settings.output_policy,
        )
        # Jobs transcribed lately (identity → their upload), for the duplicate check.
        self._recent: OrderedDict[tuple[str, str, str], Future[None]] = OrderedDict()

    # --- the run -------------------------------------------------------------------------
    def run(self, limits: RunLimits | None = None) -> RunSummary:
        limits = limits or RunLimits()
        prefetcher = Prefetcher(
            self.jobs,
            self.processor,
            depth=self.settings.prefetch,
            wait_seconds=self.settings.wait_time_seconds,
            lease_seconds=self.settings.visibility,
            limits=limits,
            stopping=self.shutdown.requested,
            release=self._release,
        )
        uploader = Uploader()
        compute = threading.Thread(
            target=self._compute, args=(prefetcher, uploader), name="compute", daemon=True
        )
        log.info(
            "worker started",
            extra={
                "fields": {
                    "queue_urls": list(self.settings.queue_urls),  # highest priority first
                    "visibility_timeout": self.settings.visibility,
                    "heartbeat_seconds": self.settings.heartbeat_interval,
                    "prefetch": self.settings.prefetch,
                }
            },
        )
        self.heartbeat.start()
        prefetcher.start()
        compute.start()
        try:
            self._wait_for(lambda t: _joined(compute, t), uploader.wait, prefetcher.join)
            returned = self.jobs.release_all()  # none unless the grace period ran out
        finally:
            self.jobs.close()  # the deletes still pending
            self.heartbeat.stop()
            uploader.close()
        summary = RunSummary(
            outcomes=self.metrics.counts(),
            received=prefetcher.received,
            returned_at_exit=returned,
            error=None if prefetcher.error is None else str(prefetcher.error),
        )
        log.info("worker stopped", extra={"fields": {"summary": summary.__dict__}})
        return summary

    def _wait_for(self, *steps: Callable[[float], bool]) -> None:
        """Wait for each step in turn; after a stop request, only until the grace ends."""
        for step in steps:
            while not step(_POLL):
                if self.shutdown.expired():
                    log.warning("the grace period ran out; returning held jobs to the queue")
                    return

    def _compute(self, prefetcher: Prefetcher, uploader: Uploader) -> None:
        while (prepared := prefetcher.next_ready()) is not None:
            started = time.perf_counter()
            try:
                self._compute_one(prepared, uploader)
            except Exception as error:  # noqa: BLE001 - a bug must not stop the loop
                self.failures.handle(prepared.message, prepared.job, error)  # → retried
            finally:
                prefetcher.job_done(time.perf_counter() - started)

    def _compute_one(self, prepared: Prepared, uploader: Uploader) -> None:
        if self.shutdown.requested.is_set():
            self._release(prepared.message, prepared.job)
            return
        identity = prepared.identity
        first = self._recent.get(identity)
        if first is not None:
            uploader.submit(self._confirm_after, first, prepared)
            return
        transcribed = self.processor.transcribe(prepared)
        if transcribed is None:
            return
        self._recent[identity] = uploader.submit(self.processor.publish, transcribed)
        while len(self._recent) > RECENT_JOBS:
            self._recent.popitem(last=False)

    def _confirm_after(self, first: Future[None], duplicate: Prepared) -> None:
        """Upload thread: wait for the first copy's upload, then settle the duplicate.

        Upload tasks start in submission order, so the first copy's upload is running or
        done by now: this never waits on a task that has not started.
        """
        wait([first])
        self.processor.confirm_duplicate(duplicate)

    def _release(self, message: Received, job: Job | None = None) -> None:
        """Shutdown: a job not started goes back to the queue at once."""
        if self.jobs.release(message, 0):
            self.metrics.record(message, "released", job)


def _joined(thread: threading.Thread, timeout: float) -> bool:
    thread.join(timeout)
    return not thread.is_alive()
