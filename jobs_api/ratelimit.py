"""Requests per minute per key and route, counted in DynamoDB so every Lambda instance shares them.

A fixed one-minute window: one conditional ``UpdateItem`` per request adds 1 to the counter
``<key_id>#<route>#<minute>`` unless it already reached the quota; then the answer is 429 with
``Retry-After`` (seconds to the next window). Counters expire by TTL after two minutes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from jobs_api.dynamo import Dynamo
from jobs_api.exceptions import ConditionFailed, RateLimited

__all__ = ["RateLimiter"]

WINDOW_SECONDS = 60


class RateLimiter:
    def __init__(
        self,
        dynamo: Dynamo,
        table: str,
        default_quota: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dynamo = dynamo
        self.table = table
        self.default_quota = default_quota
        self.clock = clock

    def take(self, key_id: str, route: str, quota: int | None = None) -> None:
        """Count one request; :class:`RateLimited` when the window's quota is used up."""
        limit = quota or self.default_quota
        if limit <= 0:
            return  # rate limiting off
        now = self.clock()
        window = int(now // WINDOW_SECONDS)
        try:
            self.dynamo.update(
                self.table,
                {"pk": f"{key_id}#{route}#{window}"},
                "ADD n :one SET expires_at = :exp",
                condition="attribute_not_exists(n) OR n < :limit",
                values={":one": 1, ":limit": limit, ":exp": (window + 2) * WINDOW_SECONDS},
            )
        except ConditionFailed:
            retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
            raise RateLimited(retry_after) from None
