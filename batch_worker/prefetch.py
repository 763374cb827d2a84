"""Overlap I/O with compute: prepare the next jobs while one transcribes, upload off-thread.

:class:`Prefetcher` receives messages and prepares them (download + decode) on its own
thread, keeping at most ``PREFETCH`` prepared jobs waiting besides the one the engine is
on: it takes a *slot* per message and the compute thread gives the slot back when it has
finished transcribing. With ``PREFETCH=0`` the next message is received only once the
engine is done with the current one.

:class:`Uploader` runs the uploads (transcript, sidecars, message delete) on a few threads
of its own, so the engine starts the next job at once and short jobs are not held up by the
seven S3 and SQS round trips of each upload.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batch_worker.consumer import JobConsumer, Received
from batch_worker.processor import JobProcessor, Prepared

__all__ = ["MAX_RECEIVE", "Prefetcher", "RunLimits", "Uploader"]

log = logging.getLogger(__name__)

MAX_RECEIVE = 10  # SQS's limit per ReceiveMessage
UPLOAD_THREADS = 4
_POLL = 0.2  # how often a blocked thread looks whether it should stop


@dataclass(frozen=True)
class RunLimits:
    """When the worker stops by itself: ``--exit-when-idle``, ``--max-jobs``, ``--once``."""

    exit_when_idle: float | None = None  # seconds the queue must stay empty
    max_jobs: int | None = None  # messages to take off the queue at most

    @classmethod
    def once(cls) -> RunLimits:
        """Drain what is there, then exit: the first empty receive ends the run."""
        return cls(exit_when_idle=0)


class Prefetcher:
    def __init__(
        self,
        jobs: JobConsumer,
        processor: JobProcessor,
        *,
        depth: int,
        wait_seconds: int,
        limits: RunLimits,
        stopping: threading.Event,
        release: Callable[[Received], None],
    ) -> None:
        self.jobs = jobs
        self.processor = processor
        self.wait_seconds = wait_seconds
        self.limits = limits
        self.stopping = stopping
        self.release = release
        self.ready: queue.Queue[Prepared | None] = queue.Queue()  # None: no more jobs
        self.received = 0
        self.error: BaseException | None = None
        self._slots = threading.Semaphore(depth + 1)
        self._thread = threading.Thread(target=self._run, name="prefetch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def job_done(self) -> None:
        """The compute thread finished with a job: room for one more."""
        self._slots.release()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as error:
            log.exception("receiving stopped")
            self.error = error
        finally:
            self.ready.put(None)

    def _loop(self) -> None:
        idle_since: float | None = None
        while not self.stopping.is_set():
            room = self._take_slots()
            if room == 0:
                continue
            polled_at = time.monotonic()
            messages = self.jobs.receive(room, self._wait(idle_since))
            for _ in range(room - len(messages)):
                self._slots.release()
            self.received += len(messages)
            if messages or self.jobs.held():
                idle_since = None
            else:
                idle_since = idle_since or polled_at
                if self._idle_too_long(idle_since):
                    log.info(
                        "the queue stayed empty for %.0f s; stopping", self.limits.exit_when_idle
                    )
                    return
            for message in messages:
                self._prepare(message)
            if self.limits.max_jobs is not None and self.received >= self.limits.max_jobs:
                log.info("took %d jobs (--max-jobs); stopping", self.received)
                return

    def _prepare(self, message: Received) -> None:
        if self.stopping.is_set():
            self.release(message)
            self.job_done()
            return
        prepared = self.processor.prepare(message)
        if prepared is None:
            self.job_done()
        else:
            self.ready.put(prepared)

    def _take_slots(self) -> int:
        """Wait for one free slot, then take what else is free, up to one receive's worth."""
        if not self._slots.acquire(timeout=_POLL):
            return 0
        room = 1
        limit = MAX_RECEIVE
        if self.limits.max_jobs is not None:
            limit = min(limit, self.limits.max_jobs - self.received)
        while room < limit and self._slots.acquire(blocking=False):
            room += 1
        return room

    def _wait(self, idle_since: float | None) -> int:
        """Long-poll seconds: never past the moment the idle limit would be reached."""
        if self.limits.exit_when_idle is None:
            return self.wait_seconds
        idle = 0.0 if idle_since is None else time.monotonic() - idle_since
        remaining = math.ceil(self.limits.exit_when_idle - idle)
        return min(self.wait_seconds, max(1, remaining))

    def _idle_too_long(self, idle_since: float) -> bool:
        limit = self.limits.exit_when_idle
        return limit is not None and time.monotonic() - idle_since >= limit


class Uploader:
    """Runs upload tasks; tasks start in the order they were submitted."""

    def __init__(self, threads: int = UPLOAD_THREADS) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="upload")
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., None], *args: Any) -> concurrent.futures.Future[None]:
        future = self._executor.submit(fn, *args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            log.error("upload task failed", exc_info=error)

    def wait(self, timeout: float) -> bool:
        """``True`` once every submitted upload has finished."""
        with self._lock:
            pending = list(self._pending)
        _, not_done = concurrent.futures.wait(pending, timeout=timeout)
        return not not_done

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
