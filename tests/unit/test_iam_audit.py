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
    "JOBS_QUEUE_NAME": "p-jobs",
    "JOBS_HIGH_QUEUE_NAME": "p-jobs-high",
    "JOBS_LOW_QUEUE_NAME": "p-jobs-low",
    "DLQ_NAME": "p-jobs-dlq",
    "ROUTER_FAILURES_NAME": "p-router-failures",
    "EVENTS_QUEUE_NAME": "p-events",
    "ROUTER_NAME": "p-router",
    "SCHEDULER_NAME": "p-scheduler",
    "SERVER_URL_PARAMETER": "/p/server-url",
    "API_KEYS_PARAMETER": "/p/api-keys",
    "SERVER_REPOSITORY_NAME": "p/fastapi-server",
    "WORKER_REPOSITORY_NAME": "p/batch-worker",
    "WORKER_TAG_KEY": "Role",
    "WORKER_TAG_VALUE": "batch-worker",
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
    ],
)
def test_boto_operations_map_to_the_iam_actions_they_need(
    service: str, operation: str, params: dict[str, str], actions: tuple[str, ...]
) -> None:
    assert iam_actions(service, operation, params) == actions


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        # innermost first: the worker calling a scheduler helper runs with the worker's role
        (
            [
                "botocore.client",
                "transcription.store",
                "batch_worker.scheduler",
                "batch_worker.worker",
                "tests.t",
            ],
            ("worker", "batch_worker.scheduler"),
        ),
        (["batch_worker.scheduler", "tests.t"], ("scheduler", "batch_worker.scheduler")),
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
    [problem] = check([sqs_call("scheduler", "SendMessage", "p-jobs")])
    assert problem.startswith("scheduler calls sqs SendMessage")
    assert "needs sqs:SendMessage: scripts/policies/scheduler-policy.json" in problem


def test_s3_objects_are_matched_by_prefix() -> None:
    def put(key: str) -> Call:
        params = (("Bucket", "p-audio"), ("Key", key))
        return Call("router", "s3", "PutObject", ("s3:PutObject",), "r", params)

    assert check([put("transcripts/a.wav.error.json")], NAMES) == []
    [problem] = check([put("transcripts/a.wav.json")], NAMES)  # the router writes no transcript
    assert "arn:aws:s3:::p-audio/transcripts/a.wav.json" in problem


def test_every_component_has_a_policy_whose_actions_are_well_formed() -> None:
    for component in {c for c in COMPONENTS.values() if c}:
        actions = allowed_actions(component)
        assert actions and all(a.count(":") == 1 for a in actions), component
        rendered = (POLICIES / f"{component}-policy.json").read_text()
        assert json.loads(rendered)["Version"] == "2012-10-17"
