"""The time budget of one invocation, from Lambda's ``context.get_remaining_time_in_millis()``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULT_REMAINING_MS", "Deadline"]

# Without a Lambda context (a direct call in a script): as long as Lambda's maximum.
DEFAULT_REMAINING_MS = 900_000


class Deadline:
    def __init__(self, remaining_ms: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.at = clock() + remaining_ms / 1000

    @classmethod
    def from_context(cls, context: Any) -> Deadline:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return cls(remaining() if callable(remaining) else DEFAULT_REMAINING_MS)

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.at - self.clock())
