"""The jobs API's deploy steps (step-010's roles, step-363, step-370, step-371, step-999),
run against a moto server of this module's own, in local mode, in the phases of one
deployment (as ``test_deploy_scripts.py`` does for the router):

1. the steps create the roles, the admin key, the three functions, the function URL and its
   permissions, the webhook sender's SQS trigger and the console's CORS rule on the audio
   bucket; boto3 checks what they made, and a browser's preflight and presigned PUT from the
   console's origin get moto's CORS answers;
2. all of them again: nothing changes (the admin key is kept);
3. the validate steps pass (the health check says why it is skipped: moto cannot run Lambda
   code) and catch drift (the CORS rule missing or wrong too), which step-370 repairs,
   keeping another application's CORS rule;
4. the API runs from the deployed zip alone with the deployed function's environment: a
   function URL event for ``GET /v1/health``, and the admin key step-363 stored issuing a key;
5. destroy with --keep-buckets takes only the console's CORS rule off the kept bucket; destroy
   removes the functions, URL, trigger, rule, tables, queues, parameter, roles and bucket.

The queues (step-020) and tables (step-360) are the stack's steps: the test runs them, and
where a step does not make them yet, makes them itself with the names the steps use (said in
the log).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs_api.package import build
from jobs_api.tables import TableNames, create_tables
from tests.jobs_api.test_handler import function_url_event
from tests.support.deploy_steps import REGION, SCRIPTS, Deployment, local_env
from tests.support.processes import ROOT, moto_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ACCOUNT = "123456789012"  # moto's
RECORDED = (
    "JOBS_API_ROLE_ARN",
    "JOBS_TRACKER_ROLE_ARN",
    "JOBS_WEBHOOKS_ROLE_ARN",
    "JOBS_API_FUNCTION_ARN",
    "JOBS_TRACKER_FUNCTION_ARN",
    "JOBS_WEBHOOKS_FUNCTION_ARN",
    "JOBS_API_URL",
)
COMPONENTS = ("jobs-api", "jobs-tracker", "jobs-webhooks")
HANDLERS = {
    "jobs-api": "jobs_api.handler.api_handler",
    "jobs-tracker": "jobs_api.handler.tracker_handler",
    "jobs-webhooks": "jobs_api.handler.webhook_handler",
}
# The console's other origins (JOBS_CONSOLE_ORIGINS, spaces and a repeat ignored) and one
# that is not let in.
CONSOLE_ORIGINS = "http://localhost:8100, http://127.0.0.1:8100,http://localhost:8100"
OTHER_ORIGINS = ["http://localhost:8100", "http://127.0.0.1:8100"]
STRANGER = "http://localhost:9999"
# Another application's CORS rule on the bucket: step-370 and step-999 keep it.
FOREIGN_RULE = {"ID": "another-app", "AllowedOrigins": ["http://localhost:7000"],
                "AllowedMethods": ["GET"]}  # fmt: skip
# The queues step-020 makes for the jobs API (resource contract with the stack's steps).
JOB_QUEUES = {
    "QUEUE_URL_HIGH": "jobs-high",
    "QUEUE_URL_LOW": "jobs-low",
    "WEBHOOK_DLQ_URL": "webhooks-dlq",
    "WEBHOOK_QUEUE_URL": "webhooks",
    "RESULT_EVENTS_QUEUE_URL": "result-events",
}


@pytest.fixture(scope="module")
def zip_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The jobs API's zip and its unpacked tree, built for this interpreter's Python so
    phase 4 can run it here (pydantic-core is compiled per version)."""
    work = tmp_path_factory.mktemp("jobs-zip")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    archive = build(work / "jobs_api.zip", python_version=version)
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(work / "tree")
    return archive, work / "tree"


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, zip_tree: tuple[Path, Path]
) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("jobs-deploy")
    (work / "home").mkdir()
    project = f"jd{uuid.uuid4().hex[:8]}"
    # Without its global CORS, moto's server answers browsers from the buckets' CORS rules.
    cors = {"MOTO_DISABLE_GLOBAL_CORS": "true"}
    with moto_server(log_path=work / "moto.log", env=cors) as url:
        env = {
            **local_env(url, work / "home", work / "config.env", project),
            "JOBS_TABLE_PREFIX": project,
            "JOBS_API_ZIP": str(zip_tree[0]),
            "JOBS_CONSOLE_ORIGINS": CONSOLE_ORIGINS,
            "POLL_SECONDS": "1",
        }
        yield Deployment(url, env, work / "config.env", project, 0, "jobs_api.package", work)


