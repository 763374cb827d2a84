"""The GPU server drains the jobs queues while no direct request needs it.

With ``SERVER_DRAINS_QUEUE`` on (by default whenever ``QUEUE_URL`` is set, i.e. in a
deployment; see :class:`~fastapi_server.settings.DrainSettings`) a task of the app's own
(:class:`QueueDrain`) takes one queued job at a time — ``QUEUE_URL_HIGH`` before
``QUEUE_URL`` before ``QUEUE_URL_LOW`` — and runs it exactly as ``POST /transcribe-s3``
runs a request (:func:`~fastapi_server.service.transcribe_s3`: the output policy, the
conditional writes, the same transcript), then deletes the message. While it runs, the
batch worker's heartbeat keeps the message hidden from the workers.

**Direct work first.** A job is taken only when no direct request is running or waiting and
none has ended for ``DRAIN_QUIET_SECONDS`` (a client sending one request after another keeps
the server to itself). Every ``POST`` counts as direct work from the moment it arrives
(:class:`DirectWorkWatch`), so the drain stops taking jobs at once; a message received just as
a request arrived goes straight back to the queue (visibility 0). The job already running
finishes: a direct request waits for at most one job.

**What /health says.** The router asks ``busy`` to decide whether a request sent now starts
within its budget. A drained job gives way at its end, so it does not make the server busy:
while only drained work runs, ``busy`` is false (with ``CONCURRENCY=1`` a direct call then
waits for the running job, at most one job's time) and ``draining`` is true. As soon as
direct work runs too, ``busy`` is the slots' own answer (see
:mod:`fastapi_server.concurrency`).

**Failures** are settled as the batch worker settles them
(:class:`~batch_worker.failures.FailureHandler`): an error record for a permanent failure,
a backoff for a transient one. A message that is no job at all, or names buckets or keys the
server may not use, is returned at once for a worker to dead-letter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from batch_worker.consumer import JobConsumer, Received
from batch_worker.failures import FailureHandler
from batch_worker.heartbeat import Heartbeat
from batch_worker.metrics import JobMetrics
from batch_worker.processor import Stores
from fastapi_server.concurrency import Load
from fastapi_server.service import S3Target, output_policy, resolve_target, transcribe_s3
from fastapi_server.settings import DrainSettings
from fastapi_server.state import ServerState
from transcription.exceptions import InvalidS3Uri, MalformedJob, TargetNotAllowed
from transcription.inference.engines import TranscribeOptions
from transcription.job import Job
from transcription.logging import log_context

__all__ = ["DirectWorkWatch", "QueueDrain"]

log = logging.getLogger(__name__)

VISIBILITY_SECONDS = 30  # the lease of a drained job, renewed while it runs
HEARTBEAT_SECONDS = 10.0
RETRY_BACKOFF_SECONDS = 30.0  # first backoff of a transient failure, as the worker's default
METRICS_NAMESPACE = "TranscriptionRouter"  # the per-job lines, as the worker writes them
IDLE_POLL_SECONDS = 0.1  # how often a paused drain looks again
ROUTE = "drain"


class QueueDrain:
    """One queued job at a time, whenever the server has no direct work."""

    def __init__(self, state: ServerState, settings: DrainSettings, sqs: Any) -> None:
        self.state = state
        self.settings = settings
        # One consumer per queue, highest priority first, each with its own heartbeat.
        self.queues = [
            JobConsumer(sqs, url, "", Heartbeat(sqs, url, VISIBILITY_SECONDS, HEARTBEAT_SECONDS))
            for url in settings.queue_urls
        ]
        self.metrics = JobMetrics(METRICS_NAMESPACE)
        self.running = 0  # drained jobs running now (0 or 1)
        self.taken = 0  # messages taken and run since start
        self._direct = 0  # direct requests in flight
        self._direct_ended = -math.inf  # monotonic
        self._task: asyncio.Task[None] | None = None

    # --- direct work (told by DirectWorkWatch) -------------------------------------------
    def direct_started(self) -> None:
        self._direct += 1

    def direct_ended(self) -> None:
        self._direct -= 1
        self._direct_ended = time.monotonic()

    def may_take(self) -> bool:
        """No direct work running, waiting or just ended, and the model is loaded."""
        slots = self.state.slots
        return (
            self.state.engine is not None
            and self._direct == 0
            and slots.in_flight == 0
            and slots.pending == 0
            and time.monotonic() - self._direct_ended >= self.settings.drain_quiet_seconds
        )

    def busy(self, load: Load) -> bool:
        """``/health``'s ``busy``: drained work alone never makes the server busy."""
        if self.running and self._direct == 0 and load.pending == 0:
            return False
        return load.busy

    # --- the task ------------------------------------------------------------------------
    def start(self) -> None:
        for consumer in self.queues:
            consumer.heartbeat.start()
        self._task = asyncio.create_task(self._run(), name="queue-drain")
        log.info("draining %s while idle", ", ".join(self.settings.queue_urls))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for consumer in self.queues:
            await anyio.to_thread.run_sync(consumer.release_all)  # a job cut short goes back
            consumer.close()
            consumer.heartbeat.stop()

    async def _run(self) -> None:
        while True:
            if not self.may_take():
                await asyncio.sleep(IDLE_POLL_SECONDS)
                continue
            try:
                taken = await self._receive()
            except Exception:  # SQS down: log, wait, try again; the server stays up
                log.exception("could not receive from the jobs queues")
                await asyncio.sleep(self.settings.drain_wait_seconds)
                continue
            if taken is None:
                continue
            consumer, message = taken
            if not self.may_take():  # a direct request came during the receive
                await anyio.to_thread.run_sync(consumer.release, message, 0)
                continue
            await self._run_one(consumer, message)

    async def _receive(self) -> tuple[JobConsumer, Received] | None:
        """One message, from the highest-priority queue that has one."""
        wait = max(1, self.settings.drain_wait_seconds // len(self.queues))
        for consumer in self.queues:
            messages = await anyio.to_thread.run_sync(consumer.receive, 1, wait)
            if messages:
                return consumer, messages[0]
            if not self.may_take():
                return None
        return None

    async def _run_one(self, consumer: JobConsumer, message: Received) -> None:
        with log_context(message_id=message.message_id, route=ROUTE):
            try:
                job = Job.from_json(message.body)
                target = self._target(job)
            except (MalformedJob, TargetNotAllowed, InvalidS3Uri) as error:
                log.warning("not a job for this server (%s); returned for a worker", error)
                await anyio.to_thread.run_sync(consumer.release, message, 0)
                return
            self.running += 1
            try:
                outcome = await self._transcribe(job, target)
            except Exception as error:  # noqa: BLE001 - settled as the worker settles it
                failures = FailureHandler(
                    consumer, Stores(self.state.s3), self.metrics, RETRY_BACKOFF_SECONDS
                )
                await anyio.to_thread.run_sync(failures.handle, message, job, error)
                return
            finally:
                self.running -= 1
            consumer.delete(message)
            self.taken += 1
            log.info("drained a queued job: %s", outcome, extra={"fields": {"s3_key": job.key}})

    def _target(self, job: Job) -> S3Target:
        """The job as a /transcribe-s3 request for its audio and its output key (checked by
        the same output policy: a job naming anything else is refused here too)."""
        return resolve_target(
            output_policy(self.state),
            f"s3://{job.bucket}/{job.key}",
            f"s3://{job.output_bucket}/{job.output_key}",
        )

    async def _transcribe(self, job: Job, target: S3Target) -> str:
        options = TranscribeOptions(language=job.options.language, task=job.options.task)
        result, _ = await transcribe_s3(self.state, target, options, job.enqueued_at, job.etag)
        return result.outcome


class DirectWorkWatch:
    """Pure ASGI: every ``POST`` is direct work, from its arrival to its response's end."""

    def __init__(self, app: ASGIApp, drain: QueueDrain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        self.drain.direct_started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.direct_ended()
