"""The month's overflow minutes: one S3 counter object per month, updated conditionally.

``$OVERFLOW_PREFIX budget/<YYYY-MM>.json`` holds ``{"month", "minutes", "jobs"}``. A reservation
reads it (GET, with its ETag) and writes the new total with ``If-Match`` that ETag, or with
``If-None-Match: *`` when the month has no counter yet: two routers reserving at once cannot
both spend the last minutes, because the loser's write fails (412/409) and it reads again
(bounded retries). The total never passes ``OVERFLOW_MAX_MINUTES_PER_MONTH``: a reservation
that would is refused with :class:`BudgetSpent`, and nothing is written.

Minutes are reserved when a job starts, as Transcribe bills them (at least the 15 s minimum
per job, from the planner's figures) and from the audio's estimated length; a job that could
not be started gives its minutes back (:meth:`MonthlyBudget.release`), and the collector
replaces the estimate by the billed length of the transcript (:meth:`MonthlyBudget.correct`,
in the month it collects: the minutes are spent whether or not that passes the budget).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from transcription.exceptions import ConditionFailed
from transcription.managed.exceptions import BudgetSpent
from transcription.managed.names import OverflowKeys
from transcription.objects import S3Objects

__all__ = ["MonthlyBudget", "Usage"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Usage:
    month: str
    minutes: float
    jobs: int


class MonthlyBudget:
    def __init__(
        self,
        objects: S3Objects,
        bucket: str,
        keys: OverflowKeys,
        max_minutes: float,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.objects = objects
        self.bucket = bucket
        self.keys = keys
        self.max_minutes = max_minutes
        self.clock = clock or (lambda: datetime.now(UTC))

    def usage(self) -> Usage:
        """The month's minutes and jobs so far (0 when the month has no counter yet)."""
        return self._read(self.clock())[0]

    def reserve(self, minutes: float) -> Usage:
        """Add ``minutes`` (one job) to the month; :class:`BudgetSpent` if it would pass."""
        return self._change(minutes, 1)

    def release(self, minutes: float) -> Usage:
        """Give back a reservation whose job did not start."""
        return self._change(-minutes, -1)

    def correct(self, minutes: float) -> Usage:
        """Replace an estimate by what was billed: add ``minutes`` (negative: fewer), no limit."""
        return self._change(minutes, 0, enforce=False)

    @retry(
        retry=retry_if_exception_type(ConditionFailed),
        stop=stop_after_attempt(8),
        wait=wait_random_exponential(multiplier=0.05, max=1),
        before_sleep=before_sleep_log(log, logging.INFO),
        reraise=True,
    )
    def _change(self, minutes: float, jobs: int, *, enforce: bool = True) -> Usage:
        when = self.clock()
        usage, etag = self._read(when)
        total = round(usage.minutes + minutes, 4)
        if enforce and minutes > 0 and total > self.max_minutes:
            raise BudgetSpent(
                f"{usage.minutes:.1f} of OVERFLOW_MAX_MINUTES_PER_MONTH="
                f"{self.max_minutes:g} minutes spent in {usage.month}; "
                f"{minutes:.2f} more would pass it"
            )
        changed = Usage(usage.month, max(0.0, total), max(0, usage.jobs + jobs))
        body = json.dumps(changed.__dict__).encode()
        self.objects.put(
            self.bucket,
            self.keys.budget(when),
            body,
            "application/json",
            if_none_match=etag is None,
            if_match=etag,
        )
        return changed

    def _read(self, when: datetime) -> tuple[Usage, str | None]:
        month = f"{when:%Y-%m}"
        got = self.objects.get(self.bucket, self.keys.budget(when))
        if got is None:
            return Usage(month, 0.0, 0), None
        data: dict[str, Any] = json.loads(got.body)
        return Usage(month, float(data.get("minutes", 0)), int(data.get("jobs", 0))), got.head.etag
