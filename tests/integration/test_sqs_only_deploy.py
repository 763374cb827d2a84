"""The router deployed SQS-only, as the design says to start: no GPU server, no network step.

Steps 000–021, 030 and 340–342 against moto's server with no SERVER_URL: step-340 deploys the
router outside any VPC without the server's settings, the event pump (moto cannot run
Lambda code) routes every upload to the jobs queue with reason ``no_server``, and the real
worker (``python -m batch_worker``, tiny.en) drains it into transcripts. step-342 then runs
against the pump and a worker: "route: batch".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_deploy_scripts import build_router_zip
from tests.support.deploy_steps import REGION, Deployment, local_deployment, step_env
from tests.support.jobs import queue_counts
from tests.support.processes import ROOT, moto_server, running

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

STEPS = ["000", "001", "010", "011", "020", "021", "030", "340", "341"]  # 000–021, 030, 340…
SAMPLES = ("speech-one.wav", "speech-two.wav", "speech-three.wav")


@pytest.fixture(scope="module")
def sqs_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("sqs-only")
    project = f"sq{uuid.uuid4().hex[:8]}"
    router_zip, note = build_router_zip(work)
    with moto_server(log_path=work / "moto.log") as url:
        env = step_env(work, url, project, ROUTER_ZIP=str(router_zip))
        d: Deployment = local_deployment(work, url, project, note, env)
        d.run_ok(STEPS, "sqs-only")
        yield d


def process_env(d: Deployment) -> dict[str, str]:
    """The router's (pump) and the worker's settings: config.env, as `make up` passes it."""
    return {
        **d.values(),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "PYTHONUNBUFFERED": "1",
        "MODEL": "tiny.en",
        "ENGINE": "faster-whisper",
        "DEVICE": "cpu",
    }


def wait_for(what: str, check: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}")


def test_step_340_needs_no_network_and_sets_no_server(sqs_only: Deployment) -> None:
    d = sqs_only
    (deployed,) = [r for r in d.results["sqs-only"] if r.step == "340"]
    assert "deployed SQS-only" in deployed.stderr
    values = d.values()
    assert values["SERVER_URL"] == "" and values["ROUTER_SECURITY_GROUP_ID"] == ""
    config = d.client("lambda").get_function_configuration(FunctionName=f"{d.project}-router")
    assert not config.get("VpcConfig", {}).get("SubnetIds")
    environment = config["Environment"]["Variables"]
    assert environment["QUEUE_URL"] == values["QUEUE_URL"]
    assert "SERVER_URL_PARAMETER" not in environment and "API_KEY_PARAMETER" not in environment
    endpoints = d.client("ec2").describe_vpc_endpoints(
        Filters=[{"Name": "tag:Project", "Values": [d.project]}]
    )["VpcEndpoints"]
    assert endpoints == []
    again = d.step("340")
    assert again.returncode == 0 and again.changes == [], again.stderr


def test_every_upload_is_queued_with_reason_no_server_and_the_worker_drains_it(
    sqs_only: Deployment,
) -> None:
    d, s3, sqs = sqs_only, sqs_only.client("s3"), sqs_only.client("sqs")
    queue = d.values()["QUEUE_URL"]
    keys = [f"audio/sqs-only/{name}" for name in SAMPLES]
    pump = [sys.executable, "-m", "lambda_router.pump"]
    with running(pump, env=process_env(d), log_path=d.log_dir / "pump.log"):
        for key, name in zip(keys, SAMPLES, strict=True):
            body = (ROOT / "tests" / "samples" / name).read_bytes()
            s3.put_object(Bucket=d.bucket, Key=key, Body=body)
        wait_for("3 queued jobs", lambda: queue_counts(sqs, queue)[0] == len(keys))
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
    jobs = [json.loads(m["Body"]) for m in received["Messages"]]
    assert sorted(j["key"] for j in jobs) == sorted(keys)
    assert {j["reason"] for j in jobs} == {"no_server"}
    worker = subprocess_run([sys.executable, "-m", "batch_worker", "--once"], process_env(d))
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert queue_counts(sqs, queue) == (0, 0)
    for key in keys:
        output = "transcripts/" + key.removeprefix("audio/") + ".json"
        transcript = json.loads(s3.get_object(Bucket=d.bucket, Key=output)["Body"].read())
        assert transcript["route"] == "batch" and transcript["text"].strip()


def test_step_342_sees_the_upload_go_through_the_queue(sqs_only: Deployment) -> None:
    d = sqs_only
    env, pump, worker = process_env(d), "lambda_router.pump", "batch_worker"
    with (
        running([sys.executable, "-m", pump], env=env, log_path=d.log_dir / "p2.log"),
        running([sys.executable, "-m", worker], env=env, log_path=d.log_dir / "w.log"),
    ):
        routed = d.step("342", "--timeout", "240")
    assert routed.returncode == 0, routed.stderr + (d.log_dir / "w.log").read_text()[-3000:]
    assert routed.stdout.strip() == "route: batch"


def subprocess_run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """As :func:`running` starts processes: this machine's environment under ``env``."""
    return subprocess.run(
        args,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
