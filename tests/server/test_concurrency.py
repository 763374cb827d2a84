"""Transcription slots: the limits, the waiting line, the busy flag, and cancellation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from fastapi_server.concurrency import Slots
from fastapi_server.exceptions import ServerBusy


def blocker() -> tuple[threading.Event, Callable[[], str]]:
    release = threading.Event()

    def work() -> str:
        release.wait(5)
        return "done"

    return release, work


def test_at_most_capacity_run_and_at_most_max_pending_wait() -> None:
    async def scenario() -> None:
        slots = Slots(capacity=2, max_pending=1)
        release, work = blocker()
        running = [asyncio.create_task(slots.run(work)) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert (slots.in_flight, slots.pending) == (2, 1)
        with pytest.raises(ServerBusy) as refused:
            await slots.run(work)
        assert int(refused.value.headers["Retry-After"]) >= 1
        with pytest.raises(ServerBusy):
            slots.check_admission()
        release.set()
        assert await asyncio.gather(*running) == ["done"] * 3
        assert (slots.in_flight, slots.pending) == (0, 0)
        slots.shutdown()

    asyncio.run(scenario())


def test_busy_means_no_slot_free_with_the_default_budget() -> None:
    async def scenario() -> None:
        slots = Slots(capacity=1, max_pending=3, wait_budget=0.0)
        assert slots.load().busy is False
        release, work = blocker()
        task = asyncio.create_task(slots.run(work))
        await asyncio.sleep(0.05)
        load = slots.load()
        assert load.busy is True
        assert load.estimated_wait == float("inf")  # nothing has finished yet: unknown
        release.set()
        await task
        assert slots.load().busy is False
        slots.shutdown()

    asyncio.run(scenario())


def test_a_wait_budget_lets_work_queue_when_it_would_start_soon_enough() -> None:
    async def scenario() -> None:
        slots = Slots(capacity=1, max_pending=2, wait_budget=30.0)
        await slots.run(time.sleep, 0.05)  # teaches the running mean (~0.05 s)
        release, work = blocker()
        first = asyncio.create_task(slots.run(work))
        await asyncio.sleep(0.01)
        assert slots.load().busy is False  # taken, but expected free well within 30 s
        second = asyncio.create_task(slots.run(work))
        await asyncio.sleep(0.01)
        assert slots.load().busy is False  # one waits: still within the budget
        third = asyncio.create_task(slots.run(work))
        await asyncio.sleep(0.01)
        assert slots.load().busy is True  # the waiting line is full: a new one gets 503
        release.set()
        await asyncio.gather(first, second, third)
        slots.shutdown()

    asyncio.run(scenario())


def test_a_cancelled_caller_keeps_its_slot_until_the_work_ends() -> None:
    async def scenario() -> None:
        slots = Slots(capacity=1, max_pending=0)
        release, work = blocker()
        task = asyncio.create_task(slots.run(work))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.05)
        assert slots.in_flight == 1  # the thread still runs: the slot is still taken
        with pytest.raises(ServerBusy):
            await slots.run(work)
        release.set()
        await asyncio.sleep(0.1)
        assert slots.in_flight == 0
        slots.shutdown()

    asyncio.run(scenario())


def test_a_cancelled_waiter_leaves_the_line() -> None:
    async def scenario() -> None:
        slots = Slots(capacity=1, max_pending=1)
        release, work = blocker()
        first = asyncio.create_task(slots.run(work))
        await asyncio.sleep(0.02)
        waiting = asyncio.create_task(slots.run(work))
        await asyncio.sleep(0.02)
        assert slots.pending == 1
        waiting.cancel()
        await asyncio.sleep(0.02)
        assert slots.pending == 0
        release.set()
        await first
        assert slots.in_flight == 0
        slots.shutdown()

    asyncio.run(scenario())
