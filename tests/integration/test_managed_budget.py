"""The overflow's monthly budget on moto's S3: conditional writes keep racing routers honest."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from transcription.managed import BudgetSpent
from transcription.managed.budget import MonthlyBudget
from transcription.managed.names import OverflowKeys
from transcription.objects import S3Objects

DECEMBER = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


def budget(s3: Any, bucket: str, limit: float, when: datetime = DECEMBER) -> MonthlyBudget:
    return MonthlyBudget(S3Objects(s3), bucket, OverflowKeys(), limit, clock=lambda: when)


def test_racing_reservations_never_pass_the_budget(s3: Any, bucket: str) -> None:
    def reserve(_: int) -> str:
        try:
            budget(s3, bucket, 0.75).reserve(0.25)  # each its own budget: separate routers
        except BudgetSpent:
            return "refused"
        return "reserved"

    with ThreadPoolExecutor(6) as pool:
        outcomes = sorted(pool.map(reserve, range(6)))
    assert outcomes == ["refused"] * 3 + ["reserved"] * 3
    body = s3.get_object(Bucket=bucket, Key="overflow/budget/2026-12.json")["Body"].read()
    assert json.loads(body) == {"month": "2026-12", "minutes": 0.75, "jobs": 3}


def test_each_month_has_its_own_counter_and_a_release_gives_minutes_back(
    s3: Any, bucket: str
) -> None:
    december = budget(s3, bucket, 1.0)
    december.reserve(1.0)
    with pytest.raises(BudgetSpent, match="OVERFLOW_MAX_MINUTES_PER_MONTH=1"):
        december.reserve(0.25)
    december.release(0.5)
    assert december.usage().minutes == 0.5 and december.usage().jobs == 0
    january = budget(s3, bucket, 1.0, datetime(2027, 1, 1, tzinfo=UTC))
    assert january.reserve(1.0).month == "2027-01"
