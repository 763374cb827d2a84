"""How many GPU workers the backlog deserves: the decision the Auto Scaling group makes.

The fleet is an EC2 Auto Scaling group (scripts/step-350, step-351). AWS does the scaling; this
module states the same decision as plain functions, so that the bench (bench/bench_fleet.py)
can replay a day of uploads through it and the tests can pin it down:

* **target tracking** on the metric math expression ``backlog ÷ GroupInServiceInstances``
  (backlog = visible messages of the high, normal and low priority queues) with target
  ``JOBS_PER_WORKER`` keeps ``desired = ceil(backlog ÷ JOBS_PER_WORKER)``;
* the expression cannot be computed with no instance in service (a division by zero gives
  no data point, and target tracking does nothing), so a **step policy** on an alarm
  (backlog > 0 while in service = 0) sets the group to at least one instance;
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

import math

__all__ = ["FIRST_STEP", "backlog_target", "desired_capacity"]

# The capacity the step policy sets when work waits and no instance is in service
# (scripts/templates/first-worker-step.json holds the same number).
FIRST_STEP = 1


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


def desired_capacity(backlog: int, in_service: int, jobs_per_worker: int, max_workers: int) -> int:
    """The group's desired capacity for ``backlog`` visible jobs and ``in_service`` workers.

    ``in_service`` matters only at zero: target tracking then has no data point, and the
    step policy sets the group's capacity to :data:`FIRST_STEP` (one instance) as soon as a
    job waits — even when the GPU server drains the queue: the server may be down or busy
    with direct work, and no job may wait for a worker that is never launched. Once that
    instance is in service, target tracking asks for the rest.
    """
    if jobs_per_worker < 1:
        raise ValueError(f"JOBS_PER_WORKER must be 1 or more, got {jobs_per_worker}")
    if max_workers < 0:
        raise ValueError(f"MAX_WORKERS must be 0 or more, got {max_workers}")
    if backlog <= 0:
        return 0
    if in_service <= 0:
        return min(max_workers, FIRST_STEP)
    return min(max_workers, math.ceil(backlog / jobs_per_worker))