def make_stack_resources(d: Deployment) -> None:
    """What step-020 and step-360 (the stack's steps) make for the jobs API, made here with
    the same names where those steps do not make it yet."""
    values, sqs = d.values(), d.client("sqs")
    for name, suffix in JOB_QUEUES.items():
        if not values.get(name):
            attributes = {"VisibilityTimeout": "900"} if suffix == "webhooks" else {}
            made = sqs.create_queue(QueueName=f"{d.project}-{suffix}", Attributes=attributes)
            d.record(name, made["QueueUrl"])
    if list(SCRIPTS.glob("step-360-*.sh")):
        d.run_ok(["360"], "tables")
    else:
        create_tables(d.client("dynamodb"), TableNames.from_prefix(d.project))
    events = d.client("events")
    if list(SCRIPTS.glob("step-375-*.sh")):
        d.run_ok(["375"], "result rule")
    else:  # the result rule step-375 makes; step-999 deletes it with its target
        rule = f"{d.project}-job-results"
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["aws.s3"]}))
        queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{d.project}-result-events"
        events.put_targets(Rule=rule, Targets=[{"Id": "result-events", "Arn": queue}])


# --- phase 1 ---------------------------------------------------------------------------------


def test_1_the_steps_create_the_jobs_api(deployment: Deployment) -> None:
    d = deployment
    d.run_ok(["000", "010", "020", "030"], "first")
    make_stack_resources(d)
    created = d.run_ok(["363", "370"], "jobs api")
    assert all(step.changes for step in created), [s.stderr for s in created]
    values = d.values()
    for name in RECORDED:
        assert values[name], f"{name} was not recorded"
    assert values["JOBS_ADMIN_KEY_PARAMETER"] == f"/{d.project}/jobs-admin-key"


def test_1_the_admin_key_is_a_secure_string_never_logged(deployment: Deployment) -> None:
    d = deployment
    ssm = d.client("ssm")
    parameter = ssm.get_parameter(Name=f"/{d.project}/jobs-admin-key", WithDecryption=True)
    key = parameter["Parameter"]["Value"]
    assert parameter["Parameter"]["Type"] == "SecureString"
    assert len(key) >= 24 and key.replace("-", "").replace("_", "").isalnum()
    for step in (s for phase in d.results.values() for s in phase):
        assert key not in step.stdout + step.stderr, f"step-{step.step} logged the admin key"
    for name in COMPONENTS:
        config = d.client("lambda").get_function_configuration(FunctionName=f"{d.project}-{name}")
        assert key not in json.dumps(config)


def test_1_functions_handlers_roles_and_environment(deployment: Deployment) -> None:
    d, values = deployment, deployment.values()
    aws_lambda = d.client("lambda")
    for component in COMPONENTS:
        name = f"{d.project}-{component}"
        config = aws_lambda.get_function_configuration(FunctionName=name)
        assert config["Handler"] == HANDLERS[component]
        assert config["Runtime"] == "python3.12"
        assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
        environment = config["Environment"]["Variables"]
        assert environment["QUEUE_URL"] == values["QUEUE_URL"]
        assert environment["QUEUE_URL_HIGH"] == values["QUEUE_URL_HIGH"]
        assert environment["QUEUE_URL_LOW"] == values["QUEUE_URL_LOW"]
        assert environment["WEBHOOK_QUEUE_URL"] == values["WEBHOOK_QUEUE_URL"]
        assert environment["JOBS_TABLE_PREFIX"] == d.project
        assert environment["JOBS_ADMIN_KEY_PARAMETER"] == f"/{d.project}/jobs-admin-key"
        assert environment["JOBS_API_URL"] == values["JOBS_API_URL"]
        assert environment["AUDIO_BUCKET"] == f"{d.project}-audio"
        assert (environment["INPUT_PREFIX"], environment["OUTPUT_PREFIX"]) == (
            "audio/",
            "transcripts/",
        )
        assert environment["WEBHOOK_MAX_ATTEMPTS"] == "5"
        for never in ("JOBS_ADMIN_KEY", "WEBHOOK_ALLOW_LOOPBACK", "AWS_REGION", "AWS_ENDPOINT_URL"):
            assert never not in environment, never
        assert (
            values[f"JOBS_{component.split('-')[1].upper()}_FUNCTION_ARN"] == config["FunctionArn"]
        )
    assert (
        (aws_lambda.get_function_configuration(FunctionName=f"{d.project}-jobs-api")["Timeout"])
        == 30
    )


