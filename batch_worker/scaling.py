"""How many GPU workers the backlog deserves: the decision the Auto Scaling group makes.

The fleet is an EC2 Auto Scaling group (scripts/step-350, step-351). AWS does the scaling; this
module states the same decision as plain functions, so that the bench (bench/bench_fleet.py)
can replay a day of uploads through it and the tests can pin it down:

* **target tracking** on the metric math expression ``backlog ÷ GroupInServiceInstances``
  (backlog = visible messages of the high, normal and low priority queues) with target
  ``JOBS_PER_WORKER`` keeps ``desired = ceil(backlog ÷ JOBS_PER_WORKER)``;
* the expression cannot be computed with no instance in service (a division by zero gives
  no data point, and target tracking does nothing), so a **step policy** on an alarm
  (backlog > 0 while in service = 0; threshold 0) sets the group at once to
  ``ceil(backlog ÷ JOBS_PER_WORKER)`` instances: one ExactCapacity step adjustment per
  capacity, the intervals of whole jobs derived by :func:`first_worker_steps` (rendered
  into the policy by step-351). Starting only one and leaving the rest to target tracking
  once it is in service costs a second start (two cold boots without a warm pool);
* never above ``MAX_WORKERS`` (the group's MaxSize), never below 0 (its MinSize).

The target follows from what users accept and what a worker does: a job waits for the jobs
queued ahead of it on its instance, and, when its arrival makes the group scale out, for the
new instance to take its first job (``startup_seconds``: the alarm's one-minute evaluation
plus the start — about a minute from the warm pool, four or more cold). So with
``mean_job_seconds`` = mean audio seconds × measured realtime factor (processing ÷ audio
seconds, the worker's ``realtime_factor`` metric),
``JOBS_PER_WORKER = (BATCH_LATENCY_TARGET_SECONDS − startup_seconds) ÷ mean_job_seconds``
(:func:`backlog_target`).

Light on purpose: the standard library only.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass

__all__ = [
    "MAX_STEP_ADJUSTMENTS",
    "StepAdjustment",
    "backlog_target",
    "desired_capacity",
    "first_worker_steps",
    "step_capacities",
]

# AWS's quota of step adjustments in one step scaling policy (EC2 Auto Scaling: fixed).
MAX_STEP_ADJUSTMENTS = 20


@dataclass(frozen=True)
class StepAdjustment:
    """One step of the first-worker policy: set the group to ``capacity`` instances
    (ExactCapacity) when the alarm's metric, the visible jobs, is at least ``lower`` and
    below ``upper`` (``None``: no upper bound). AWS takes the bounds relative to the alarm's
    threshold, 0 here, so they are job counts; above the threshold the lower bound is
    inclusive and the upper bound exclusive."""

    lower: int
    upper: int | None
    capacity: int

    def holds(self, backlog: int) -> bool:
        return self.lower <= backlog and (self.upper is None or backlog < self.upper)

    def as_aws(self) -> dict[str, int]:
        """The item of the policy's ``StepAdjustments`` (PutScalingPolicy)."""
        step = {"MetricIntervalLowerBound": self.lower}
        if self.upper is not None:
            step["MetricIntervalUpperBound"] = self.upper
        step["ScalingAdjustment"] = self.capacity
        return step


def _check(jobs_per_worker: int, max_workers: int) -> None:
    if jobs_per_worker < 1:
        raise ValueError(f"JOBS_PER_WORKER must be 1 or more, got {jobs_per_worker}")
    if max_workers < 0:
        raise ValueError(f"MAX_WORKERS must be 0 or more, got {max_workers}")


