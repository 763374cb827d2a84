"""Every AWS call a component makes while the tests run must be allowed by its IAM policy.

moto does not enforce IAM, so a call the code makes but the role's policy
(``scripts/policies/<component>-policy.json``) does not grant passes every test here and
fails with AccessDenied on AWS. This plugin closes that gap:

- :func:`install` wraps ``botocore.session.Session.create_client`` so every client, however
  it is built (``transcription.aws.make_client`` builds them all), reports each call
  through botocore's ``before-parameter-build`` event (it carries the call's own arguments);
- each call is attributed to the component that runs it, i.e. whose role it runs with: the
  outermost frame of the calling thread's stack that belongs to a deployed component
  (:data:`COMPONENTS`). The
  core (``transcription``), botocore, libraries, tests and local stand-ins are looked
  through: the router run in-process by the event pump or by replay is the router, while
  the pump's and replay's own calls (on the operator's credentials) are nobody's;
- work a component hands to a thread pool runs on a stack without the component's frames:
  :func:`as_component` wraps an ASGI app so its requests (and the threads they start, which
  inherit context variables) count as that component's;
- after each test, :func:`check` maps every attributed call to the IAM actions it needs
  (:func:`iam_actions`; a DynamoDB transaction needs the single-item action of each of its
  writes) and fails the test, naming the action and the policy file, when the component's
  policy does not allow it.

Everywhere, only actions are compared: the tests' buckets and queues have random names while
the policies name the deployment's. ``tests/integration/test_iam_policies.py`` runs each
component on resources named as a deployment names them and also checks every call's
resource ARN against the rendered policy (``check(calls, names=...)``): buckets and keys,
queues, parameters, functions, DynamoDB tables and indexes (those of batch and transaction
calls too) and event buses. Components started as
subprocesses (``python -m fastapi_server``) are outside this process and not recorded.
"""

from __future__ import annotations

import contextvars
import fnmatch
import json
import string
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest

__all__ = [
    "COMPONENTS",
    "Call",
    "allowed_actions",
    "as_component",
    "attribute",
    "check",
    "iam_actions",
    "install",
    "named_resources",
    "recorded_since",
]

POLICIES = Path(__file__).resolve().parents[2] / "scripts" / "policies"
# Inline policies step-010 adds to a component's role only when a feature is on: the router's
# router-overflow (OVERFLOW=transcribe). The tests run the features, so they count as granted.
FEATURE_POLICIES: Mapping[str, tuple[str, ...]] = {"router": ("router-overflow",)}

# Module prefix → the component (its policy file), or None: looked through (not deployed with
# a role of its own). The longest matching prefix wins; modules matching none are looked
# through too (the core, botocore, tenacity, threading, starlette, tests...).
COMPONENTS: Mapping[str, str | None] = {
    "lambda_router": "router",
    "lambda_router.pump": None,  # the local stand-in for EventBridge → Lambda
    "lambda_router.replay": None,  # an operator's tool: runs with the operator's credentials
    "lambda_router.package": None,
    "local_stack.jobs_pump": None,  # the local stand-in for the jobs Lambdas' triggers
    "batch_worker": "worker",  # the worker and `python -m batch_worker redrive` on its box
    "fastapi_server": "server",
    "jobs_api": "jobs-api",
    "jobs_api.handler": None,
    "jobs_api.tables": None,
    "jobs_api.package": None,
    "jobs_api.tracker": "jobs-tracker",
    "jobs_api.webhooks.sender": "jobs-webhooks",
}

# boto operations whose IAM action is not "<service>:<Operation>".
SPECIAL_ACTIONS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",),
    ("s3", "CopyObject"): ("s3:GetObject", "s3:PutObject"),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("s3", "GetBucketNotificationConfiguration"): ("s3:GetBucketNotification",),
    ("s3", "PutBucketNotificationConfiguration"): ("s3:PutBucketNotification",),
    ("s3", "GetBucketEncryption"): ("s3:GetEncryptionConfiguration",),
    ("s3", "PutBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "GetBucketLifecycleConfiguration"): ("s3:GetLifecycleConfiguration",),
    ("s3", "PutBucketLifecycleConfiguration"): ("s3:PutLifecycleConfiguration",),
    ("sqs", "SendMessageBatch"): ("sqs:SendMessage",),
    ("sqs", "DeleteMessageBatch"): ("sqs:DeleteMessage",),
    ("sqs", "ChangeMessageVisibilityBatch"): ("sqs:ChangeMessageVisibility",),
    ("sts", "GetCallerIdentity"): (),  # needs no permission
}
# botocore's service name → IAM's service prefix, where they differ.
IAM_PREFIX = {"monitoring": "cloudwatch", "cloudwatch": "cloudwatch"}


