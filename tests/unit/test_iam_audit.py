"""The IAM audit's parts (tests/support/iam_audit.py): boto operation → IAM action, which
component a call belongs to, and the policy check, on recorded calls made up here."""

from __future__ import annotations

import json

import pytest

from tests.support.iam_audit import (
    COMPONENTS,
    POLICIES,
    Call,
    allowed_actions,
    attribute,
    check,
    iam_actions,
    named_resources,
)

NAMES = {
    "PARTITION": "aws",
    "AWS_REGION": "us-east-1",
    "ACCOUNT_ID": "123456789012",
    "PROJECT_NAME": "p",
    "AUDIO_BUCKET": "p-audio",
    "OUTPUT_BUCKET": "p-audio",
    "INPUT_PREFIX": "audio/",
    "OUTPUT_PREFIX": "transcripts/",
    "OVERFLOW_PREFIX": "overflow/",
    "JOBS_QUEUE_NAME": "p-jobs",
    "JOBS_HIGH_QUEUE_NAME": "p-jobs-high",
    "JOBS_LOW_QUEUE_NAME": "p-jobs-low",
    "DLQ_NAME": "p-jobs-dlq",
    "ROUTER_FAILURES_NAME": "p-router-failures",
    "EVENTS_QUEUE_NAME": "p-events",
    "ROUTER_NAME": "p-router",
    "SERVER_URL_PARAMETER": "/p/server-url",
    "API_KEYS_PARAMETER": "/p/api-keys",
    "SERVER_REPOSITORY_NAME": "p/fastapi-server",
    "WORKER_REPOSITORY_NAME": "p/batch-worker",
    "WORKER_GROUP_NAME": "p-workers",
    "JOBS_TABLE_PREFIX": "p",
    "JOBS_API_NAME": "p-jobs-api",
    "JOBS_TRACKER_NAME": "p-jobs-tracker",
    "JOBS_WEBHOOKS_NAME": "p-jobs-webhooks",
    "WEBHOOK_QUEUE_NAME": "p-webhooks",
    "JOBS_ADMIN_KEY_PARAMETER": "/p/jobs-admin-key",
    "JOBS_EVENT_BUS": "default",
}
TRANSACTION = {
    "TransactItems": [
        {"Update": {"TableName": "p-jobs", "Key": {}}},
        {"Put": {"TableName": "p-jobs", "Item": {}}},
    ]
}
QUEUE = "http://127.0.0.1:5055/123456789012/"


@pytest.mark.parametrize(
    ("service", "operation", "params", "actions"),
    [
        ("s3", "HeadObject", {}, ("s3:GetObject",)),
        ("s3", "HeadObject", {"VersionId": "v1"}, ("s3:GetObjectVersion",)),
        ("s3", "GetObject", {}, ("s3:GetObject",)),
        ("s3", "PutObject", {}, ("s3:PutObject",)),
        ("s3", "PutObject", {"Tagging": "record=error"}, ("s3:PutObject", "s3:PutObjectTagging")),
        ("s3", "ListObjectsV2", {}, ("s3:ListBucket",)),
        ("s3", "HeadBucket", {}, ("s3:ListBucket",)),
        ("s3", "DeleteObjects", {}, ("s3:DeleteObject",)),
        ("sqs", "SendMessageBatch", {}, ("sqs:SendMessage",)),
        ("sqs", "ChangeMessageVisibilityBatch", {}, ("sqs:ChangeMessageVisibility",)),
        ("sqs", "ReceiveMessage", {}, ("sqs:ReceiveMessage",)),
        ("ssm", "GetParameter", {"WithDecryption": True}, ("ssm:GetParameter",)),
        ("ec2", "StartInstances", {}, ("ec2:StartInstances",)),
        ("sts", "GetCallerIdentity", {}, ()),
        # a transaction needs the single-item action of each of its writes, no action of its own
        (
            "dynamodb",
            "TransactWriteItems",
            TRANSACTION,
            ("dynamodb:PutItem", "dynamodb:UpdateItem"),
        ),
        ("dynamodb", "BatchWriteItem", {}, ("dynamodb:BatchWriteItem",)),
        ("events", "PutEvents", {}, ("events:PutEvents",)),
    ],
)
def test_boto_operations_map_to_the_iam_actions_they_need(
    service: str, operation: str, params: dict[str, str], actions: tuple[str, ...]
) -> None:
    assert iam_actions(service, operation, params) == actions


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        # innermost first: the caller is the component's innermost frame
        (
            [
                "botocore.client",
                "transcription.store",
                "batch_worker.consumer",
                "batch_worker.worker",
                "tests.t",
            ],
            ("worker", "batch_worker.consumer"),
        ),
        # the router run in-process by the local pump or by replay is still the router
        (
            [
                "transcription.store",
                "lambda_router.router",
                "lambda_router.handler",
                "lambda_router.pump",
            ],
            ("router", "lambda_router.router"),
        ),
        (["lambda_router.router", "lambda_router.replay"], ("router", "lambda_router.router")),
        # their own calls (the events queue, the failure queue) are the operator's
        (["botocore.client", "lambda_router.pump", "threading"], (None, "")),
        (["lambda_router.replay", "tests.t"], (None, "")),
        # a test's own call through the core is nobody's
        (["transcription.store", "tests.integration.test_x"], (None, "")),
        (["fastapi_server.service", "starlette.routing"], ("server", "fastapi_server.service")),
        # the jobs API's three functions share handler.py, the edge of all three
        (
            ["jobs_api.dynamo", "jobs_api.store", "jobs_api.tracker", "jobs_api.handler"],
            ("jobs-tracker", "jobs_api.dynamo"),
        ),
        (
            ["jobs_api.webhooks.sender", "jobs_api.handler"],
            ("jobs-webhooks", "jobs_api.webhooks.sender"),
        ),
        (["jobs_api.completion", "jobs_api.api.routes.jobs"], ("jobs-api", "jobs_api.completion")),
        (["jobs_api.tables", "tests.t"], (None, "")),  # tests and the local stack make tables
    ],
)
def test_a_call_belongs_to_the_outermost_deployed_component(
    stack: list[str], expected: tuple[str | None, str]
) -> None:
    assert attribute(iter(stack)) == expected


