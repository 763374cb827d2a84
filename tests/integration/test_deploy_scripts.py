"""The numbered deploy steps (``scripts/step-*.sh``), run end to end against moto's server.

Local mode: ``AWS_ENDPOINT_URL`` points the steps at a moto server of this module's own, with
a temporary ``CONFIG_FILE``. The tests are the phases of one deployment and run in order:

1. every deploy step in order; boto3 then checks what they made (redrive, encryption, the
   bucket's settings, a real upload reaching the events queue, the rule's pattern, the
   Lambdas' configuration and environment, IAM policies scoped to the project, instances);
2. all of them again: exit 0, no change logged, the same resources and the same config.env;
3. the validate steps pass, and catch drift (which the create step then repairs);
4. the test steps against the running product: the FastAPI server (tiny.en) and the event
   pump run as processes, as ``make up`` runs them;
5. destroy: it asks first; then everything is gone, and nothing else is;
6. "access denied" is told apart from "not found", and DRY_RUN=1 changes nothing.

There is no Docker engine here: step-301 must say so and skip (local mode allows it).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.deploy_steps import (
    REGION,
    SCRIPTS,
    Deployment,
    local_deployment,
    local_env,
    step_env,
)
from tests.support.processes import ROOT, moto_server, running
from tests.support.wer import wer
from transcription.layout import Layout
from transcription.store import ERROR_RECORD_TAGGING, TranscriptStore

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ACCOUNT = "123456789012"  # moto's
# The deploy sequence a user runs (step-001 checks the configuration before anything is made).
FIRST_RUN = ["000", "001", "010", "020", "030", "300", "301", "310", "320", "330", "331",
             "340", "341", "342", "350", "351", "380"]  # fmt: skip
AGAIN = [step for step in FIRST_RUN if step != "001"]
VALIDATE = ["001", "011", "021", "031", "311", "343", "352", "381"]
# What the steps record in config.env (step-999 clears them).
RECORDED = (
    "QUEUE_URL",
    "DLQ_URL",
    "ROUTER_FAILURE_QUEUE_URL",
    "EVENTS_QUEUE_URL",
    "SERVER_URL",
    "ROUTER_ROLE_ARN",
    "ROUTER_FUNCTION_ARN",
    "SERVER_REPOSITORY_URI",
    "WORKER_REPOSITORY_URI",
    "ROUTER_SECURITY_GROUP_ID",
    "SERVER_SECURITY_GROUP_ID",
    "WORKER_SECURITY_GROUP_ID",
)
# Statements that may grant "Resource": "*", and the actions each may grant.
ANY_RESOURCE = {
    "LambdaVpcNetworkInterfacesAnyResource": {
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    },
    "EcrLoginTokenAnyResource": {"ecr:GetAuthorizationToken"},
}


def docker_engine_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30)
    return probe.returncode == 0


def build_router_zip(directory: Path) -> tuple[Path, str]:
    """The real package (`make lambda-zip`, without vendoring boto3), or a stand-in if the
    router's builder does not exist yet."""
    output = directory / "lambda_router.zip"
    if (ROOT / "lambda_router" / "package.py").exists():
        subprocess.run(
            [sys.executable, "-m", "lambda_router.package", "--output", str(output), "--no-boto3"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=300,
        )
        return output, "the real router package (python -m lambda_router.package --no-boto3)"
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr(
            "lambda_router/handler.py", "def lambda_handler(event, context):\n    pass\n"
        )
    return output, "a stand-in zip: lambda_router/package.py (make lambda-zip) does not exist yet"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("deploy")
    project = f"it{uuid.uuid4().hex[:8]}"
    router_zip, zip_note = build_router_zip(work)
    with moto_server(log_path=work / "moto.log") as url:
        env = step_env(
            work,
            url,
            project,
            ROUTER_ZIP=str(router_zip),
            ROUTER_TEST_TIMEOUT="90",
            SERVER_HEALTH_TIMEOUT="60",
        )
        deployment = local_deployment(work, url, project, zip_note, env)
        deployment.unrelated = make_unrelated_resources(deployment)
        yield deployment


def make_unrelated_resources(d: Deployment) -> dict[str, str]:
    """Resources the steps did not make: step-999 must leave them alone."""
    name = f"unrelated-{uuid.uuid4().hex[:8]}"
    d.client("s3").create_bucket(Bucket=name)
    queue = d.client("sqs").create_queue(QueueName=name)["QueueUrl"]
    d.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust("ec2"))
    group = d.client("ec2").create_security_group(GroupName=name, Description="not ours")["GroupId"]
    d.client("ssm").put_parameter(Name=f"/{name}/value", Value="x", Type="String")
    return {"name": name, "queue": queue, "group": group}


def trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": f"{service}.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


# --- phase 1 ---------------------------------------------------------------------------------


def test_1_every_step_in_order_creates_the_deployment(deployment: Deployment) -> None:
    d = deployment
    steps = FIRST_RUN
    if docker_engine_available():  # pragma: no cover - no Docker engine on these machines
        steps = [s for s in steps if s != "301"]  # building multi-GB GPU images is not a test
    results = d.run_ok(steps, "first")
    by_step = {r.step: r for r in results}
    if "301" in by_step:
        assert "skipped: no Docker engine here" in by_step["301"].stderr
    for number in ("010", "020", "030", "300", "310", "320", "330", "340", "341", "350", "351",
                   "380"):  # fmt: skip
        assert by_step[number].changes, f"step-{number} created nothing:\n{by_step[number].stderr}"
    values = d.values()
    for name in (*RECORDED, "API_KEY", "API_KEYS"):
        assert values[name], f"{name} was not recorded in config.env"
    assert values["API_KEY"] in values["API_KEYS"].split(",")
    assert values["SERVER_URL"] == f"http://127.0.0.1:{d.port}"
    assert values["AWS_ACCOUNT_ID"] == ACCOUNT


def test_1_queues_have_redrive_encryption_and_polling(deployment: Deployment) -> None:
    d, values, sqs = deployment, deployment.values(), deployment.client("sqs")
    jobs = sqs.get_queue_attributes(QueueUrl=values["QUEUE_URL"], AttributeNames=["All"])
    jobs = jobs["Attributes"]
    dlq_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{d.project}-jobs-dlq"
    assert json.loads(jobs["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 5,
    }
    assert jobs["SqsManagedSseEnabled"] == "true"
    assert (jobs["VisibilityTimeout"], jobs["ReceiveMessageWaitTimeSeconds"]) == ("900", "20")
    assert jobs["MessageRetentionPeriod"] == "1209600"
    dlq = sqs.get_queue_attributes(QueueUrl=values["DLQ_URL"], AttributeNames=["All"])
    assert dlq["Attributes"]["QueueArn"] == dlq_arn
    assert dlq["Attributes"]["SqsManagedSseEnabled"] == "true"
    failures = sqs.get_queue_attributes(
        QueueUrl=values["ROUTER_FAILURE_QUEUE_URL"], AttributeNames=["All"]
    )["Attributes"]
    assert failures["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{d.project}-router-failures"
    assert (failures["SqsManagedSseEnabled"], failures["MessageRetentionPeriod"]) == (
        "true",
        "1209600",
    )
    assert "RedrivePolicy" not in failures  # its records are replayed, never redriven as jobs
    events = sqs.get_queue_attributes(QueueUrl=values["EVENTS_QUEUE_URL"], AttributeNames=["All"])
    (statement,) = json.loads(events["Attributes"]["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{d.project}-audio-uploaded"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}


def test_1_bucket_is_private_encrypted_with_lifecycle_rules(deployment: Deployment) -> None:
    d, s3 = deployment, deployment.client("s3")
    block = s3.get_public_access_block(Bucket=d.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    # Local mode: no TLS-only policy (plain HTTP; moto would refuse every request under it).
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=d.bucket)
    encryption = s3.get_bucket_encryption(Bucket=d.bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=d.bucket)["Rules"]}
    errors = rules[f"{d.project}-expire-error-records"]
    key, value = ERROR_RECORD_TAGGING.split("=")
    assert errors["Filter"]["And"] == {
        "Prefix": "transcripts/",
        "Tags": [{"Key": key, "Value": value}],
    }
    assert errors["Expiration"] == {"Days": 30} and errors["Status"] == "Enabled"
    aborts = rules[f"{d.project}-abort-incomplete-uploads"]
    assert aborts["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    # The store tags its error records so that rule applies to them.
    store = TranscriptStore(s3, d.bucket, Layout())
    record = store.save_error("transcripts/x/bad.wav.json", "not_audio", "test", {"key": "x"})
    tags = s3.get_object_tagging(Bucket=d.bucket, Key=record)["TagSet"]
    assert tags == [{"Key": key, "Value": value}]
    s3.delete_object(Bucket=d.bucket, Key=record)


def tls_only_statement(s3: Any, bucket: str) -> dict[str, Any]:
    """The bucket policy's statement that denies every request made without TLS."""
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    (statement,) = [s for s in policy["Statement"] if s.get("Sid") == "DenyRequestsWithoutTls"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    return dict(statement)


def test_1_uploads_reach_the_events_queue_through_the_rule(deployment: Deployment) -> None:
    """moto cannot report a bucket's EventBridge setting back; a real upload proves it."""
    d, values, s3, sqs = (
        deployment,
        deployment.values(),
        deployment.client("s3"),
        deployment.client("sqs"),
    )
    rule = d.client("events").describe_rule(Name=f"{d.project}-audio-uploaded")
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [d.bucket]}, "object": {"key": [{"prefix": "audio/"}]}},
    }
    assert rule["State"] == "ENABLED"
    targets = d.client("events").list_targets_by_rule(Rule=f"{d.project}-audio-uploaded")["Targets"]
    events_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{d.project}-events"
    assert [(t["Id"], t["Arn"]) for t in targets] == [("events-queue", events_arn)]
    s3.put_object(Bucket=d.bucket, Key="transcripts/ignored.json", Body=b"{}")
    s3.put_object(Bucket=d.bucket, Key="audio/probe/hello.wav", Body=b"RIFF")
    keys = []
    for _ in range(3):
        received = sqs.receive_message(
            QueueUrl=values["EVENTS_QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=2
        ).get("Messages", [])
        for message in received:
            event = json.loads(message["Body"])
            assert event["detail-type"] == "Object Created"
            keys.append(event["detail"]["object"]["key"])
            sqs.delete_message(
                QueueUrl=values["EVENTS_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"]
            )
        if keys:
            break
    assert keys == ["audio/probe/hello.wav"]
    s3.delete_objects(
        Bucket=d.bucket,
        Delete={"Objects": [{"Key": "transcripts/ignored.json"}, {"Key": "audio/probe/hello.wav"}]},
    )


def test_1_router_lambda_configuration_and_environment(deployment: Deployment) -> None:
    d, values, aws_lambda = deployment, deployment.values(), deployment.client("lambda")
    name = f"{d.project}-router"
    config = aws_lambda.get_function_configuration(FunctionName=name)
    assert config["Handler"] == "lambda_router.handler.lambda_handler"
    assert config["Runtime"] == "python3.12"
    assert (config["Timeout"], config["MemorySize"]) == (300, 512)
    assert config["Role"] == values["ROUTER_ROLE_ARN"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
    assert config["VpcConfig"]["SecurityGroupIds"] == [values["ROUTER_SECURITY_GROUP_ID"]]
    assert sorted(config["VpcConfig"]["SubnetIds"]) == sorted(values["SUBNET_IDS"].split(","))
    environment = config["Environment"]["Variables"]
    assert environment["AUDIO_BUCKET"] == d.bucket
    assert environment["QUEUE_URL"] == values["QUEUE_URL"]
    assert environment["SERVER_URL_PARAMETER"] == f"/{d.project}/server-url"
    # The key is read from the server's SecureString, never a plaintext variable.
    assert environment["API_KEY_PARAMETER"] == f"/{d.project}/api-keys"
    assert "API_KEY" not in environment
    assert values["API_KEY"] not in json.dumps(config)
    assert (environment["INPUT_PREFIX"], environment["OUTPUT_PREFIX"]) == ("audio/", "transcripts/")
    assert "SERVER_URL" not in environment  # the router follows the SSM parameter
    concurrency = aws_lambda.get_function_concurrency(FunctionName=name)
    assert concurrency["ReservedConcurrentExecutions"] == 10
    invoke = aws_lambda.get_function_event_invoke_config(FunctionName=name)
    assert invoke["MaximumRetryAttempts"] == 2
    # Its own failure queue, not the jobs DLQ: Lambda's records wrap the event, and the
    # worker would dead-letter them as unsupported jobs (python -m lambda_router.replay).
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == (
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:{d.project}-router-failures"
    )
    assert values["ROUTER_FUNCTION_ARN"] == config["FunctionArn"]


def test_1_the_worker_group_replaces_the_scheduler(deployment: Deployment) -> None:
    """step-350/351 make the Auto Scaling group and its policies (tests/integration/
    test_fleet_scripts.py checks their settings); no scheduler Lambda or schedule exists."""
    d = deployment
    (group,) = d.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[f"{d.project}-workers"]
    )["AutoScalingGroups"]
    assert (group["MinSize"], group["DesiredCapacity"]) == (0, 0)
    assert group["MaxSize"] == int(d.values()["MAX_WORKERS"])
    names = {p["PolicyName"] for p in d.client("autoscaling").describe_policies(
        AutoScalingGroupName=f"{d.project}-workers")["ScalingPolicies"]}  # fmt: skip
    assert names == {f"{d.project}-backlog-per-worker", f"{d.project}-first-worker"}
    aws_lambda = d.client("lambda")
    with pytest.raises(aws_lambda.exceptions.ResourceNotFoundException):
        aws_lambda.get_function_configuration(FunctionName=f"{d.project}-scheduler")


def test_1_iam_policies_are_scoped_to_the_project(deployment: Deployment) -> None:
    d, iam = deployment, deployment.client("iam")
    bucket_arn = f"arn:aws:s3:::{d.bucket}"
    exactly = {bucket_arn, f"{bucket_arn}/audio/*", f"{bucket_arn}/transcripts/*"}
    prefixes = (
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:{d.project}-",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{d.project}-",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{d.project}/",
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{d.project}/",
        f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/"
        f"{d.project}-workers",
    )
    granted: dict[str, set[str]] = {}
    router_puts: list[str] = []  # where the router may write: its error records only
    roles = {"router": "lambda", "server": "ec2", "worker": "ec2"}
    for role, service in roles.items():
        name = f"{d.project}-{role}"
        trust_doc = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        assert trust_doc["Statement"][0]["Principal"] == {"Service": f"{service}.amazonaws.com"}
        policy = iam.get_role_policy(RoleName=name, PolicyName=role)["PolicyDocument"]
        for statement in policy["Statement"]:
            actions = as_list(statement["Action"])
            granted.setdefault(role, set()).update(actions)
            if role == "router" and "s3:PutObject" in actions:
                router_puts += as_list(statement["Resource"])
            for resource in as_list(statement["Resource"]):
                if resource == "*":
                    assert set(actions) <= ANY_RESOURCE.get(statement.get("Sid", ""), set()), (
                        statement
                    )
                else:
                    mine = (
                        resource in exactly
                        or resource.startswith(prefixes)
                        or resource == f"{bucket_arn}/transcripts/*.error.json"
                        # a batch job's audio_url item may be anywhere in the audio bucket
                        or (role == "worker" and resource == f"{bucket_arn}/*")
                    )
                    assert mine, f"{role}: {resource} is not the project's"
    assert (
        "sqs:ReceiveMessage" in granted["worker"] and "sqs:ReceiveMessage" not in granted["router"]
    )
    assert router_puts == [f"{bucket_arn}/transcripts/*.error.json"]
    assert "ssm:GetParameter" in granted["server"]
    for profile, role in (("server", "server"), ("worker", "worker")):
        roles = iam.get_instance_profile(InstanceProfileName=f"{d.project}-{profile}")
        assert [r["RoleName"] for r in roles["InstanceProfile"]["Roles"]] == [f"{d.project}-{role}"]


def as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_1_gpu_instances_network_and_parameters(deployment: Deployment) -> None:
    d, values, ec2, ssm = (
        deployment,
        deployment.values(),
        deployment.client("ec2"),
        deployment.client("ssm"),
    )
    server = instances(ec2, d.project, "gpu-server")
    (instance,) = server
    assert instance["State"]["Name"] == "running"
    assert instance["IamInstanceProfile"]["Arn"].endswith(f"instance-profile/{d.project}-server")
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [
        values["SERVER_SECURITY_GROUP_ID"]
    ]
    user_data = user_data_of(ec2, instance["InstanceId"])
    assert "--gpus all" in user_data and f"{values['SERVER_REPOSITORY_URI']}:latest" in user_data
    assert "API_KEYS_PARAMETER" in user_data and values["API_KEYS"] not in user_data
    assert instances(ec2, d.project, "batch-worker") == []  # the group is at 0
    # The server's port: open to the router's security group only.
    (group,) = ec2.describe_security_groups(GroupIds=[values["SERVER_SECURITY_GROUP_ID"]])[
        "SecurityGroups"
    ]
    (rule,) = group["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"]) == (d.port, d.port)
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [values["ROUTER_SECURITY_GROUP_ID"]]
    assert rule.get("IpRanges", []) == [] and rule.get("Ipv6Ranges", []) == []
    for name in ("router", "worker"):
        (other,) = ec2.describe_security_groups(
            GroupIds=[values[f"{name.upper()}_SECURITY_GROUP_ID"]]
        )["SecurityGroups"]
        assert other["IpPermissions"] == []
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "tag:Project", "Values": [d.project]}])
    services = sorted(e["ServiceName"].rsplit(".", 1)[1] for e in endpoints["VpcEndpoints"])
    assert services == ["s3", "sqs", "ssm"]
    url = ssm.get_parameter(Name=f"/{d.project}/server-url")["Parameter"]
    assert url["Value"] == values["SERVER_URL"]
    keys = ssm.get_parameter(Name=f"/{d.project}/api-keys", WithDecryption=True)["Parameter"]
    assert (keys["Type"], keys["Value"]) == ("SecureString", values["API_KEYS"])
    repositories = d.client("ecr").describe_repositories()["repositories"]
    ours = {
        r["repositoryName"]: r for r in repositories if r["repositoryName"].startswith(d.project)
    }
    assert sorted(ours) == [f"{d.project}/batch-worker", f"{d.project}/fastapi-server"]
    assert all(r["imageScanningConfiguration"]["scanOnPush"] for r in ours.values())


