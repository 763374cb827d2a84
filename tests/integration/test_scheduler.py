"""The scheduler against moto's EC2 and SQS over HTTP: it starts tagged, stopped workers only.

Every test tags its instances with a project name of its own, so instances left in the
shared moto server by other tests are never among the candidates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from batch_worker.scheduler import desired_workers, lambda_handler, scale
from batch_worker.settings import SchedulerSettings
from tests.conftest import unique
from transcription import aws
from transcription.settings import AwsSettings

IMAGE_ID = "ami-12c6146b"  # one of the images moto's EC2 has in every region


@pytest.fixture
def ec2(aws_client: Any) -> Any:
    return aws_client("ec2")


@pytest.fixture
def project() -> str:
    return unique("proj")


class Fleet:
    """Instances made in moto's EC2, in the state and with the tags a test needs."""

    def __init__(self, ec2: Any, project: str) -> None:
        self.ec2 = ec2
        self.project = project

    def make(self, state: str, **tags: str) -> str:
        tagging = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
        response = self.ec2.run_instances(
            ImageId=IMAGE_ID,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            **({"TagSpecifications": tagging} if tags else {}),
        )
        instance_id = str(response["Instances"][0]["InstanceId"])
        if state == "stopped":
            self.ec2.stop_instances(InstanceIds=[instance_id])
        return instance_id

    def worker(self, state: str) -> str:
        return self.make(state, Role="batch-worker", Project=self.project)

    def states(self, *ids: str) -> list[str]:
        found = {
            i["InstanceId"]: i["State"]["Name"]
            for r in self.ec2.describe_instances(InstanceIds=list(ids))["Reservations"]
            for i in r["Instances"]
        }
        return [found[i] for i in ids]


@pytest.fixture
def fleet(ec2: Any, project: str) -> Fleet:
    return Fleet(ec2, project)


def backlog(sqs: Any, queue_url: str, visible: int, in_flight: int) -> None:
    for i in range(visible + in_flight):
        sqs.send_message(QueueUrl=queue_url, MessageBody=f"job {i}")
    taken = 0
    while taken < in_flight:
        taken += len(
            sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=in_flight - taken, VisibilityTimeout=600
            ).get("Messages", [])
        )


def settings_for(aws_settings: AwsSettings, queue_url: str, project: str) -> SchedulerSettings:
    return SchedulerSettings(
        aws=aws_settings,
        queue_url=queue_url,
        max_workers=2,
        jobs_per_worker=3,
        project_name=project,
    )


@pytest.mark.parametrize(
    ("backlog_size", "per_worker", "most", "expected"),
    [(0, 3, 2, 0), (1, 3, 2, 1), (3, 3, 5, 1), (4, 3, 5, 2), (7, 3, 2, 2), (100, 10, 4, 4)],
)
def test_desired_workers(backlog_size: int, per_worker: int, most: int, expected: int) -> None:
    assert desired_workers(backlog_size, per_worker, most) == expected


def test_no_backlog_starts_nothing(
    fleet: Fleet, ec2: Any, sqs: Any, queue_url: str, aws_settings: AwsSettings, project: str
) -> None:
    stopped = [fleet.worker("stopped"), fleet.worker("stopped")]

    decision = scale(sqs, ec2, settings_for(aws_settings, queue_url, project))

    assert (decision.backlog, decision.desired, decision.started) == (0, 0, [])
    assert fleet.states(*stopped) == ["stopped", "stopped"]


def test_backlog_of_7_starts_exactly_2_stopped_tagged_workers_and_nothing_else(
    fleet: Fleet, ec2: Any, sqs: Any, queue_url: str, aws_settings: AwsSettings, project: str
) -> None:
    workers = [fleet.worker("stopped") for _ in range(3)]
    others = [
        fleet.make("running"),  # untagged, running
        fleet.make("stopped"),  # untagged, stopped
        fleet.make("stopped", Role="batch-worker", Project=unique("other")),  # another project
        fleet.make("stopped", Role="gpu-server", Project=project),  # another role
    ]
    backlog(sqs, queue_url, visible=5, in_flight=2)

    decision = scale(sqs, ec2, settings_for(aws_settings, queue_url, project))

    assert (decision.visible, decision.in_flight, decision.backlog) == (5, 2, 7)
    assert decision.desired == 2
    assert len(decision.started) == 2
    assert set(decision.started) < set(workers)
    assert sorted(fleet.states(*workers)) == ["running", "running", "stopped"]
    assert fleet.states(*others) == ["running", "stopped", "stopped", "stopped"]


def test_the_backlog_of_the_high_and_low_queues_counts_too(
    fleet: Fleet, ec2: Any, sqs: Any, queue_url: str, aws_settings: AwsSettings, project: str
) -> None:
    workers = [fleet.worker("stopped") for _ in range(2)]
    high, low = (sqs.create_queue(QueueName=unique(n))["QueueUrl"] for n in ("high", "low"))
    backlog(sqs, high, visible=2, in_flight=1)
    backlog(sqs, low, visible=1, in_flight=0)
    settings = replace(
        settings_for(aws_settings, queue_url, project), queue_url_high=high, queue_url_low=low
    )

    decision = scale(sqs, ec2, settings)

    assert (decision.visible, decision.in_flight, decision.backlog) == (3, 1, 4)
    assert decision.desired == 2  # nothing on QUEUE_URL: the others alone call for boxes
    assert sorted(decision.started) == sorted(workers)


def test_running_workers_count_toward_desired_and_are_never_stopped(
    fleet: Fleet, ec2: Any, sqs: Any, queue_url: str, aws_settings: AwsSettings, project: str
) -> None:
    running = fleet.worker("running")
    stopped = [fleet.worker("stopped"), fleet.worker("stopped")]
    settings = settings_for(aws_settings, queue_url, project)
    backlog(sqs, queue_url, visible=7, in_flight=0)

    first = scale(sqs, ec2, settings)
    again = scale(sqs, ec2, settings)  # the next tick of the schedule, same backlog

    assert (first.desired, first.active, len(first.started)) == (2, [running], 1)
    assert again.started == []
    assert sorted(again.active) == sorted([running, *first.started])
    assert sorted(fleet.states(running, *stopped)) == ["running", "running", "stopped"]

    sqs.purge_queue(QueueUrl=queue_url)
    assert scale(sqs, ec2, settings).started == []
    assert fleet.states(running, *first.started) == ["running", "running"]


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """The handler configures the root logger (as in Lambda); give pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_lambda_handler_reads_its_settings_from_the_environment(
    keep_logging: None,
    fleet: Fleet,
    sqs: Any,
    queue_url: str,
    project: str,
    aws_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workers = [fleet.worker("stopped") for _ in range(2)]
    backlog(sqs, queue_url, visible=1, in_flight=0)
    for name, value in {
        "QUEUE_URL": queue_url,
        "PROJECT_NAME": project,
        "MAX_WORKERS": "5",
    }.items():
        monkeypatch.setenv(name, value)
    aws.client.cache_clear()  # the Lambda's cached clients: build them from this environment

    result = lambda_handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)

    assert result["backlog"] == 1
    assert result["started"] == [workers[0]] or result["started"] == [workers[1]]
    assert sorted(fleet.states(*workers)) == ["running", "stopped"]
