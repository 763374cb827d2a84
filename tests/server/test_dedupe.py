"""In-flight de-duplication: one run per key, shared by every caller."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from fastapi_server.dedupe import InFlight


def test_callers_for_one_key_share_one_run_and_other_keys_run_apart() -> None:
    async def scenario() -> None:
        runs: list[str] = []
        gate = asyncio.Event()
        in_flight: InFlight[str] = InFlight()

        def start(key: str) -> Callable[[], Awaitable[str]]:
            async def run() -> str:
                runs.append(key)
                await gate.wait()
                return f"result of {key}"

            return run

        calls = [asyncio.create_task(in_flight.run("a", start("a"))) for _ in range(5)]
        other = asyncio.create_task(in_flight.run("b", start("b")))
        await asyncio.sleep(0.01)
        gate.set()
        results = await asyncio.gather(*calls)
        assert runs == ["a", "b"]
        assert [r for r, _ in results] == ["result of a"] * 5
        assert sorted(joined for _, joined in results) == [False, True, True, True, True]
        assert (await other)[0] == "result of b"
        assert len(in_flight) == 0
        assert (await in_flight.run("a", start("a")))[1] is False  # finished: a new run
        assert runs == ["a", "b", "a"]

    asyncio.run(scenario())


def test_an_error_reaches_every_caller_and_a_gone_caller_does_not_cancel_the_run() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        in_flight: InFlight[str] = InFlight()

        async def failing() -> str:
            await gate.wait()
            raise ValueError("bad audio")

        first = asyncio.create_task(in_flight.run("k", failing))
        second = asyncio.create_task(in_flight.run("k", failing))
        await asyncio.sleep(0.01)
        first.cancel()  # the first caller goes away
        await asyncio.sleep(0.01)
        gate.set()
        with pytest.raises(ValueError, match="bad audio"):
            await second
        assert first.cancelled()

    asyncio.run(scenario())