def sqs_call(component: str, operation: str, queue: str) -> Call:
    actions = iam_actions("sqs", operation, {})
    return Call(component, "sqs", operation, actions, component, (("QueueUrl", QUEUE + queue),))


def test_a_granted_action_on_another_resource_is_refused() -> None:
    """The worker's policy grants sqs:SendMessage on the jobs queue; its sends to the DLQ
    (malformed jobs) need their own grant — the defect this check was written for."""
    to_jobs = sqs_call("worker", "SendMessage", "p-jobs")
    to_dlq = sqs_call("worker", "SendMessage", "p-jobs-dlq")
    assert check([to_jobs, to_dlq], NAMES) == []
    elsewhere = sqs_call("worker", "SendMessage", "someone-elses-queue")
    [problem] = check([elsewhere], NAMES)
    assert "sqs:SendMessage on arn:aws:sqs:us-east-1:123456789012:someone-elses-queue" in problem
    assert "scripts/policies/worker-policy.json" in problem
    assert check([elsewhere]) == []  # without names: the action alone is granted


def test_an_action_no_statement_grants_is_refused_even_without_names() -> None:
    [problem] = check([sqs_call("router", "DeleteMessage", "p-jobs")])
    assert problem.startswith("router calls sqs DeleteMessage")
    assert "needs sqs:DeleteMessage: scripts/policies/router-policy.json" in problem


def test_s3_objects_are_matched_by_prefix() -> None:
    def put(key: str) -> Call:
        params = (("Bucket", "p-audio"), ("Key", key))
        return Call("router", "s3", "PutObject", ("s3:PutObject",), "r", params)

    assert check([put("transcripts/a.wav.error.json")], NAMES) == []
    assert check([put("overflow/tickets/overflow-1.json")], NAMES) == []
    [problem] = check([put("audio/a.wav")], NAMES)  # the router only reads the audio
    assert "arn:aws:s3:::p-audio/audio/a.wav" in problem


def test_every_component_has_a_policy_whose_actions_are_well_formed() -> None:
    for component in {c for c in COMPONENTS.values() if c}:
        actions = allowed_actions(component)
        assert actions and all(a.count(":") == 1 for a in actions), component
        rendered = (POLICIES / f"{component}-policy.json").read_text()
        assert json.loads(rendered)["Version"] == "2012-10-17"


def test_the_worker_may_manage_its_own_group_only() -> None:
    """SetInstanceProtection and CompleteLifecycleAction name the group: the worker's policy
    grants them on $PROJECT_NAME-workers alone."""

    def protect(group: str) -> Call:
        actions = iam_actions("autoscaling", "SetInstanceProtection", {})
        params = (("AutoScalingGroupName", group),)
        return Call("worker", "autoscaling", "SetInstanceProtection", actions, "worker", params)

    assert check([protect("p-workers")], NAMES) == []
    [problem] = check([protect("someone-elses-group")], NAMES)
    assert "autoScalingGroupName/someone-elses-group" in problem


def dynamodb_call(component: str, operation: str, params: dict[str, object]) -> Call:
    actions = iam_actions("dynamodb", operation, params)
    return Call(
        component, "dynamodb", operation, actions, component, named_resources("dynamodb", params)
    )


def test_dynamodb_calls_are_checked_on_their_tables_and_indexes() -> None:
    """Each table of a call counts, those of batch writes and transactions too."""
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/"
    assert check([dynamodb_call("jobs-api", "TransactWriteItems", TRANSACTION)], NAMES) == []
    [problem] = check([dynamodb_call("jobs-tracker", "TransactWriteItems", TRANSACTION)], NAMES)
    assert f"dynamodb:PutItem on {table}p-jobs" in problem  # the tracker only updates
    batch = {"RequestItems": {"p-jobs": [], "p-audit": []}}
    [problem] = check([dynamodb_call("jobs-api", "BatchWriteItem", batch)], NAMES)
    assert f"dynamodb:BatchWriteItem on {table}p-jobs, {table}p-audit" in problem
    by_owner = {"TableName": "p-jobs", "IndexName": "by_owner"}
    assert check([dynamodb_call("jobs-api", "Query", by_owner)], NAMES) == []
    [problem] = check([dynamodb_call("jobs-tracker", "Query", by_owner)], NAMES)
    assert f"{table}p-jobs/index/by_owner" in problem
    other = {"TableName": "someone-elses", "Key": {}}
    [problem] = check([dynamodb_call("jobs-webhooks", "GetItem", other)], NAMES)
    assert "jobs-webhooks-policy.json" in problem


def test_events_are_checked_on_their_bus() -> None:
    def put(bus: str | None) -> Call:
        entry = {"Source": "s"} if bus is None else {"Source": "s", "EventBusName": bus}
        params = named_resources("events", {"Entries": [entry]})
        return Call("jobs-tracker", "events", "PutEvents", ("events:PutEvents",), "t", params)

    assert check([put(None), put("default")], NAMES) == []
    [problem] = check([put("another-bus")], NAMES)
    assert "event-bus/another-bus" in problem