def instances(ec2: Any, project: str, role: str) -> list[dict[str, Any]]:
    filters = [
        {"Name": "tag:Project", "Values": [project]},
        {"Name": "tag:Role", "Values": [role]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
    ]
    reservations = ec2.describe_instances(Filters=filters)["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def user_data_of(ec2: Any, instance_id: str) -> str:
    value = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    return base64.b64decode(value["UserData"]["Value"]).decode()


# --- phase 2 ---------------------------------------------------------------------------------


def snapshot(d: Deployment) -> dict[str, Any]:
    """What the steps manage, as AWS reports it, plus config.env: equal before and after a
    run that changes nothing."""
    values = d.values()
    sqs, s3, iam, ec2 = d.client("sqs"), d.client("s3"), d.client("iam"), d.client("ec2")
    aws_lambda, events, ssm, ecr = (
        d.client("lambda"),
        d.client("events"),
        d.client("ssm"),
        d.client("ecr"),
    )
    volatile = {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    }
    shot: dict[str, Any] = {"config.env": d.config.read_text()}
    for url in sqs.list_queues(QueueNamePrefix=d.project).get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        shot[url] = {k: v for k, v in attributes.items() if k not in volatile}
    shot["bucket"] = [
        s3.get_public_access_block(Bucket=d.bucket)["PublicAccessBlockConfiguration"],
        s3.get_bucket_encryption(Bucket=d.bucket)["ServerSideEncryptionConfiguration"],
        s3.get_bucket_lifecycle_configuration(Bucket=d.bucket)["Rules"],
        s3.get_bucket_tagging(Bucket=d.bucket)["TagSet"],
    ]
    for role in ("router", "server", "worker"):
        name = f"{d.project}-{role}"
        shot[f"role {role}"] = [
            iam.get_role(RoleName=name)["Role"],
            iam.get_role_policy(RoleName=name, PolicyName=role)["PolicyDocument"],
        ]
    for profile in ("server", "worker"):
        shot[f"profile {profile}"] = iam.get_instance_profile(
            InstanceProfileName=f"{d.project}-{profile}"
        )
    name = f"{d.project}-router"
    shot["function router"] = [
        aws_lambda.get_function_configuration(FunctionName=name),
        aws_lambda.get_function_concurrency(FunctionName=name),
    ]
    shot["invoke config"] = aws_lambda.get_function_event_invoke_config(
        FunctionName=f"{d.project}-router"
    )
    name = f"{d.project}-audio-uploaded"
    shot["rule audio-uploaded"] = [
        events.describe_rule(Name=name),
        events.list_targets_by_rule(Rule=name)["Targets"],
    ]
    autoscaling = d.client("autoscaling")
    group = f"{d.project}-workers"
    shot["worker group"] = [
        autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group]),
        autoscaling.describe_policies(AutoScalingGroupName=group),
        autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group),
        ec2.describe_launch_template_versions(LaunchTemplateName=f"{d.project}-worker"),
    ]
    reservations = ec2.describe_instances(Filters=[{"Name": "tag:Project", "Values": [d.project]}])
    for instance in (i for r in reservations["Reservations"] for i in r["Instances"]):
        shot[instance["InstanceId"]] = [
            instance["State"]["Name"],
            user_data_of(ec2, instance["InstanceId"]),
        ]
    groups = ec2.describe_security_groups(Filters=[{"Name": "tag:Project", "Values": [d.project]}])
    shot["groups"] = sorted(
        (g["GroupId"], json.dumps(g["IpPermissions"], sort_keys=True))
        for g in groups["SecurityGroups"]
    )
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "tag:Project", "Values": [d.project]}])
    shot["endpoints"] = sorted(e["VpcEndpointId"] for e in endpoints["VpcEndpoints"])
    for parameter in ("server-url", "api-keys"):  # Version grows with every overwrite
        got = ssm.get_parameter(Name=f"/{d.project}/{parameter}", WithDecryption=True)["Parameter"]
        shot[f"parameter {parameter}"] = [got["Value"], got["Version"]]
    for repository in ("fastapi-server", "batch-worker"):
        name = f"{d.project}/{repository}"
        shot[f"repository {repository}"] = [
            ecr.describe_repositories(repositoryNames=[name])["repositories"],
            ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"],
        ]
    assert values["QUEUE_URL"] in shot
    return without_metadata(json.loads(json.dumps(shot, default=str)))


