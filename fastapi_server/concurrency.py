"""Transcription slots: at most ``CONCURRENCY`` run at once, off the event loop; at most
``MAX_PENDING`` wait; beyond that a request is refused at once with 503 and ``Retry-After``.

The wait budget behind ``/health``'s ``busy`` flag
-------------------------------------------------
``busy`` answers the router's question "would a request sent now start within
``BUSY_WAIT_SECONDS``?" It is ``true`` when

* the waiting line is full (``pending >= MAX_PENDING``: a new request would get a 503), or
* every slot is taken and the *estimated wait* is at least ``BUSY_WAIT_SECONDS``.

The estimated wait is the time until the earliest running transcription should finish
(the running mean of recent slot times minus how long it has run) plus one mean for every
``CONCURRENCY`` requests already waiting. Until a first transcription has finished the
mean is unknown and the wait counts as unbounded. With the default budget of 0 seconds,
``busy`` is simply "no slot is free now": the router sends work directly only when it can
start at once, and queues it for the batch worker otherwise.

All bookkeeping happens on the event loop thread, so it needs no locks; the work itself
runs in a thread pool of exactly ``CONCURRENCY`` threads.

Several models (``MODELS``): :class:`ModelSlots` keeps one ``Slots`` per model, each with
that model's limit and its own waiting line of ``MAX_PENDING``, so a busy model never makes
requests for another one wait. ``/health`` reports the default model's slots: the router
sends the default model's work, so its question is about those.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi_server.exceptions import ServerBusy

__all__ = ["Load", "ModelSlots", "Slots"]

T = TypeVar("T")

UNKNOWN_RETRY_AFTER = 5.0  # seconds, before any transcription has finished
MAX_RETRY_AFTER = 120.0
EWMA_WEIGHT = 0.3  # weight of the newest slot time in the running mean


@dataclass(frozen=True)
class Load:
    """A snapshot of the slots, as /health and /metrics report it."""

    capacity: int
    in_flight: int
    pending: int
    max_pending: int
    estimated_wait: float  # seconds until a new request could start (inf: unknown)
    wait_budget: float
    busy: bool


class Slots:
    def __init__(self, capacity: int, max_pending: int, wait_budget: float = 0.0) -> None:
        if capacity < 1:
            raise ValueError("CONCURRENCY must be at least 1")
        self.capacity = capacity
        self.max_pending = max(0, max_pending)
        self.wait_budget = wait_budget
        self._executor = ThreadPoolExecutor(max_workers=capacity, thread_name_prefix="transcribe")
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._started: dict[int, float] = {}  # slot holder id → monotonic start
        self._mean: float | None = None  # running mean of slot seconds
        self._next_id = 0

    # --- state -------------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def pending(self) -> int:
        return len(self._waiters)

    def estimated_wait(self) -> float:
        if self._in_flight < self.capacity and not self._waiters:
            return 0.0
        if self._mean is None:
            return math.inf
        now = time.monotonic()
        soonest = min((self._mean - (now - t) for t in self._started.values()), default=0.0)
        return max(0.0, soonest) + (len(self._waiters) // self.capacity) * self._mean

    def load(self) -> Load:
        wait = self.estimated_wait()
        free = self._in_flight < self.capacity and not self._waiters
        full = self._in_flight >= self.capacity and len(self._waiters) >= self.max_pending
        return Load(
            capacity=self.capacity,
            in_flight=self._in_flight,
            pending=len(self._waiters),
            max_pending=self.max_pending,
            estimated_wait=wait,
            wait_budget=self.wait_budget,
            busy=not free and (full or wait >= self.wait_budget),
        )

    def retry_after(self) -> float:
        wait = self.estimated_wait()
        if math.isinf(wait):
            return UNKNOWN_RETRY_AFTER
        return min(max(wait, 1.0), MAX_RETRY_AFTER)

    def check_admission(self) -> None:
        """Raise :class:`ServerBusy` if a request arriving now would be refused.

        Routes call this before reading an upload, so a full server does not take in a
        large body only to refuse it.
        """
        if self._in_flight >= self.capacity and len(self._waiters) >= self.max_pending:
            raise ServerBusy(self.retry_after())

    # --- running -----------------------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a slot's thread, waiting in line if needed.

        The caller's context variables (request id, log keys) go with it. If the caller is
        cancelled while the work runs, the slot stays taken until the thread finishes.
        """
        await self._acquire()
        holder = self._next_id
        self._next_id += 1
        self._started[holder] = time.monotonic()
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        future = loop.run_in_executor(self._executor, context.run, fn, *args)
        future.add_done_callback(lambda _: self._release(holder))
        return await asyncio.shield(future)

    async def _acquire(self) -> None:
        if self._in_flight < self.capacity and not self._waiters:
            self._in_flight += 1
            return
        if len(self._waiters) >= self.max_pending:
            raise ServerBusy(self.retry_after())
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # _release hands its slot over: in_flight stays counted
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._hand_over()  # granted a slot just as the caller went away
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _release(self, holder: int) -> None:
        started = self._started.pop(holder, None)
        if started is not None:
            seconds = time.monotonic() - started
            self._mean = (
                seconds
                if self._mean is None
                else (EWMA_WEIGHT * seconds + (1 - EWMA_WEIGHT) * self._mean)
            )
        self._hand_over()

    def _hand_over(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._in_flight -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class ModelSlots:
    """One :class:`Slots` per model name, made at start from the models' limits."""

    def __init__(
        self, limits: dict[str, int], default: str, max_pending: int, wait_budget: float = 0.0
    ) -> None:
        self.by_model = {
            name: Slots(limit, max_pending, wait_budget) for name, limit in limits.items()
        }
        self.default = self.by_model[default]

    def __getitem__(self, model: str) -> Slots:
        return self.by_model[model]

    @property
    def in_flight(self) -> int:
        return sum(s.in_flight for s in self.by_model.values())

    @property
    def pending(self) -> int:
        return sum(s.pending for s in self.by_model.values())

    @property
    def capacity(self) -> int:
        return sum(s.capacity for s in self.by_model.values())

    def check_admission(self) -> None:
        """Before a form says which model it wants: refuse only if no model could take it."""
        refusals: list[ServerBusy] = []
        for slots in self.by_model.values():
            try:
                slots.check_admission()
            except ServerBusy as busy:
                refusals.append(busy)
            else:
                return
        raise min(refusals, key=lambda busy: float(busy.headers["Retry-After"]))

    def shutdown(self) -> None:
        for slots in self.by_model.values():
            slots.shutdown()
