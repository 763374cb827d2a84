"""The fleet's scaling decision (batch_worker.scaling), as the group's policies make it."""

from __future__ import annotations

import pytest

from batch_worker.scaling import FIRST_STEP, backlog_target, desired_capacity


def test_no_backlog_means_no_workers() -> None:
    assert desired_capacity(0, 0, 10, 5) == 0
    assert desired_capacity(0, 3, 10, 5) == 0  # the busy ones leave by themselves when idle


def test_backlog_per_instance_follows_the_target() -> None:
    assert desired_capacity(25, 1, 10, 10) == 3
    assert desired_capacity(30, 2, 10, 10) == 3
    assert desired_capacity(1, 4, 10, 10) == 1


def test_from_zero_the_step_rule_starts_the_first_worker() -> None:
    assert FIRST_STEP == 1
    assert desired_capacity(25, 0, 10, 10) == 1
    assert desired_capacity(1, 0, 10, 10) == 1
    assert desired_capacity(25, 0, 10, 0) == 0  # MAX_WORKERS=0: the fleet is off


@pytest.mark.parametrize("backlog", [1, 9, 10, 11, 99, 1000, 10**6])
@pytest.mark.parametrize("in_service", [0, 1, 4, 40])
def test_never_above_max_workers(backlog: int, in_service: int) -> None:
    assert 0 <= desired_capacity(backlog, in_service, 10, 4) <= 4


def test_the_target_follows_the_latency_target_and_the_job_time() -> None:
    # 15-minute target, 5-minute recordings at a realtime factor of 0.1 (30 s a job).
    assert backlog_target(900, 300 * 0.1) == 30
    assert backlog_target(10, 60) == 1  # a job longer than the target: one at a time


def test_the_target_leaves_time_for_a_new_worker_to_start() -> None:
    # The same, when a worker asked for takes its first job 2 minutes later (the alarm's
    # minute, a warm start) or 5 minutes later (a cold boot).
    assert backlog_target(900, 30, startup_seconds=120) == 26
    assert backlog_target(900, 30, startup_seconds=300) == 20
    assert backlog_target(900, 30, startup_seconds=2000) == 1  # never below one job


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: desired_capacity(5, 1, 0, 3), "JOBS_PER_WORKER"),
        (lambda: desired_capacity(5, 1, 10, -1), "MAX_WORKERS"),
        (lambda: backlog_target(0, 30), "BATCH_LATENCY_TARGET_SECONDS"),
        (lambda: backlog_target(900, 30, -1), "startup seconds"),
    ],
)
def test_bad_settings_are_named(call: object, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        call()  # type: ignore[operator]