def without_metadata(value: Any) -> Any:
    """boto3's ResponseMetadata (request ids) differs on every call."""
    if isinstance(value, dict):
        return {k: without_metadata(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [without_metadata(v) for v in value]
    return value


def test_2_running_everything_again_changes_nothing(deployment: Deployment) -> None:
    d = deployment
    before = snapshot(d)
    steps = AGAIN
    if docker_engine_available():  # pragma: no cover - no Docker engine on these machines
        steps = [s for s in steps if s != "301"]
    results = d.run_ok(steps, "again")
    changes = [line for r in results for line in r.changes]
    assert changes == [], "a second run changed things:\n" + "\n".join(changes)
    assert snapshot(d) == before


# --- phase 3 ---------------------------------------------------------------------------------


def test_3_validate_steps_pass_and_catch_drift(deployment: Deployment) -> None:
    d = deployment
    # They only read, so two run at a time (the machine has two cores).
    for result in d.run_ok(VALIDATE, "validate", parallel=2):
        assert "DRIFT" not in result.stderr, result.stderr
    # No step wrote an API key to its output.
    key = d.values()["API_KEY"]
    for phase in d.results.values():
        for result in phase:
            assert key not in result.stderr + result.stdout, f"step-{result.step} logged the key"
    # Someone changes the jobs queue by hand: the validate step fails and says what drifted;
    # the create step puts it back.
    d.client("sqs").set_queue_attributes(
        QueueUrl=d.values()["QUEUE_URL"], Attributes={"VisibilityTimeout": "31"}
    )
    drifted = d.step("021")
    assert drifted.returncode != 0
    assert "DRIFT" in drifted.stderr and "VisibilityTimeout" in drifted.stderr
    repaired = d.step("020")
    assert repaired.returncode == 0 and any(
        "VisibilityTimeout" in line for line in repaired.changes
    )
    attributes = d.client("sqs").get_queue_attributes(
        QueueUrl=d.values()["QUEUE_URL"], AttributeNames=["VisibilityTimeout"]
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == "900"


# --- phase 4 ---------------------------------------------------------------------------------


def test_4_test_steps_against_the_running_product(
    deployment: Deployment, sample_scripts: dict[str, str]
) -> None:
    """step-331 (curl test transcription) and step-342 (upload → transcript, route) for
    real: the FastAPI server and the event pump run as processes, as `make up` runs them."""
    d = deployment
    for module in ("fastapi_server.__main__", "lambda_router.pump"):
        if not (ROOT / (module.replace(".", "/") + ".py")).exists():
            pytest.skip(f"{module} does not exist yet: the test steps need the server and the pump")
    env = {
        **d.values(),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "HOST": "127.0.0.1",
        "PORT": str(d.port),
        "PYTHONUNBUFFERED": "1",
    }
    server_url = d.values()["SERVER_URL"]
    server = [sys.executable, "-m", "fastapi_server"]
    pump = [sys.executable, "-m", "lambda_router.pump"]
    with (
        running(
            server,
            ready_url=f"{server_url}/health",
            env=env,
            log_path=d.log_dir / "server.log",
            ready_timeout=120,
        ),
        running(pump, env=env, log_path=d.log_dir / "pump.log"),
    ):
        tested = d.step("331")
        assert tested.returncode == 0, tested.stderr
        assert "skipped" not in tested.stderr
        assert wer(sample_scripts["one"], tested.stdout) < 0.5, tested.stdout
        routed = d.step("342", "--timeout", "90")
        assert routed.returncode == 0, routed.stderr + (d.log_dir / "pump.log").read_text()[-3000:]
        assert routed.stdout.strip() == "route: direct"
    left = (
        d.client("s3").list_objects_v2(Bucket=d.bucket, Prefix="audio/deploy-test/").get("KeyCount")
    )
    assert left == 0  # the step deletes its test objects
    with urllib.request.urlopen(f"{d.url}/moto-api/") as response:  # moto still up for phase 5
        assert response.status == 200


# --- phase 5 ---------------------------------------------------------------------------------


def test_5_destroy_asks_then_removes_everything_and_nothing_else(deployment: Deployment) -> None:
    d = deployment
    values = d.values()
    refused = d.step("999")
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert d.client("sqs").get_queue_url(QueueName=f"{d.project}-jobs")["QueueUrl"]
    done = d.step("999", "--yes")
    assert done.returncode == 0, done.stderr
    assert_gone(d, values)
    assert_unrelated_kept(d)
    after = d.values()
    for name in RECORDED:
        assert after[name] == "", f"{name} still recorded after destroy"
    assert after["API_KEY"] == values["API_KEY"]  # settings stay
    again = d.step("999", "--yes")
    assert again.returncode == 0 and again.changes == [], again.stderr


def assert_gone(d: Deployment, values: dict[str, str]) -> None:
    p = d.project
    assert d.client("sqs").list_queues(QueueNamePrefix=p).get("QueueUrls", []) == []
    assert d.bucket not in [b["Name"] for b in d.client("s3").list_buckets()["Buckets"]]
    iam = d.client("iam")
    assert [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(p)] == []
    assert [
        i
        for i in iam.list_instance_profiles()["InstanceProfiles"]
        if i["InstanceProfileName"].startswith(p)
    ] == []
    assert [
        f
        for f in d.client("lambda").list_functions()["Functions"]
        if f["FunctionName"].startswith(p)
    ] == []
    assert d.client("events").list_rules(NamePrefix=p)["Rules"] == []
    ec2 = d.client("ec2")
    reservations = ec2.describe_instances(Filters=[{"Name": "tag:Project", "Values": [p]}])[
        "Reservations"
    ]
    assert {i["State"]["Name"] for r in reservations for i in r["Instances"]} <= {"terminated"}
    assert (
        ec2.describe_security_groups(Filters=[{"Name": "tag:Project", "Values": [p]}])[
            "SecurityGroups"
        ]
        == []
    )
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "tag:Project", "Values": [p]}])[
        "VpcEndpoints"
    ]
    assert {e["State"] for e in endpoints} <= {"deleted"}
    parameters = d.client("ssm").describe_parameters()["Parameters"]
    assert [x for x in parameters if x["Name"].startswith(f"/{p}/")] == []
    repositories = d.client("ecr").describe_repositories()["repositories"]
    assert [r for r in repositories if r["repositoryName"].startswith(p)] == []
    assert (
        d.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[f"{p}-workers"]
        )["AutoScalingGroups"]
        == []
    )
    alarms = d.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{p}-")["MetricAlarms"]
    assert alarms == []