# A DynamoDB transaction needs no action of its own: each of its writes needs the action of
# the single-item call it stands for.
TRANSACT_WRITE_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def iam_actions(service: str, operation: str, params: Mapping[str, Any]) -> tuple[str, ...]:
    """The IAM actions one boto call needs (``params``: the call's arguments)."""
    if (service, operation) == ("dynamodb", "TransactWriteItems"):
        kinds = {kind for item in params.get("TransactItems", []) for kind in item}
        return tuple(sorted(TRANSACT_WRITE_ACTIONS[k] for k in kinds))
    actions = SPECIAL_ACTIONS.get((service, operation))
    if actions is None:
        actions = (f"{IAM_PREFIX.get(service, service)}:{operation}",)
    if service == "s3" and params.get("VersionId"):  # reading a version is its own action
        actions = tuple(a.replace("s3:GetObject", "s3:GetObjectVersion") for a in actions)
    if service == "s3" and operation in {"PutObject", "CopyObject"} and params.get("Tagging"):
        actions += ("s3:PutObjectTagging",)  # a PUT that sets tags needs both
    return actions


# The parameters that name a call's resource.
RESOURCE_PARAMS = (
    "Bucket",
    "Key",
    "QueueUrl",
    "QueueName",
    "Name",
    "InstanceIds",
    "FunctionName",
    "AutoScalingGroupName",
    "TranscriptionJobName",
)


