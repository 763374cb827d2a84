"""The batch jobs' deploy steps (step-020's new queues, step-360/361, step-375) on moto's server.

As ``test_deploy_scripts.py`` runs the whole deployment, this module runs the steps the
jobs API adds, in local mode against a moto server of its own, in order: they make what the
resource contract names (boto3 checks it), a second run changes nothing, the validate steps
pass and catch drift, which the create step repairs; a job result's "Object Created" event
reaches the result-events queue, and other transcripts' do not.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from jobs_api.tables import TableNames, table_definitions
from tests.support.deploy_steps import Deployment, local_deployment, step_env
from tests.support.processes import moto_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ACCOUNT = "123456789012"  # moto's
REGION = "us-east-1"
STEPS = ["000", "020", "030", "360", "375"]
PREFIX = "jobs-it"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("jobs-deploy")
    project = f"jt{uuid.uuid4().hex[:8]}"
    with moto_server(log_path=work / "moto.log") as url:
        env = step_env(
            work, url, project, JOBS_TABLE_PREFIX=f"{PREFIX}-{project}", WEBHOOK_MAX_ATTEMPTS="4"
        )
        yield local_deployment(work, url, project, "", env)


def queue_attributes(d: Deployment, name: str) -> dict[str, Any]:
    sqs = d.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def tables(d: Deployment) -> TableNames:
    return TableNames.from_prefix(d.env["JOBS_TABLE_PREFIX"])


def test_the_steps_make_the_queues_tables_and_rule(deployment: Deployment) -> None:
    d, p = deployment, deployment.project
    d.run_ok(STEPS, "first run")
    values = d.values()

    jobs = queue_attributes(d, f"{p}-jobs")
    same = ("VisibilityTimeout", "ReceiveMessageWaitTimeSeconds", "MessageRetentionPeriod")
    for name in (f"{p}-jobs-high", f"{p}-jobs-low"):
        attributes = queue_attributes(d, name)
        assert {k: attributes[k] for k in same} == {k: jobs[k] for k in same}
        assert json.loads(attributes["RedrivePolicy"]) == json.loads(jobs["RedrivePolicy"])
    webhooks = json.loads(queue_attributes(d, f"{p}-webhooks")["RedrivePolicy"])
    assert webhooks["deadLetterTargetArn"].endswith(f":{p}-webhooks-dlq")
    assert int(webhooks["maxReceiveCount"]) == 4  # WEBHOOK_MAX_ATTEMPTS
    policy = json.loads(queue_attributes(d, f"{p}-result-events")["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(f"rule/{p}-job-results")
    for name, queue in (
        ("QUEUE_URL_HIGH", "jobs-high"),
        ("QUEUE_URL_LOW", "jobs-low"),
        ("WEBHOOK_QUEUE_URL", "webhooks"),
        ("WEBHOOK_DLQ_URL", "webhooks-dlq"),
        ("RESULT_EVENTS_QUEUE_URL", "result-events"),
    ):
        assert values[name].endswith(f"/{ACCOUNT}/{p}-{queue}"), name

    dynamodb = d.client("dynamodb")
    for definition in table_definitions(tables(d)):
        table = dynamodb.describe_table(TableName=definition["TableName"])["Table"]
        assert table["KeySchema"] == definition["KeySchema"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        indexes = {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == {
            i["IndexName"]: i["KeySchema"] for i in definition.get("GlobalSecondaryIndexes", [])
        }
        ttl = dynamodb.describe_time_to_live(TableName=definition["TableName"])
        described = ttl["TimeToLiveDescription"]
        if definition["ttl"]:
            assert described["TimeToLiveStatus"] == "ENABLED"
            assert described["AttributeName"] == definition["ttl"]
        else:
            assert described["TimeToLiveStatus"] == "DISABLED"

    events = d.client("events")
    pattern = json.loads(events.describe_rule(Name=f"{p}-job-results")["EventPattern"])
    assert pattern["detail"]["object"]["key"] == [{"prefix": "transcripts/jobs/"}]
    (target,) = events.list_targets_by_rule(Rule=f"{p}-job-results")["Targets"]
    assert target["Arn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{p}-result-events"


def test_a_job_result_reaches_the_result_events_queue_and_nothing_else_does(
    deployment: Deployment,
) -> None:
    d = deployment
    s3, sqs = d.client("s3"), d.client("sqs")
    url = d.values()["RESULT_EVENTS_QUEUE_URL"]
    job_key = f"transcripts/jobs/{uuid.uuid4().hex}/a.json"
    s3.put_object(Bucket=d.bucket, Key="transcripts/plain/talk.wav.json", Body=b"{}")
    s3.put_object(Bucket=d.bucket, Key=job_key, Body=b"{}")
    keys = []
    for _ in range(3):
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10)
        for message in messages.get("Messages", []):
            keys.append(json.loads(message["Body"])["detail"]["object"]["key"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert keys == [job_key]


def test_a_second_run_changes_nothing(deployment: Deployment) -> None:
    before = deployment.config.read_text()
    results = deployment.run_ok(STEPS[1:], "second run")
    assert [r.changes for r in results] == [[] for _ in results]
    assert deployment.config.read_text() == before


def test_the_validate_steps_pass_then_catch_drift_that_the_create_step_repairs(
    deployment: Deployment,
) -> None:
    d = deployment
    d.run_ok(["021", "361"], "validate")
    names = tables(d)
    d.client("dynamodb").delete_table(TableName=names.rates)
    dlq_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{d.project}-webhooks-dlq"
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "9"}
    d.client("sqs").set_queue_attributes(
        QueueUrl=d.values()["WEBHOOK_QUEUE_URL"], Attributes={"RedrivePolicy": json.dumps(redrive)}
    )
    tables_check = d.step("361")
    queues_check = d.step("021")
    assert tables_check.returncode != 0 and f"DRIFT: table {names.rates} does not exist" in (
        tables_check.stderr
    )
    assert queues_check.returncode != 0 and f"queue {d.project}-webhooks" in queues_check.stderr
    d.run_ok(["360", "020"], "repair")
    d.run_ok(["021", "361"], "validate again")


def test_a_table_with_other_keys_stops_the_create_step(deployment: Deployment) -> None:
    d = deployment
    names = tables(d)
    dynamodb = d.client("dynamodb")
    dynamodb.delete_table(TableName=names.keys)
    dynamodb.create_table(
        TableName=names.keys,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    result = d.step("360")
    assert result.returncode != 0
    assert f"table {names.keys} exists with other keys" in result.stderr
    assert "JOBS_TABLE_PREFIX" in result.stderr
