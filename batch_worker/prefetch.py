"""Overlap I/O with compute: prepare the next jobs while one transcribes, upload off-thread.

:class:`Prefetcher` receives messages and prepares them (download + decode) on threads of
its own, keeping at most ``PREFETCH`` prepared jobs waiting besides the one the engine is
on: it takes a *slot* per job and the compute thread gives the slot back when it has
finished with it. With ``PREFETCH=0`` the next job is prepared only once the engine is done
with the current one.

It receives up to 10 messages at once, but only as many as the worker will start within
about one lease (``VISIBILITY_TIMEOUT``), judged by the seconds the last jobs took to
prepare and run: short jobs come 10 to a receive, while a worker busy with hour-long files
takes one at a time and leaves the rest of the queue to other workers.

With priority queues (see :mod:`batch_worker.consumer`) that holds for the first queue; a
lower one gives only what the worker can start at once: the free slots. While every slot is
busy nothing is received (a high task could not start sooner); when a slot frees, the next
receive polls the high queue first, so no low message taken early stands in the high one's
way. Messages wait, and prepared jobs queue for the engine, highest priority first: a high
task waits for the job running and the one already prepared, never for the flood below it.

:class:`Uploader` runs the uploads (transcript, sidecars, message delete) on a few threads
of its own, so the engine starts the next job at once and short jobs are not held up by the
S3 and SQS round trips of each upload.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import itertools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batch_worker.consumer import MAX_RECEIVE, JobConsumer, Received
from batch_worker.processor import JobProcessor, Prepared

__all__ = ["Pace", "Prefetcher", "RunLimits", "Uploader"]

log = logging.getLogger(__name__)

PREPARE_THREADS = 2  # downloads and decodes at once, within the prefetch slots
UPLOAD_THREADS = 4
_POLL = 0.2  # how often a blocked thread looks whether it should stop
_LAST = 1 << 30  # the rank of the end-of-run marker in the ready queue: after every job


@dataclass(frozen=True)
class RunLimits:
    """When the worker stops by itself: ``--exit-when-idle``, ``--max-jobs``, ``--once``."""

    exit_when_idle: float | None = None  # seconds the queue must stay empty
    max_jobs: int | None = None  # messages to take off the queue at most

    @classmethod
    def once(cls) -> RunLimits:
        """Drain what is there, then exit: the first empty receive ends the run."""
        return cls(exit_when_idle=0)


class Pace:
    """Seconds a job takes lately (prepare + compute, each smoothed): how many to receive."""

    SMOOTHING = 0.3

    def __init__(self, horizon_seconds: float, first_batch: int) -> None:
        self.horizon_seconds = horizon_seconds
        self.first_batch = first_batch
        self._seconds: dict[str, float] = {}  # stage → smoothed seconds
        self._lock = threading.Lock()

    def record(self, stage: str, seconds: float) -> None:
        with self._lock:
            last = self._seconds.get(stage, seconds)
            self._seconds[stage] = last + self.SMOOTHING * (seconds - last)

    def batch(self) -> int:
        """How many jobs the worker starts within the horizon: 1 … 10."""
        with self._lock:
            seconds = sum(self._seconds.values()) if self._seconds else None
        if seconds is None:
            return max(1, min(MAX_RECEIVE, self.first_batch))
        return max(1, min(MAX_RECEIVE, int(self.horizon_seconds / max(seconds, 1e-3))))


class Prefetcher:
    """Threads of its own: *receive* keeps a few messages in hand, two *prefetch* prepare them.

    Receiving runs ahead of preparing, so the long poll of the next receive overlaps the
    downloads of the current batch, and two downloads overlap when two slots are free. The
    messages in hand (received, and not yet done by the compute thread) stay within the
    slots plus what :class:`Pace` says the worker starts within one lease; with long jobs
    that is the slots alone.
    """

    def __init__(
        self,
        jobs: JobConsumer,
        processor: JobProcessor,
        *,
        depth: int,
        wait_seconds: int,
        lease_seconds: float,
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
        # (rank, order, job) for the engine, highest priority first; job None: no more jobs
        self._ready: queue.PriorityQueue[tuple[int, int, Prepared | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self.received = 0
        self.error: BaseException | None = None
        self.pace = Pace(lease_seconds, first_batch=depth + 1)
        self._capacity = depth + 1
        self._prioritized = len(jobs.queue_urls) > 1
        self._slots = threading.Semaphore(self._capacity)
        self._waiting: list[Received] = []  # received, unprepared; highest priority first
        self._in_hand = 0  # received and not yet done with
        self._receiving = True
        self._changed = threading.Condition()
        self._idle_since: float | None = None
        self._receiver = threading.Thread(target=self._run_receiver, name="receive", daemon=True)
        self._preparers = [
            threading.Thread(target=self._run_preparer, name=f"prefetch-{i}", daemon=True)
            for i in range(min(PREPARE_THREADS, self._capacity))
        ]
        self._preparing = len(self._preparers)  # preparer threads still running

    def start(self) -> None:
        self._receiver.start()
        for thread in self._preparers:
            thread.start()

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for thread in (*self._preparers, self._receiver):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in (*self._preparers, self._receiver))

    def next_ready(self) -> Prepared | None:
        """The compute thread's next job (highest priority first); ``None``: the run is over."""
        return self._ready.get()[2]

    def _put_ready(self, prepared: Prepared | None) -> None:
        rank = _LAST if prepared is None else prepared.message.rank
        self._ready.put((rank, next(self._order), prepared))

    def job_done(self, seconds: float = 0.0) -> None:
        """The compute thread finished with a job (in ``seconds``): room for one more."""
        self._slots.release()
        with self._changed:
            self._in_hand -= 1
            self._changed.notify_all()
        if seconds:
            self.pace.record("compute", seconds)

    # --- the receive thread --------------------------------------------------------------
    def _run_receiver(self) -> None:
        try:
            while not self.stopping.is_set():
                room, start_now = self._room()
                if room and not self._receive(room, start_now):
                    return
        except Exception as error:
            log.exception("receiving stopped")
            self.error = error
        finally:
            with self._changed:
                self._receiving = False
                self._changed.notify_all()

    def _room(self) -> tuple[int, int]:
        """How many to receive now, and how many of them the worker starts at once (what a
        lower-priority queue may give); ``(0, 0)`` (after a short wait) while enough are in
        hand.

        The next receive starts while a few messages still wait (two, or one when a batch
        is one), so preparing never waits for a long poll, and full batches of 10 keep
        coming when jobs are short. With batches of one, what is in hand never exceeds the
        prefetch slots.
        """
        target = self.pace.batch()
        low = min(2, target)
        with self._changed:
            room = self._capacity + target + low - 2 - self._in_hand
            start_now = self._capacity - self._in_hand
            # With priorities, nothing is received while every slot is busy: a high task
            # received now could not start sooner, and the receive after the next job_done
            # polls the high queue first (a low one waiting then would take the free slot).
            full = self._prioritized and start_now <= 0
            if room <= 0 or len(self._waiting) >= low or full:
                self._changed.wait(_POLL)
                return 0, 0
            return min(MAX_RECEIVE, room), start_now

    def _receive(self, room: int, start_now: int) -> bool:
        """Receive up to ``room`` messages (``start_now`` from a lower-priority queue);
        ``False`` once the run should end."""
        if self.limits.max_jobs is not None:
            if self.received >= self.limits.max_jobs:
                log.info("took %d jobs (--max-jobs); stopping", self.received)
                return False
            room = min(room, self.limits.max_jobs - self.received)
        polled_at = time.monotonic()
        messages = self.jobs.receive(room, self._wait(), max_lower=start_now)
        with self._changed:
            self.received += len(messages)
            self._in_hand += len(messages)
            for message in messages:
                bisect.insort(self._waiting, message, key=_rank)  # after its equals: FIFO
            self._changed.notify_all()
        if messages or self.jobs.held():
            self._idle_since = None
            return True
        self._idle_since = self._idle_since or polled_at
        limit = self.limits.exit_when_idle
        if limit is not None and time.monotonic() - self._idle_since >= limit:
            log.info("the queue stayed empty for %.0f s; stopping", limit)
            return False
        return True

    def _wait(self) -> int:
        """Long-poll seconds: never past the moment the idle limit would be reached."""
        if self.limits.exit_when_idle is None:
            return self.wait_seconds
        idle = 0.0 if self._idle_since is None else time.monotonic() - self._idle_since
        remaining = math.ceil(self.limits.exit_when_idle - idle)
        return min(self.wait_seconds, max(1, remaining))

    # --- the prefetch thread -------------------------------------------------------------
    def _run_preparer(self) -> None:
        try:
            while (message := self._next()) is not None:
                self._prepare(message)
        except Exception as error:  # a bug: stop the run instead of hanging it
            log.exception("preparing stopped")
            self.error = error
            self.stopping.set()
        finally:
            with self._changed:
                self._preparing -= 1
                last = self._preparing == 0
            if last:
                self._receiver.join()  # whatever it still receives goes back below
                while self._waiting:  # received, never prepared: back to the queue at once
                    self.release(self._waiting.pop(0))
                self._put_ready(None)

    def _next(self) -> Received | None:
        """Take a slot and the next message received; ``None`` once no more will come."""
        while not self.stopping.is_set():
            if not self._slots.acquire(timeout=_POLL):
                continue
            with self._changed:
                if not self._waiting and self._receiving:
                    self._changed.wait(_POLL)
                if self._waiting:
                    return self._waiting.pop(0)
                receiving = self._receiving
            self._slots.release()
            if not receiving:
                return None
        return None

    def _prepare(self, message: Received) -> None:
        if self.stopping.is_set():
            self.release(message)
            self.job_done()
            return
        started = time.perf_counter()
        prepared = self.processor.prepare(message)
        self.pace.record("prepare", time.perf_counter() - started)
        if prepared is None:
            self.job_done()
        else:
            self._put_ready(prepared)


def _rank(message: Received) -> int:
    return message.rank


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
