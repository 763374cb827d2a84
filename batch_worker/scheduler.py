"""The scheduler: a Lambda run by an EventBridge schedule that starts worker boxes on backlog.

Each run reads the visible and in-flight counts of the jobs queues (``QUEUE_URL``, and
``QUEUE_URL_HIGH``/``QUEUE_URL_LOW`` when set: a batch job's tasks may be on those alone)
and computes::

    backlog = Σ ApproximateNumberOfMessages + ApproximateNumberOfMessagesNotVisible
    desired = min(MAX_WORKERS, ceil(backlog / JOBS_PER_WORKER))

Worker boxes are the EC2 instances tagged ``WORKER_TAG_KEY=WORKER_TAG_VALUE`` (default
``Role=batch-worker``) and ``Project=$PROJECT_NAME``. Boxes already pending or running count
toward ``desired``: the scheduler starts ``desired − active`` of the stopped ones, so a
schedule that fires every minute while a backlog lasts never starts more than
``MAX_WORKERS`` boxes in all. It never stops one: a worker stops its own box through
``--exit-when-idle`` and the instance's shutdown behaviour.

This module is light on purpose (boto3 and the light core only): it runs as a Lambda.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from batch_worker.settings import SchedulerSettings
from transcription.aws import client
from transcription.aws_errors import error_code
from transcription.logging import configure
from transcription.settings import load

__all__ = ["ScalingDecision", "desired_workers", "lambda_handler", "scale"]

log = logging.getLogger(__name__)

ACTIVE_STATES = ("pending", "running")
# Starting this one instance failed, but another may start: try the next.
_SKIP_INSTANCE = frozenset(
    {"InsufficientInstanceCapacity", "IncorrectInstanceState", "IncorrectState"}
)


@dataclass(frozen=True)
class ScalingDecision:
    visible: int
    in_flight: int
    backlog: int
    desired: int
    active: list[str]  # pending or running workers, counted toward desired (looked up
    # only when desired > 0: with no backlog there is nothing to decide)
    started: list[str]


def desired_workers(backlog: int, jobs_per_worker: int, max_workers: int) -> int:
    return min(max_workers, math.ceil(backlog / jobs_per_worker))


def queue_counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes.get("ApproximateNumberOfMessages", 0)),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )


def worker_instances(ec2: Any, settings: SchedulerSettings) -> dict[str, list[str]]:
    """Worker instance ids by state (pending, running, stopping, stopped), sorted."""
    filters = [
        {"Name": f"tag:{settings.worker_tag_key}", "Values": [settings.worker_tag_value]},
        {"Name": "tag:Project", "Values": [settings.project_name]},
        {"Name": "instance-state-name", "Values": [*ACTIVE_STATES, "stopping", "stopped"]},
    ]
    by_state: dict[str, list[str]] = {}
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                by_state.setdefault(instance["State"]["Name"], []).append(instance["InstanceId"])
    return {state: sorted(ids) for state, ids in by_state.items()}


def start_instances(ec2: Any, candidates: list[str], count: int) -> list[str]:
    """Start up to ``count`` of ``candidates`` one by one, passing over any that will not."""
    started: list[str] = []
    for instance_id in candidates:
        if len(started) >= count:
            break
        try:
            ec2.start_instances(InstanceIds=[instance_id])
        except ClientError as error:
            code = error_code(error)
            if code not in _SKIP_INSTANCE:
                raise
            log.warning("could not start %s (%s); trying the next", instance_id, code)
            continue
        started.append(instance_id)
    return started


def scale(sqs: Any, ec2: Any, settings: SchedulerSettings) -> ScalingDecision:
    counts = [queue_counts(sqs, url) for url in settings.queue_urls]
    visible, in_flight = sum(c[0] for c in counts), sum(c[1] for c in counts)
    backlog = visible + in_flight
    desired = desired_workers(backlog, settings.jobs_per_worker, settings.max_workers)
    instances = worker_instances(ec2, settings) if desired else {}
    active = [i for state in ACTIVE_STATES for i in instances.get(state, [])]
    missing = max(0, desired - len(active))
    started = start_instances(ec2, instances.get("stopped", []), missing) if missing else []
    if len(started) < missing:
        log.warning("wanted %d more workers, started %d", missing, len(started))
    decision = ScalingDecision(visible, in_flight, backlog, desired, active, started)
    log.info("scaling decision", extra={"fields": asdict(decision)})
    return decision


@functools.cache
def _configure_logging() -> None:
    """Once per Lambda container: JSON lines on stderr, which Lambda sends to CloudWatch."""
    configure("batch-scheduler")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge schedule → :func:`scale`. The event carries nothing the scheduler needs."""
    _configure_logging()
    settings = load(SchedulerSettings)
    return asdict(scale(client("sqs"), client("ec2"), settings))
