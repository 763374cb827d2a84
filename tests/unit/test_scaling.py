"""The fleet's scaling decision (batch_worker.scaling), as the group's policies make it."""

from __future__ import annotations

import json
import math

import pytest

from batch_worker.scaling import (
    MAX_STEP_ADJUSTMENTS,
    StepAdjustment,
    backlog_target,
    desired_capacity,
    first_worker_steps,
    main,
    step_capacities,
)


def test_no_backlog_means_no_workers() -> None:
    assert desired_capacity(0, 0, 10, 5) == 0
    assert desired_capacity(0, 3, 10, 5) == 0  # the busy ones leave by themselves when idle


def test_backlog_per_instance_follows_the_target() -> None:
    assert desired_capacity(25, 1, 10, 10) == 3
    assert desired_capacity(30, 2, 10, 10) == 3
    assert desired_capacity(1, 4, 10, 10) == 1


def test_from_zero_the_step_policy_starts_the_whole_backlog_at_once() -> None:
    assert desired_capacity(25, 0, 10, 10) == 3  # not 1, then the rest once it is in service
    assert desired_capacity(1, 0, 10, 10) == 1
    assert desired_capacity(10, 0, 10, 10) == 1
    assert desired_capacity(11, 0, 10, 10) == 2
    assert desired_capacity(500, 0, 10, 10) == 10  # MAX_WORKERS
    assert desired_capacity(25, 0, 10, 0) == 0  # MAX_WORKERS=0: the fleet is off


def test_while_the_first_workers_start_no_policy_changes_the_group() -> None:
    # 3 launched for 25 jobs, none in service yet, and the server drained some meanwhile:
    # the step's alarm is OK (5 ≤ 3 × 10) and target tracking has no data point.
    assert desired_capacity(5, 0, 10, 10, launched=3) == 3  # no starting worker is ended
    assert desired_capacity(0, 0, 10, 10, launched=3) == 3
    assert desired_capacity(30, 0, 10, 10, launched=3) == 3


def test_while_the_first_workers_start_a_backlog_that_outgrew_them_adds_workers() -> None:
    assert desired_capacity(31, 0, 10, 10, launched=3) == 4
    assert desired_capacity(90, 0, 10, 10, launched=3) == 9
    assert desired_capacity(900, 0, 10, 10, launched=3) == 10  # MAX_WORKERS
    assert desired_capacity(90, 1, 10, 10, launched=3) == 9  # then target tracking


@pytest.mark.parametrize("jobs_per_worker", [1, 10, 17, 20])
@pytest.mark.parametrize("max_workers", [1, 3, 19, 20])
def test_from_zero_the_steps_give_ceil_backlog_per_worker(
    jobs_per_worker: int, max_workers: int
) -> None:
    for backlog in range(1, (max_workers + 3) * jobs_per_worker):
        want = min(max_workers, math.ceil(backlog / jobs_per_worker))
        assert desired_capacity(backlog, 0, jobs_per_worker, max_workers) == want, backlog


def test_the_steps_are_intervals_of_whole_jobs_relative_to_the_threshold_0() -> None:
    assert first_worker_steps(10, 3) == (
        StepAdjustment(0, 11, 1),  # 1..10 jobs (0 does not raise the alarm)
        StepAdjustment(11, 21, 2),  # 11..20
        StepAdjustment(21, None, 3),  # 21 and more: MAX_WORKERS, open-ended
    )
    assert [s.as_aws() for s in first_worker_steps(10, 2)] == [
        {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 11, "ScalingAdjustment": 1},
        {"MetricIntervalLowerBound": 11, "ScalingAdjustment": 2},
    ]
    assert first_worker_steps(10, 1) == (StepAdjustment(0, None, 1),)
    assert first_worker_steps(10, 0) == (StepAdjustment(0, None, 0),)


@pytest.mark.parametrize("jobs_per_worker", [1, 10, 17])
@pytest.mark.parametrize("max_workers", [0, 1, 2, 19, 20, 21, 40, 100, 1000])
def test_the_steps_follow_aws_rules(jobs_per_worker: int, max_workers: int) -> None:
    """At most 20 steps, from the threshold up with no gap and no overlap, one open-ended
    step (the last, at MAX_WORKERS), ExactCapacity never negative and rising."""
    steps = first_worker_steps(jobs_per_worker, max_workers)
    assert 1 <= len(steps) <= MAX_STEP_ADJUSTMENTS
    assert steps[0].lower == 0
    assert [s.upper for s in steps[:-1]] == [s.lower for s in steps[1:]]
    assert all(s.upper is not None and s.lower < s.upper for s in steps[:-1])
    assert steps[-1].upper is None and steps[-1].capacity == max_workers
    capacities = [s.capacity for s in steps]
    assert capacities == sorted(set(capacities)) and capacities[0] >= 0


@pytest.mark.parametrize("max_workers", [21, 40, 100])
def test_above_20_workers_the_steps_are_coarser_and_round_up(max_workers: int) -> None:
    capacities = step_capacities(max_workers)
    assert len(capacities) == MAX_STEP_ADJUSTMENTS
    assert (capacities[0], capacities[-1]) == (1, max_workers)
    most_extra = math.ceil((max_workers - 1) / (MAX_STEP_ADJUSTMENTS - 1)) - 1
    for backlog in range(1, (max_workers + 2) * 10):
        exact = min(max_workers, math.ceil(backlog / 10))
        extra = desired_capacity(backlog, 0, 10, max_workers) - exact
        assert 0 <= extra <= most_extra, backlog
    assert desired_capacity(1, 0, 10, max_workers) == 1  # one job still starts one worker


def test_the_command_line_prints_the_policy_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["first-worker-steps", "10", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == [s.as_aws() for s in first_worker_steps(10, 2)]
    with pytest.raises(SystemExit, match="JOBS_PER_WORKER must be 1 or more"):
        main(["first-worker-steps", "0", "2"])
    with pytest.raises(SystemExit, match="usage"):
        main(["first-worker-steps", "10"])


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
        (lambda: first_worker_steps(0, 3), "JOBS_PER_WORKER"),
        (lambda: backlog_target(0, 30), "BATCH_LATENCY_TARGET_SECONDS"),
        (lambda: backlog_target(900, 30, -1), "startup seconds"),
    ],
)
def test_bad_settings_are_named(call: object, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        call()  # type: ignore[operator]
