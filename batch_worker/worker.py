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
- *heartbeat* renews the lease of every held message (see :mod:`.heartbeat`);
- *lifecycle*, on an Auto Scaling group, keeps the box protected while busy, removes it when
  idle, and hands jobs back when the box is taken away (see :mod:`.lifecycle`).

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
from batch_worker.extras import TaskExtras
from batch_worker.failures import FailureHandler
from batch_worker.heartbeat import Heartbeat
from batch_worker.lifecycle import Activity, InstanceLifecycle, Running, Speed
from batch_worker.metrics import JobMetrics
from batch_worker.prefetch import Prefetcher, RunLimits, Uploader
from batch_worker.processor import JobProcessor, Prepared, Stores, Transcribed
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
        lifecycle: InstanceLifecycle | None = None,
    ) -> None:
        self.settings = settings
        self.shutdown = shutdown or Shutdown(settings.shutdown_grace_seconds)
        self.lifecycle = lifecycle
        self.speed = Speed()  # the recent realtime factor, for the lifecycle's estimates
        self.running: Running | None = None  # the job the engine is on
        self._uploading: set[Received] = set()  # transcribed, their upload pending
        self._uploading_lock = threading.Lock()
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
            TaskExtras(settings.translation, settings.engine.diarize_default),
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
        if self.lifecycle is not None:
            self.lifecycle.attach(
                activity=lambda: Activity(self.jobs.held(), prefetcher.received),
                running=lambda: self.running,
                release=self._give_back,
                release_waiting=self._release_waiting,
                speed=self.speed,
            )
            self.lifecycle.start()
        try:
            self._wait_for(lambda t: _joined(compute, t), uploader.wait, prefetcher.join)
            returned = self.jobs.release_all()  # none unless the grace period ran out
        finally:
            if self.lifecycle is not None:
                self.lifecycle.stop()
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
        if self.lifecycle is not None:
            self.lifecycle.finish()  # leave the group, or complete its termination hook
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
            self._uploads(prepared.message)
            uploader.submit(self._confirm_after, first, prepared)
            return
        transcribed = self._transcribe(prepared)
        if transcribed is None:
            return
        if not self.heartbeat.holds(prepared.message):
            # The box is being taken away and the message went back to the queue while the
            # engine ran: another worker has it now, so this result is not written.
            log.info("job returned to the queue while transcribing; result dropped")
            return
        self._uploads(prepared.message)
        self._recent[identity] = uploader.submit(self._publish, transcribed)
        while len(self._recent) > RECENT_JOBS:
            self._recent.popitem(last=False)

    def _transcribe(self, prepared: Prepared) -> Transcribed | None:
        """Run the engine, telling the lifecycle which job runs and how fast jobs go."""
        started = time.monotonic()
        self.running = Running(prepared.message, prepared.audio.duration, started)
        try:
            transcribed = self.processor.transcribe(prepared)
        finally:
            self.running = None
        if transcribed is not None:
            self.speed.record(prepared.audio.duration, time.monotonic() - started)
        return transcribed

    def _uploads(self, message: Received) -> None:
        with self._uploading_lock:
            self._uploading.add(message)

    def _publish(self, transcribed: Transcribed) -> None:
        try:
            self.processor.publish(transcribed)
        finally:
            with self._uploading_lock:
                self._uploading.discard(transcribed.prepared.message)

    def _confirm_after(self, first: Future[None], duplicate: Prepared) -> None:
        """Upload thread: wait for the first copy's upload, then settle the duplicate.

        Upload tasks start in submission order, so the first copy's upload is running or
        done by now: this never waits on a task that has not started.
        """
        wait([first])
        try:
            self.processor.confirm_duplicate(duplicate)
        finally:
            with self._uploading_lock:
                self._uploading.discard(duplicate.message)

    def _release(self, message: Received, job: Job | None = None) -> None:
        """Shutdown: a job not started goes back to the queue at once."""
        self._give_back(message, job)

    def _give_back(self, message: Received, job: Job | None = None) -> bool:
        """Return a held message to the queue at once; ``False`` if it was not held."""
        if self.jobs.release(message, 0):
            self.metrics.record(message, "released", job)
            return True
        return False

    def _release_waiting(self, running: Running | None) -> int:
        """The box is being taken away: every held message not running nor uploading (the
        prefetched ones) goes back to the queue at once. Returns how many."""
        with self._uploading_lock:
            keep = set(self._uploading)
        if running is not None:
            keep.add(running.message)
        return sum(self._give_back(m) for m in self.heartbeat.held() if m not in keep)


def _joined(thread: threading.Thread, timeout: float) -> bool:
    thread.join(timeout)
    return not thread.is_alive()