def assert_unrelated_kept(d: Deployment) -> None:
    name = d.unrelated["name"]
    assert name in [b["Name"] for b in d.client("s3").list_buckets()["Buckets"]]
    assert d.client("sqs").get_queue_url(QueueName=name)["QueueUrl"] == d.unrelated["queue"]
    assert d.client("iam").get_role(RoleName=name)["Role"]["RoleName"] == name
    groups = d.client("ec2").describe_security_groups(GroupIds=[d.unrelated["group"]])[
        "SecurityGroups"
    ]
    assert len(groups) == 1
    assert d.client("ssm").get_parameter(Name=f"/{name}/value")["Parameter"]["Value"] == "x"


# --- phase 6 ---------------------------------------------------------------------------------


def test_6_dry_run_changes_nothing(deployment: Deployment) -> None:
    d = deployment
    result = d.step("020", env={"DRY_RUN": "1"})
    assert result.returncode == 0, result.stderr
    assert "dry run: " in result.stderr and "create-queue" in result.stderr
    assert d.client("sqs").list_queues(QueueNamePrefix=d.project).get("QueueUrls", []) == []


def test_6_access_denied_is_not_taken_for_not_found(deployment: Deployment) -> None:
    """With moto's IAM checks on, a user who may not read queues gets AccessDenied from the
    lookup: the step must stop and say so, not go on to create the queue."""
    d = deployment
    iam = d.client("iam")
    user = f"{d.project}-limited"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="list-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    credentials = {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }
    request = urllib.request.Request(
        f"{d.url}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form body would hide the count from moto
    )
    with urllib.request.urlopen(request) as response:  # IAM checks on from here
        assert response.status == 200
    result = d.step("020", env=credentials)
    assert result.returncode != 0
    assert "access denied for 'aws sqs get-queue-url'" in result.stderr, result.stderr
    assert "create-queue" not in result.stderr
    limited = d.client("sqs", key["AccessKeyId"], key["SecretAccessKey"])
    assert limited.list_queues(QueueNamePrefix=d.project).get("QueueUrls", []) == []