def named_resources(service: str, params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The resource names nested in a call's arguments: DynamoDB's tables (and index) of a
    single, batch or transaction call, and the event buses of ``PutEvents``."""
    if service == "dynamodb":
        tables = [params["TableName"]] if "TableName" in params else []
        tables += list(params.get("RequestItems", {}))
        writes = [w for item in params.get("TransactItems", []) for w in item.values()]
        tables += [w["TableName"] for w in writes]
        index = (("IndexName", params["IndexName"]),) if "IndexName" in params else ()
        return (("Tables", tuple(dict.fromkeys(tables))), *index)
    if service == "events" and "Entries" in params:
        buses = [e.get("EventBusName") or "default" for e in params["Entries"]]
        return (("EventBuses", tuple(dict.fromkeys(buses))),)
    return ()


@dataclass(frozen=True)
class Call:
    component: str
    service: str
    operation: str
    actions: tuple[str, ...]
    caller: str  # the component module that made it, for the message
    params: tuple[tuple[str, Any], ...] = ()  # the RESOURCE_PARAMS it was given

    def resources(self, region: str, account: str, partition: str = "aws") -> list[str]:
        """The ARNs of what the call touches (``*`` when it names nothing)."""
        p = dict(self.params)
        prefix = f"arn:{partition}:{self.service}:{region}:{account}"
        if self.service == "s3" and "Bucket" in p:
            key = f"/{p['Key']}" if "Key" in p else ""
            return [f"arn:{partition}:s3:::{p['Bucket']}{key}"]
        if self.service == "sqs" and ("QueueUrl" in p or "QueueName" in p):
            name = p.get("QueueName") or str(p["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
            return [f"{prefix}:{name}"]
        if self.service == "ssm" and "Name" in p:
            return [f"{prefix}:parameter/{str(p['Name']).lstrip('/')}"]
        if self.service == "ec2" and p.get("InstanceIds"):
            return [f"{prefix}:instance/{i}" for i in p["InstanceIds"]]
        if self.service == "autoscaling" and "AutoScalingGroupName" in p:
            # A group's ARN holds a UUID; policies name it with a wildcard in its place.
            group = p["AutoScalingGroupName"]
            return [f"{prefix}:autoScalingGroup:*:autoScalingGroupName/{group}"]
        if self.service == "lambda" and "FunctionName" in p:
            name = str(p["FunctionName"])
            return [name if name.startswith("arn:") else f"{prefix}:function:{name}"]
        if self.service == "transcribe" and "TranscriptionJobName" in p:
            return [f"{prefix}:transcription-job/{p['TranscriptionJobName']}"]
        if self.service == "dynamodb" and p.get("Tables"):
            index = f"/index/{p['IndexName']}" if "IndexName" in p else ""
            return [f"{prefix}:table/{table}{index}" for table in p["Tables"]]
        if self.service == "events" and p.get("EventBuses"):
            return [
                bus if bus.startswith("arn:") else f"{prefix}:event-bus/{bus}"
                for bus in p["EventBuses"]
            ]
        return ["*"]


_calls: list[Call] = []
_lock = threading.Lock()
_installed = False
_acting_as: contextvars.ContextVar[str | None] = contextvars.ContextVar("acting_as", default=None)

Asgi = Callable[[Any, Any, Any], Awaitable[None]]


def as_component(app: Asgi, component: str) -> Asgi:
    """``app``, whose requests' calls count as ``component``'s even from worker threads."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        token = _acting_as.set(component)
        try:
            await app(scope, receive, send)
        finally:
            _acting_as.reset(token)

    return wrapped


def attribute(modules: Iterator[str]) -> tuple[str | None, str]:
    """The component of the outermost module (``modules``: innermost first) that maps to
    one, and the innermost such module (where the call is made); ``(None, "")`` if none."""
    component: str | None = None
    caller = ""
    for module in modules:
        matches = [p for p in COMPONENTS if module == p or module.startswith(p + ".")]
        if matches and COMPONENTS[max(matches, key=len)] is not None:
            component = COMPONENTS[max(matches, key=len)]
            caller = caller or module
    return component, caller


def _stack_modules() -> Iterator[str]:
    """The calling thread's modules, innermost first (this module's own frames left out)."""
    frame: Any = sys._getframe()
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module != __name__:
            yield module
        frame = frame.f_back


def _record(model: Any, params: Mapping[str, Any], **_: Any) -> None:
    component, caller = attribute(_stack_modules())
    if component is None:
        component, caller = _acting_as.get(), "a thread of its requests"
    if component is None:
        return
    service = str(model.service_model.service_name)
    params = params or {}
    call = Call(
        component,
        service,
        str(model.name),
        iam_actions(service, model.name, params),
        caller,
        (
            *((k, params[k]) for k in RESOURCE_PARAMS if k in params),
            *named_resources(service, params),
        ),
    )
    with _lock:
        _calls.append(call)


def install() -> None:
    """Record the calls of every botocore client created from now on (idempotent)."""
    global _installed
    if _installed:
        return
    original: Callable[..., Any] = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-parameter-build", _record)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    _installed = True


def recorded_since(index: int) -> list[Call]:
    with _lock:
        return list(_calls[index:])


def recorded_count() -> int:
    with _lock:
        return len(_calls)


@cache
def _template(component: str) -> str:
    return (POLICIES / f"{component}-policy.json").read_text()


def _statements(component: str, names: Mapping[str, str] | None) -> list[dict[str, Any]]:
    """The Allow statements of ``<component>-policy.json`` (and of the policies the deploy
    steps add to the role when a feature is on, :data:`FEATURE_POLICIES`), rendered with
    ``names`` (the template's ``${NAME}`` values, as the deploy steps fill them) when given."""
    found = []
    for template in (component, *FEATURE_POLICIES.get(component, ())):
        text = _template(template)
        if names is not None:
            text = string.Template(text).substitute(names)
        found += [s for s in json.loads(text)["Statement"] if s["Effect"] == "Allow"]
    return found


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches(value: str, patterns: list[str]) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one; actions ignore case."""
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def allowed_actions(component: str) -> tuple[str, ...]:
    """The actions (patterns) the component's policy grants."""
    return tuple(a for s in _statements(component, None) for a in _listed(s["Action"]))


def is_allowed(
    component: str,
    action: str,
    resources: list[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> bool:
    """Whether one statement of the policy allows ``action`` on every one of ``resources``
    (``None``: the action alone). Conditions are not evaluated."""
    for statement in _statements(component, names):
        actions = [a.lower() for a in _listed(statement["Action"])]
        if not _matches(action.lower(), actions):
            continue
        if resources is None or all(_matches(r, _listed(statement["Resource"])) for r in resources):
            return True
    return False


def check(calls: list[Call], names: Mapping[str, str] | None = None) -> list[str]:
    """One line per (component, action[, resource]) the component's policy does not allow.

    ``names``: the policy templates' values (``ACCOUNT_ID``, ``AWS_REGION``, ``PARTITION``,
    bucket, queue and parameter names); then each call's resource is checked too.
    """
    missing: dict[tuple[str, str, str], Call] = {}
    for call in calls:
        resources = None
        if names is not None:
            resources = call.resources(names["AWS_REGION"], names["ACCOUNT_ID"], names["PARTITION"])
        for action in call.actions:
            if not is_allowed(call.component, action, resources, names):
                missing.setdefault((call.component, action, ", ".join(resources or [])), call)
    return [
        f"{component} calls {call.service} {call.operation} (from {call.caller}), which needs "
        f"{action}{f' on {where}' if where else ''}: scripts/policies/{component}-policy.json "
        "does not allow it (on AWS the call would be refused with AccessDenied)"
        for (component, action, where), call in sorted(missing.items())
    ]


@pytest.fixture(scope="session", autouse=True)
def _record_aws_calls() -> None:
    install()


@pytest.fixture(autouse=True)
def _calls_are_allowed_by_the_policies(_record_aws_calls: None) -> Iterator[None]:
    """After each test: its components' AWS calls are all granted by their policies."""
    start = recorded_count()
    yield
    problems = check(recorded_since(start))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