def test_1_the_function_url_is_public_and_recorded(deployment: Deployment) -> None:
    d, aws_lambda = deployment, deployment.client("lambda")
    name = f"{d.project}-jobs-api"
    url = aws_lambda.get_function_url_config(FunctionName=name)
    assert url["AuthType"] == "NONE"
    assert d.values()["JOBS_API_URL"] == url["FunctionUrl"].rstrip("/")
    statements = json.loads(aws_lambda.get_policy(FunctionName=name)["Policy"])["Statement"]
    actions = {s["Sid"]: (s["Action"], s["Principal"]) for s in statements}
    assert actions == {
        "FunctionUrlPublicAccess": ("lambda:InvokeFunctionUrl", "*"),
        "FunctionUrlInvokeFunction": ("lambda:InvokeFunction", "*"),
    }


def test_1_the_webhook_sender_is_fed_by_its_queue(deployment: Deployment) -> None:
    d, aws_lambda = deployment, deployment.client("lambda")
    (mapping,) = aws_lambda.list_event_source_mappings(FunctionName=f"{d.project}-jobs-webhooks")[
        "EventSourceMappings"
    ]
    assert mapping["EventSourceArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{d.project}-webhooks"
    assert mapping["State"] == "Enabled"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 1


def test_1_the_roles_reach_only_the_projects_resources(deployment: Deployment) -> None:
    d, iam = deployment, deployment.client("iam")
    p = d.project
    mine = (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{p}-jobs-",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{p}-",
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:{p}-",
        f"arn:aws:s3:::{p}-audio/audio/jobs/",
        f"arn:aws:s3:::{p}-audio/*",  # s3:// items of jobs, anywhere in the audio bucket
        f"arn:aws:s3:::{p}-audio/transcripts/jobs/",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{p}/jobs-admin-key",
        f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
    )
    granted: dict[str, set[str]] = {}
    for component in COMPONENTS:
        name = f"{p}-{component}"
        trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
        policy = iam.get_role_policy(RoleName=name, PolicyName=component)["PolicyDocument"]
        for statement in policy["Statement"]:
            actions = (
                [statement["Action"]]
                if isinstance(statement["Action"], str)
                else statement["Action"]
            )
            granted.setdefault(component, set()).update(actions)
            resources = statement["Resource"]
            for resource in [resources] if isinstance(resources, str) else resources:
                assert resource.startswith(mine), f"{component}: {resource} is not the project's"
    # Each reaches what it calls and no more: only the API reads the admin key or issues keys.
    assert "ssm:GetParameter" in granted["jobs-api"]
    assert not {"ssm:GetParameter", "dynamodb:Scan", "dynamodb:PutItem"} & (
        granted["jobs-tracker"] | granted["jobs-webhooks"]
    )
    assert "sqs:ReceiveMessage" in granted["jobs-webhooks"]
    assert "sqs:ReceiveMessage" not in granted["jobs-api"] | granted["jobs-tracker"]


def console_origin(d: Deployment) -> str:
    """The function URL's origin: scheme and host of JOBS_API_URL."""
    url = httpx.URL(d.values()["JOBS_API_URL"])
    return f"{url.scheme}://{url.host}"


def console_rule(d: Deployment) -> dict[str, Any]:
    (rule,) = [
        r
        for r in d.client("s3").get_bucket_cors(Bucket=d.bucket)["CORSRules"]
        if r.get("ID") == f"{d.project}-console"
    ]
    return dict(rule)


def test_1_the_audio_bucket_lets_the_console_in(deployment: Deployment) -> None:
    d = deployment
    rules = d.client("s3").get_bucket_cors(Bucket=d.bucket)["CORSRules"]
    assert rules == [
        {
            "ID": f"{d.project}-console",
            "AllowedOrigins": [console_origin(d), *OTHER_ORIGINS],
            "AllowedMethods": ["GET", "PUT", "HEAD"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3600,
        }
    ]
    assert console_origin(d).startswith("https://") and console_origin(d).endswith(".on.aws")


def preflight(d: Deployment, origin: str) -> httpx.Response:
    """What a browser sends before a presigned PUT from a page at ``origin``."""
    return httpx.options(
        f"{d.url}/{d.bucket}/audio/jobs/console/item.wav",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=30,
    )


def test_1_a_browser_preflight_from_the_console_is_allowed_and_a_stranger_is_not(
    deployment: Deployment,
) -> None:
    """moto's server answers preflights from the bucket's CORS rules (it matches the origin;
    unlike S3 it does not check the requested method against the rule)."""
    d = deployment
    for origin in (console_origin(d), *OTHER_ORIGINS):
        allowed = preflight(d, origin)
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["access-control-allow-origin"] == origin
        assert "PUT" in allowed.headers["access-control-allow-methods"]
        assert allowed.headers["access-control-allow-headers"] == "*"
        assert allowed.headers["access-control-expose-headers"] == "ETag"
        assert allowed.headers["access-control-max-age"] == "3600"
    refused = preflight(d, STRANGER)
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers


def test_1_a_presigned_put_from_the_console_exposes_its_etag(deployment: Deployment) -> None:
    d, s3 = deployment, deployment.client("s3")
    key = "audio/jobs/console/put.wav"
    url = s3.generate_presigned_url("put_object", Params={"Bucket": d.bucket, "Key": key})
    put = httpx.put(url, content=b"RIFF", headers={"Origin": console_origin(d)}, timeout=30)
    assert put.status_code == 200, put.text
    assert put.headers["access-control-allow-origin"] == console_origin(d)
    assert put.headers["access-control-expose-headers"] == "ETag"
    assert put.headers["etag"] == s3.head_object(Bucket=d.bucket, Key=key)["ETag"]
    s3.delete_object(Bucket=d.bucket, Key=key)


# --- phase 2 ---------------------------------------------------------------------------------


def test_2_a_second_run_changes_nothing(deployment: Deployment) -> None:
    d = deployment
    key = d.client("ssm").get_parameter(Name=f"/{d.project}/jobs-admin-key", WithDecryption=True)
    before = d.values()
    again = d.run_ok(["010", "363", "370"], "again")
    assert [line for step in again for line in step.changes] == []
    assert d.values() == before
    kept = d.client("ssm").get_parameter(Name=f"/{d.project}/jobs-admin-key", WithDecryption=True)
    assert kept["Parameter"]["Value"] == key["Parameter"]["Value"]
    assert "the admin key is kept" in again[1].stderr


# --- phase 3 ---------------------------------------------------------------------------------


def test_3_validate_passes_then_catches_drift_that_step_370_repairs(deployment: Deployment) -> None:
    d, aws_lambda = deployment, deployment.client("lambda")
    validated = d.run_ok(["011", "371"], "validate")
    for step in validated:
        assert "DRIFT" not in step.stderr, step.stderr
    skipped = "skipped: GET /v1/health of the function URL (moto cannot run Lambda code"
    assert skipped in validated[1].stderr
    sender = f"{d.project}-jobs-webhooks"
    (mapping,) = aws_lambda.list_event_source_mappings(FunctionName=sender)["EventSourceMappings"]
    aws_lambda.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    aws_lambda.delete_function_url_config(FunctionName=f"{d.project}-jobs-api")
    drifted = d.step("371")
    assert drifted.returncode != 0
    assert f"DRIFT: SQS trigger of {sender}" in drifted.stderr and "Disabled" in drifted.stderr
    assert f"DRIFT: function URL of {d.project}-jobs-api does not exist" in drifted.stderr
    repaired = d.run_ok(["370"], "repair")[0]
    assert any("SQS trigger" in line for line in repaired.changes), repaired.stderr
    assert (
        aws_lambda.get_function_url_config(FunctionName=f"{d.project}-jobs-api")["AuthType"]
        == "NONE"
    )
    # A new URL is a new address: recorded, and given to the functions.
    new_url = d.values()["JOBS_API_URL"]
    config = aws_lambda.get_function_configuration(FunctionName=f"{d.project}-jobs-tracker")
    assert config["Environment"]["Variables"]["JOBS_API_URL"] == new_url
    assert "DRIFT" not in d.run_ok(["371"], "repaired")[0].stderr


def test_3_validate_catches_a_missing_or_wrong_cors_rule_that_step_370_repairs(
    deployment: Deployment,
) -> None:
    d, s3 = deployment, deployment.client("s3")
    rule_id = f"{d.project}-console"
    s3.put_bucket_cors(Bucket=d.bucket, CORSConfiguration={"CORSRules": [FOREIGN_RULE]})
    assert "access-control-allow-origin" not in preflight(d, console_origin(d)).headers
    gone = d.step("371")
    assert gone.returncode != 0
    assert f"DRIFT: bucket {d.bucket} CORS rule {rule_id} does not exist" in gone.stderr
    repaired = d.run_ok(["370"], "cors repair")[0]
    assert [line for line in repaired.changes if "CORS" in line], repaired.stderr
    rules = s3.get_bucket_cors(Bucket=d.bucket)["CORSRules"]
    assert [r["ID"] for r in rules] == ["another-app", rule_id]
    # A new function URL (phase 3 made one) is a new origin: the rule follows it.
    assert console_rule(d)["AllowedOrigins"] == [console_origin(d), *OTHER_ORIGINS]
    wrong = {**console_rule(d), "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
    s3.put_bucket_cors(Bucket=d.bucket, CORSConfiguration={"CORSRules": [FOREIGN_RULE, wrong]})
    drifted = d.step("371")
    assert drifted.returncode != 0
    assert f"DRIFT: bucket {d.bucket} CORS rule {rule_id} is " in drifted.stderr
    d.run_ok(["370"], "cors repair 2")
    assert console_rule(d)["AllowedOrigins"] == [console_origin(d), *OTHER_ORIGINS]
    assert console_rule(d)["AllowedMethods"] == ["GET", "PUT", "HEAD"]
    assert "DRIFT" not in d.run_ok(["371"], "cors repaired")[0].stderr
    assert d.run_ok(["370"], "cors again")[0].changes == []


# --- phase 4 ---------------------------------------------------------------------------------


def invoke_from_zip(d: Deployment, tree: Path, event: dict[str, Any]) -> dict[str, Any]:
    """api_handler from the unpacked zip alone (no site-packages), with the environment
    step-370 gave the function, against moto's server."""
    config = d.client("lambda").get_function_configuration(FunctionName=f"{d.project}-jobs-api")
    code = (
        "import json, sys\n"
        "from jobs_api.handler import api_handler\n"
        "class Context:\n"
        "    function_name = 'jobs-api'\n"
        "    aws_request_id = 'zip-test'\n"
        "    def get_remaining_time_in_millis(self): return 30000\n"
        "print(json.dumps(api_handler(json.loads(sys.argv[1]), Context())))\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        **config["Environment"]["Variables"],
        "AWS_REGION": REGION,  # Lambda's own variables
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": d.url,  # moto in place of AWS
        "PYTHONPATH": str(tree),
    }
    done = subprocess.run(
        [sys.executable, "-S", "-c", code, json.dumps(event)],
        cwd=tree, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_4_the_deployed_zip_and_environment_serve_the_api(
    deployment: Deployment, zip_tree: tuple[Path, Path]
) -> None:
    d, tree = deployment, zip_tree[1]
    health = invoke_from_zip(d, tree, function_url_event("GET", "/v1/health"))
    assert health["statusCode"] == 200, health
    admin = d.client("ssm").get_parameter(Name=f"/{d.project}/jobs-admin-key", WithDecryption=True)
    body = {"owner": "ci", "scopes": ["jobs:write"]}
    issued = invoke_from_zip(
        d, tree, function_url_event("POST", "/v1/auth/keys", body, admin["Parameter"]["Value"])
    )
    assert issued["statusCode"] == 201, issued
    assert json.loads(issued["body"])["owner"] == "ci"
    refused = invoke_from_zip(d, tree, function_url_event("POST", "/v1/auth/keys", body, "x" * 30))
    assert refused["statusCode"] == 401, refused


# --- phase 5 ---------------------------------------------------------------------------------


def test_5_destroy_removes_every_part_of_the_jobs_api(deployment: Deployment) -> None:
    d, s3 = deployment, deployment.client("s3")
    kept = d.step("999", "--yes", "--keep-buckets")
    assert kept.returncode == 0, kept.stderr
    # The kept bucket loses only the console's CORS rule; the bucket's removal takes it
    # with it otherwise.
    assert s3.get_bucket_cors(Bucket=d.bucket)["CORSRules"] == [FOREIGN_RULE]
    done = d.step("999", "--yes")
    assert done.returncode == 0, done.stderr
    assert d.bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    p, aws_lambda = d.project, d.client("lambda")
    assert [
        f for f in aws_lambda.list_functions()["Functions"] if f["FunctionName"].startswith(p)
    ] == []
    assert (
        aws_lambda.list_event_source_mappings(FunctionName=f"{p}-jobs-webhooks")[
            "EventSourceMappings"
        ]
        == []
    )
    assert d.client("events").list_rules(NamePrefix=p)["Rules"] == []
    assert [t for t in d.client("dynamodb").list_tables()["TableNames"] if t.startswith(p)] == []
    assert d.client("sqs").list_queues(QueueNamePrefix=p).get("QueueUrls", []) == []
    parameters = d.client("ssm").describe_parameters()["Parameters"]
    assert [x for x in parameters if x["Name"].startswith(f"/{p}/")] == []
    roles = d.client("iam").list_roles()["Roles"]
    assert [r for r in roles if r["RoleName"].startswith(p)] == []
    after = d.values()
    for name in (*RECORDED, *JOB_QUEUES):
        assert after[name] == "", f"{name} still recorded after destroy"
    again = d.step("999", "--yes")
    assert again.returncode == 0 and again.changes == [], again.stderr


# --- without AWS -----------------------------------------------------------------------------


def step_370_without_aws(tmp_path: Path, settings: str) -> subprocess.CompletedProcess[str]:
    """step-370 on a config.env with the recorded values it requires and ``settings``: a
    check that stops it before any AWS call."""
    config = tmp_path / "config.env"
    arn = f"arn:aws:iam::{ACCOUNT}:role/x"
    config.write_text(
        f"JOBS_API_ROLE_ARN={arn}\nJOBS_TRACKER_ROLE_ARN={arn}\nJOBS_WEBHOOKS_ROLE_ARN={arn}\n"
        f"QUEUE_URL=q\nWEBHOOK_QUEUE_URL=w\n{settings}"
    )
    return subprocess.run(
        ["bash", str(SCRIPTS / "step-370-deploy-jobs-api.sh")],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CONFIG_FILE": str(config)},
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_step_370_refuses_a_webhook_batch_that_cannot_fit_its_timeout(tmp_path: Path) -> None:
    done = step_370_without_aws(tmp_path, "JOBS_WEBHOOKS_BATCH_SIZE=5\nJOBS_WEBHOOKS_TIMEOUT=30\n")
    assert done.returncode == 1
    assert "JOBS_WEBHOOKS_BATCH_SIZE=5 (1..10) deliveries" in done.stderr
    assert "JOBS_WEBHOOKS_TIMEOUT=30" in done.stderr


@pytest.mark.parametrize(
    "origin", ["http://localhost:8100/", "localhost:8100", "http://localhost:8100/console", "*"]
)
def test_step_370_refuses_a_console_origin_that_is_not_one(tmp_path: Path, origin: str) -> None:
    done = step_370_without_aws(
        tmp_path, f"JOBS_CONSOLE_ORIGINS='http://127.0.0.1:8100,{origin}'\n"
    )
    assert done.returncode == 1
    assert f"JOBS_CONSOLE_ORIGINS: '{origin}' is not an origin" in done.stderr


def test_every_setting_the_jobs_steps_read_is_documented() -> None:
    """The settings scripts/lib/jobs_api.sh passes to the functions or reads itself, each
    with its default in config.env.example (the steps source it under config.env)."""
    library = (SCRIPTS / "lib" / "jobs_api.sh").read_text()
    passed = re.search(r"^JOBS_LAMBDA_ENV=\(([^)]*)\)", library, re.MULTILINE)
    assert passed is not None
    read = set(re.findall(r"\$\{?((?:JOBS|WEBHOOK)_[A-Z_]+)", library))
    derived = {"JOBS_API_NAME", "JOBS_TRACKER_NAME", "JOBS_WEBHOOKS_NAME", "JOBS_HANDLERS",
               "JOBS_LAMBDA_ENV", "JOBS_ADMIN_KEY_MIN_LENGTH", "WEBHOOK_QUEUE_NAME"}  # fmt: skip
    example = (ROOT / "config.env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    assert (set(passed.group(1).split()) | read) - derived - documented == set()
