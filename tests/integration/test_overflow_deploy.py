"""The managed overflow's deploy steps, in local mode against moto's server.

With ``OVERFLOW=transcribe`` step-010 adds the router's second inline policy, router-overflow
(Transcribe, the overflow's S3 keys, writing transcripts), step-011 checks it, and turning the
overflow off removes it again, so without the overflow the router still writes error records
only. step-341 explains that the Transcribe rule is not made in local mode (the event pump
polls). step-999 deletes the role with both policies.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.deploy_steps import Deployment, local_deployment, step_env
from tests.support.processes import moto_server


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    work: Path = tmp_path_factory.mktemp("overflow-deploy")
    project = f"ov{uuid.uuid4().hex[:8]}"
    with moto_server(log_path=work / "moto.log") as url:
        d = local_deployment(work, url, project, "", step_env(work, url, project))
        d.run_ok(["000"], "configure")
        yield d


def set_config(d: Deployment, name: str, value: str) -> None:
    lines = [ln for ln in d.config.read_text().splitlines() if not ln.startswith(f"{name}=")]
    d.config.write_text("\n".join([*lines, f"{name}={value}"]) + "\n")


def router_policies(d: Deployment) -> list[str]:
    names = d.client("iam").list_role_policies(RoleName=f"{d.project}-router")["PolicyNames"]
    return sorted(names)


def overflow_policy(d: Deployment) -> dict[str, Any]:
    iam = d.client("iam")
    document = iam.get_role_policy(RoleName=f"{d.project}-router", PolicyName="router-overflow")
    found = document["PolicyDocument"]
    return dict(json.loads(found) if isinstance(found, str) else found)


def test_the_overflow_policy_follows_the_setting(deployment: Deployment) -> None:
    d = deployment
    d.run_ok(["010"], "without overflow")
    assert router_policies(d) == ["router"]
    set_config(d, "OVERFLOW", "transcribe")
    d.run_ok(["010", "011"], "overflow on")
    assert router_policies(d) == ["router", "router-overflow"]
    statements = {s["Sid"]: s for s in overflow_policy(d)["Statement"]}
    jobs = statements["ManagedOverflowJobs"]
    assert jobs["Resource"] == (
        "arn:aws:transcribe:us-east-1:123456789012:transcription-job/overflow-*"
    )
    assert statements["ManagedOverflowState"]["Resource"] == (f"arn:aws:s3:::{d.bucket}/overflow/*")
    [again] = d.run_ok(["010"], "overflow on again")
    assert again.changes == []  # idempotent
    set_config(d, "OVERFLOW", "")
    [off] = d.run_ok(["010"], "overflow off")
    assert any("router-overflow" in line for line in off.changes), off.stderr
    assert router_policies(d) == ["router"]
    d.run_ok(["011"], "validated without it")


def test_step_341_says_the_transcribe_rule_is_not_local(deployment: Deployment) -> None:
    d = deployment
    set_config(d, "OVERFLOW", "transcribe")
    d.run_ok(["010", "020"], "queues")
    [trigger] = d.run_ok(["341"], "trigger")
    assert f"rule {d.project}-transcribe-jobs: not in local mode" in trigger.stderr
    rules = d.client("events").list_rules(NamePrefix=d.project)["Rules"]
    assert [r["Name"] for r in rules] == [f"{d.project}-audio-uploaded"]
    destroyed = d.step("999", "--yes")
    assert destroyed.returncode == 0, destroyed.stderr
    iam = d.client("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=f"{d.project}-router")
