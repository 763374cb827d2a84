"""In-flight de-duplication: one run per key at a time; later callers share its result.

``/transcribe-s3`` keys runs by output object (``bucket/key``): a second request for the
same transcript while the first is running waits for the first's result (or its error)
instead of running the model again. The run is a task of its own, so a caller that goes
away does not cancel the work the others wait for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["InFlight"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class InFlight(Generic[T]):
    def __init__(self) -> None:
        self._runs: dict[str, asyncio.Task[T]] = {}

    def __len__(self) -> int:
        return len(self._runs)

    async def run(self, key: str, start: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The result of the run for ``key``, starting ``start()`` if none is running.

        Returns ``(result, joined)``: ``joined`` is true when this caller shared a run that
        another request had started.
        """
        task = self._runs.get(key)
        joined = task is not None
        if task is None:
            task = asyncio.ensure_future(start())
            self._runs[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        else:
            log.info("joining the transcription already running for %s", key)
        return await asyncio.shield(task), joined

    def _finished(self, key: str, task: asyncio.Task[T]) -> None:
        if self._runs.get(key) is task:
            del self._runs[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an error nobody awaits is not reported twice