def step_capacities(max_workers: int) -> list[int]:
    """The capacities the first-worker policy sets: 1, 2, … ``max_workers`` while they fit
    in :data:`MAX_STEP_ADJUSTMENTS` steps (0 alone when the fleet is off). Above 20 workers
    the steps are coarser: 1 (one job waiting starts one worker), then 19 capacities spread
    evenly up to ``max_workers``; a backlog between two of them gets the larger one, at most
    ceil((max_workers − 1) ÷ 19) − 1 workers more than ceil(backlog ÷ JOBS_PER_WORKER)
    (they take jobs too; target tracking trims the group once workers are in service)."""
    if max_workers <= MAX_STEP_ADJUSTMENTS:
        return list(range(1, max_workers + 1)) or [0]
    gaps = MAX_STEP_ADJUSTMENTS - 1
    return [1 + k * (max_workers - 1) // gaps for k in range(MAX_STEP_ADJUSTMENTS)]


def first_worker_steps(jobs_per_worker: int, max_workers: int) -> tuple[StepAdjustment, ...]:
    """The step adjustments of the first-worker policy (step-351 renders them): from no
    worker in service the group goes at once to ceil(backlog ÷ ``jobs_per_worker``)
    instances, ``max_workers`` at most. A capacity c after the capacity b below it covers
    the backlogs of b × J + 1 to c × J whole jobs: the interval [b × J + 1, c × J + 1); the
    first starts at 0 (the alarm's threshold), the last (``max_workers``) has no upper
    bound. No gap, no overlap, at most :data:`MAX_STEP_ADJUSTMENTS`: AWS's rules."""
    _check(jobs_per_worker, max_workers)
    capacities = step_capacities(max_workers)
    steps, lower = [], 0
    for capacity in capacities[:-1]:
        upper = capacity * jobs_per_worker + 1
        steps.append(StepAdjustment(lower, upper, capacity))
        lower = upper
    steps.append(StepAdjustment(lower, None, capacities[-1]))
    return tuple(steps)


def backlog_target(
    latency_target_seconds: float, mean_job_seconds: float, startup_seconds: float = 0.0
) -> int:
    """Jobs one worker may have queued so that the last of them starts within the target,
    once a worker asked for has needed ``startup_seconds`` to take its first job."""
    if latency_target_seconds <= 0:
        raise ValueError(f"BATCH_LATENCY_TARGET_SECONDS must be > 0, got {latency_target_seconds}")
    if mean_job_seconds <= 0:
        raise ValueError(f"mean job seconds must be > 0, got {mean_job_seconds}")
    if startup_seconds < 0:
        raise ValueError(f"startup seconds must be 0 or more, got {startup_seconds}")
    budget = latency_target_seconds - startup_seconds
    return max(1, math.floor(budget / mean_job_seconds))


def desired_capacity(
    backlog: int,
    in_service: int,
    jobs_per_worker: int,
    max_workers: int,
    *,
    launched: int | None = None,
) -> int:
    """The group's desired capacity for ``backlog`` visible jobs, ``in_service`` workers and
    ``launched`` workers in all (in service or still starting; default ``in_service``).

    With no worker in service target tracking has no data point, and the first-worker step
    policy (:func:`first_worker_steps`) sets the capacity for the whole backlog at once as
    soon as more jobs wait than the launched workers take (``jobs_per_worker`` each; from
    zero: one job) — even when the GPU server drains the queue: the server may be down or
    busy with direct work, and no job may wait for a worker that is never launched. Its
    alarm fires only for such a backlog, so while the first workers start the exact capacity
    only grows: a backlog that shrinks meanwhile never ends a starting worker. Once workers
    are in service, target tracking follows the backlog.
    """
    _check(jobs_per_worker, max_workers)
    launched = in_service if launched is None else launched
    if in_service <= 0:
        if backlog <= launched * jobs_per_worker:
            return launched  # the alarm is OK: nothing acts
        steps = first_worker_steps(jobs_per_worker, max_workers)
        return next(step.capacity for step in steps if step.holds(backlog))
    if backlog <= 0:
        return 0
    return min(max_workers, math.ceil(backlog / jobs_per_worker))


def main(argv: list[str]) -> int:
    """``python -m batch_worker.scaling first-worker-steps JOBS_PER_WORKER MAX_WORKERS``:
    the first-worker policy's ``StepAdjustments`` as JSON (step-351 puts them)."""
    usage = "usage: python -m batch_worker.scaling first-worker-steps JOBS_PER_WORKER MAX_WORKERS"
    if len(argv) != 3 or argv[0] != "first-worker-steps":
        raise SystemExit(usage)
    try:
        steps = first_worker_steps(int(argv[1]), int(argv[2]))
    except ValueError as error:
        raise SystemExit(f"{error}\n{usage}") from None
    sys.stdout.write(json.dumps([step.as_aws() for step in steps], separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
