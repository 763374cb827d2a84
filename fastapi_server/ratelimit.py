"""Token buckets, in process, one per key: an empty bucket answers 429 with ``Retry-After``.

The server keeps two limiters: per API key (``RATE_LIMIT_BURST`` requests at once, refilled
at ``RATE_LIMIT_PER_MINUTE``), and per client address for requests without a valid key
(``UNAUTHENTICATED_RATE_LIMIT_BURST`` / ``UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE``), so
guessing keys is slow. ``/health`` needs no key and is never limited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter"]

MAX_BUCKETS = 10_000  # anonymous mode keys buckets by client address; keep the map bounded


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = max(1, burst)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float | None:
        """Take one token for ``key``: ``None`` when allowed, else seconds until one is back."""
        if not self.enabled:
            return None
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled completely (they hold no information)."""
        if len(self._buckets) < MAX_BUCKETS:
            return
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= MAX_BUCKETS:  # still full: drop the oldest
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            for key in oldest[: len(oldest) // 2]:
                del self._buckets[key]
