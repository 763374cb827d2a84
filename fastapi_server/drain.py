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
a backoff for a transient one; a task of a canceled batch job is dropped, as the worker drops
it. A message the server cannot do (no job at all, buckets or keys it may not use, a
translation, a model not in its MODELS, audio outside ``INPUT_PREFIX``) is returned at once
for a worker, and the drain pauses ``SKIP_SECONDS`` so it does not take the same message
again and again.
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

from batch_worker.cancel import CanceledJobs
from batch_worker.consumer import JobConsumer, Received
from batch_worker.failures import FailureHandler
from batch_worker.heartbeat import Heartbeat
from batch_worker.metrics import JobMetrics
from batch_worker.processor import Stores
from fastapi_server.concurrency import Load
from fastapi_server.exceptions import NotForTheServer
from fastapi_server.service import S3Target, output_policy, transcribe_s3
from fastapi_server.settings import DrainSettings
from fastapi_server.state import ServerState
from transcription.exceptions import MalformedJob, TargetNotAllowed
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
# After returning a job the server cannot do (another job type, model or policy): pause this
# long, so the same message is not received again and again (each receive counts toward the
# queue's maxReceiveCount).
SKIP_SECONDS = 60.0
ROUTE = "drain"


class QueueDrain:
    """One queued job at a time, whenever the server has no direct work."""

    def __init__(self, state: ServerState, settings: DrainSettings, sqs: Any) -> None:
        self.state = state
        self.settings = settings
        # The batch worker's consumer: highest queue first, each message settled on its own
        # queue, renewed by one heartbeat. No DLQ: a message that is no job goes back instead.
        urls = settings.queue_urls
        self.heartbeat = Heartbeat(sqs, urls[0], VISIBILITY_SECONDS, HEARTBEAT_SECONDS)
        self.jobs = JobConsumer(
            sqs,
            urls,
            "",
            self.heartbeat,
            priority_wait_seconds=max(1, settings.drain_wait_seconds // len(urls)),
        )
        self.metrics = JobMetrics(METRICS_NAMESPACE)
        self.policy = output_policy(state)
        self.canceled = CanceledJobs(state.s3, self.policy)  # the worker's cancel check
        self._models = {model.name for model in state.pool.status()}
        self._skip_until = -math.inf  # monotonic: after returning a job the server cannot do
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
            and time.monotonic() >= self._skip_until
        )

    def busy(self, load: Load) -> bool:
        """``/health``'s ``busy``: drained work alone never makes the server busy."""
        if self.running and self._direct == 0 and load.pending == 0:
            return False
        return load.busy

    # --- the task ------------------------------------------------------------------------
    def start(self) -> None:
        self.heartbeat.start()
        self._task = asyncio.create_task(self._run(), name="queue-drain")
        log.info("draining %s while idle", ", ".join(self.settings.queue_urls))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await anyio.to_thread.run_sync(self.jobs.release_all)  # a job cut short goes back
        self.jobs.close()
        self.heartbeat.stop()

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
            if not self.may_take():  # a direct request came during the receive
                await anyio.to_thread.run_sync(self.jobs.release, taken, 0)
                continue
            await self._run_one(taken)

    async def _receive(self) -> Received | None:
        """One message, from the highest-priority queue that has one."""
        wait = self.settings.drain_wait_seconds
        messages = await anyio.to_thread.run_sync(self.jobs.receive, 1, wait, 1)
        return messages[0] if messages else None

    async def _run_one(self, message: Received) -> None:
        with log_context(message_id=message.message_id, route=ROUTE):
            try:
                job = Job.from_json(message.body)
                target = self._target(job)
            except (MalformedJob, TargetNotAllowed, NotForTheServer) as error:
                log.warning("not a job for this server (%s); returned for a worker", error)
                await anyio.to_thread.run_sync(self.jobs.release, message, 0)
                self._skip_until = time.monotonic() + SKIP_SECONDS
                return
            if job.job_id is not None and await anyio.to_thread.run_sync(
                self.canceled.is_canceled, job.job_id
            ):
                log.info("job %s is canceled: its task is dropped", job.job_id)
                self.jobs.delete(message)
                return
            self.running += 1
            try:
                outcome = await self._transcribe(job, target)
            except Exception as error:  # noqa: BLE001 - settled as the worker settles it
                failures = FailureHandler(
                    self.jobs, Stores(self.state.s3), self.metrics, RETRY_BACKOFF_SECONDS
                )
                await anyio.to_thread.run_sync(failures.handle, message, job, error)
                return
            finally:
                self.running -= 1
            self.jobs.delete(message)
            self.taken += 1
            log.info("drained a queued job: %s", outcome, extra={"fields": {"s3_key": job.key}})

    def _target(self, job: Job) -> S3Target:
        """The job as a /transcribe-s3 request for its audio and its output key, checked by
        the same output policy (with the job's id, as the worker checks a batch task)."""
        if job.job_type not in {None, "asr"} or job.tgt_lng:
            raise NotForTheServer(f"a {job.job_type} task with target language {job.tgt_lng}")
        if job.model is not None and job.model not in self._models:
            raise NotForTheServer(f"model {job.model!r} is not one of this server's MODELS")
        if not job.key.startswith(self.state.settings.storage.input_prefix):
            # A batch item's audio may be anywhere in the bucket; the server's role reads
            # only INPUT_PREFIX (scripts/policies/server-policy.json).
            raise NotForTheServer(f"{job.key!r} is outside INPUT_PREFIX")
        self.policy.check(job.bucket, job.key, job.output_bucket, job.output_key, job.job_id)
        return S3Target(job.bucket, job.key, job.output_bucket, job.output_key)

    async def _transcribe(self, job: Job, target: S3Target) -> str:
        options = TranscribeOptions(
            language=job.options.language, task=job.options.task, model=job.model
        )
        diarize = job.diarization(self.state.settings.engine.diarize_default)
        result, _ = await transcribe_s3(
            self.state, target, options, job.enqueued_at, job.etag, diarize
        )
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