# --- without AWS -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SCRIPTS.glob("step-*.sh")), ids=lambda p: p.name[:8])
def test_every_step_has_help_with_its_inputs_and_iam_actions(path: Path) -> None:
    done = subprocess.run(
        ["bash", str(path), "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{path.name}: ")
    assert "Usage: scripts/" + path.name in done.stdout
    assert "IAM actions:" in done.stdout and "Inputs:" in done.stdout


def test_a_missing_setting_is_named(tmp_path: Path) -> None:
    config = tmp_path / "config.env"
    config.write_text("AWS_REGION=us-east-1\nAUDIO_BUCKET=\n")
    done = subprocess.run(
        ["bash", str(SCRIPTS / "step-020-create-sqs-resources.sh")],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CONFIG_FILE": str(config)},
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "missing in" in done.stderr and "AUDIO_BUCKET" in done.stderr


def test_the_router_step_says_to_run_make_lambda_zip(tmp_path: Path) -> None:
    config = tmp_path / "config.env"
    config.write_text(
        "ROUTER_ROLE_ARN=arn:aws:iam::123456789012:role/x\nQUEUE_URL=q\nROUTER_SECURITY_GROUP_ID=sg-1\n"
        f"SUBNET_IDS=subnet-1\nAPI_KEY={'k' * 20}\nROUTER_ZIP={tmp_path}/missing.zip\n"
    )
    done = subprocess.run(
        ["bash", str(SCRIPTS / "step-340-deploy-lambda-router.sh")],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CONFIG_FILE": str(config)},
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "missing.zip is missing: run `make lambda-zip` first" in done.stderr


# Only text is parsed here: nothing is sent anywhere. Loopback-based ranges stand for any.
@pytest.mark.parametrize(
    ("cidr", "min_prefix", "refusal"),
    [
        ("127.0.0.1/32", "16", None),
        ("127.0.0.0/16", "16", None),
        ("127.0.0.0/8", "16", "would open the server to 16777216 addresses"),
        ("127.0.0.1/0", "16", "would open the server to the whole internet"),
        ("127.0.0.0/8", "8", None),  # the setting decides
        ("127.0.0.1", "16", "not an IPv4 CIDR block"),
        ("127.0.0.1/33", "16", "not an IPv4 CIDR block"),
    ],
)
def test_refuse_open_cidr_refuses_ranges_wider_than_the_setting(
    cidr: str, min_prefix: str, refusal: str | None, tmp_path: Path
) -> None:
    done = subprocess.run(
        ["bash", "-c", 'source scripts/lib/common.sh && refuse_open_cidr "$1"', "step-310", cidr],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path),
             "SERVER_ALLOWED_CIDR_MIN_PREFIX": min_prefix},
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if refusal is None:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 1 and refusal in done.stderr, done.stderr


def test_step_001_reports_a_too_wide_range_as_drift(tmp_path: Path) -> None:
    """The validate step uses the same check (before any AWS call it reports the range)."""
    config = tmp_path / "config.env"
    key = "k" * 20
    config.write_text(
        f"SERVER_ALLOWED_CIDR=127.0.0.1/32,127.0.0.0/8\nAPI_KEY={key}\nAPI_KEYS={key}\n"
        "SERVER_URL_PARAMETER=/p/url\nAPI_KEYS_PARAMETER=/p/keys\n"
    )
    done = subprocess.run(
        ["bash", str(SCRIPTS / "step-001-validate-configuration.sh")],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CONFIG_FILE": str(config),
             "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": REGION},
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "DRIFT: SERVER_ALLOWED_CIDR=127.0.0.0/8 would open the server" in done.stderr
    assert "SERVER_ALLOWED_CIDR=127.0.0.1/32" not in done.stderr


def test_the_buckets_get_a_tls_only_policy_that_keeps_other_statements(
    moto_url: str, tmp_path: Path
) -> None:
    """step-030 adds the TLS-only statement (keeping the bucket's others), step-031 reports
    it missing as drift, and step-030 puts it back. On this test's own project in the shared
    moto server: steps 000, 030 and 031 only, with TLS_ONLY_POLICY=true (local mode leaves
    the policy out by default: moto would refuse every plain-HTTP request under it)."""
    project = f"tls{uuid.uuid4().hex[:8]}"
    env = {
        **local_env(moto_url, tmp_path, tmp_path / "config.env", project),
        "TRANSCRIPT_BUCKET": f"{project}-transcripts",
        "TLS_ONLY_POLICY": "true",
    }
    d = Deployment(moto_url, env, tmp_path / "config.env", project, 0, "", tmp_path)
    s3 = d.client("s3")
    other = {
        "Sid": "SomeoneElsesStatement",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteBucket",
        "Resource": f"arn:aws:s3:::{project}-audio",
    }
    s3.create_bucket(Bucket=f"{project}-audio")  # it existed before: its policy is kept
    s3.put_bucket_policy(
        Bucket=f"{project}-audio",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [other]}),
    )
    d.run_ok(["000", "030"], "create")
    for bucket in (f"{project}-audio", f"{project}-transcripts"):
        tls_only_statement(s3, bucket)
    statements = json.loads(s3.get_bucket_policy(Bucket=f"{project}-audio")["Policy"])["Statement"]
    assert other in statements
    assert d.step("031").returncode == 0
    s3.delete_bucket_policy(Bucket=f"{project}-transcripts")
    drifted = d.step("031")
    assert drifted.returncode != 0
    assert f"DRIFT: bucket {project}-transcripts TLS-only policy" in drifted.stderr
    repaired = d.run_ok(["030"], "repair")[0]
    assert any("TLS-only policy" in line for line in repaired.changes)
    tls_only_statement(s3, f"{project}-transcripts")
    assert d.run_ok(["030"], "again")[0].changes == []
