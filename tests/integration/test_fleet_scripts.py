"""The GPU worker fleet's deploy steps (step-350, 351, 352, 380, 381, 999) against moto's server.

moto's Auto Scaling holds groups with mixed-instances policies, lifecycle hooks, warm pool
configurations, target tracking policies with metric math and step policies; its CloudWatch
holds alarms with metric math and dashboards. It evaluates none of them (no alarm fires, no
policy scales, no launch waits for its hook, no instance enters the warm pool): the scaling
decision itself is pinned down by tests/unit/test_scaling.py and replayed by
bench/bench_fleet.py, and a worker on a warm pool box by
tests/integration/test_worker_lifecycle.py. What is checked here of the warm pool is its
configuration only; moto accepts it on a Spot group, which AWS long refused (see
config.env.example).
Here: what the steps create has the documented settings (the first-worker step policy's
step adjustments with the intervals derived from JOBS_PER_WORKER and MAX_WORKERS: moto
stores them as given), a second run changes nothing, a changed setting changes only what it
touches, validate catches drift, destroy removes it all.

The tests are the phases of one deployment and run in order (as in test_deploy_scripts.py,
whose step runner they use).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch_worker.scaling import first_worker_steps
from tests.support.deploy_steps import Deployment, StepResult, local_deployment, step_env
from tests.support.processes import ROOT, moto_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PREPARE = ["000", "010", "020", "300", "310"]  # what step-350 needs: roles, queues, image, network
FLEET = ["350", "351", "380"]
VALIDATE = ["352", "381"]
TYPES = "g6.xlarge,g5.xlarge,g6e.xlarge"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("fleet")
    project = f"fl{uuid.uuid4().hex[:8]}"
    with moto_server(log_path=work / "moto.log") as url:
        env = step_env(
            work,
            url,
            project,
            MAX_WORKERS="6",
            JOBS_PER_WORKER="10",
            WORKER_INSTANCE_TYPES=TYPES,
            WORKER_ON_DEMAND_BASE="1",
        )
        d: Deployment = local_deployment(work, url, project, "", env)
        d.run_ok(PREPARE, "prepare")
        subnets = d.client("ec2").describe_subnets(
            Filters=[{"Name": "default-for-az", "Values": ["true"]}]
        )["Subnets"]
        zones = sorted(subnets, key=lambda s: s["AvailabilityZone"])[:3]
        set_config(d, "GPU_SUBNET_IDS", ",".join(s["SubnetId"] for s in zones))
        yield d


def set_config(d: Deployment, name: str, value: str) -> None:
    lines = [ln for ln in d.config.read_text().splitlines() if not ln.startswith(f"{name}=")]
    d.config.write_text("\n".join([*lines, f"{name}={value}"]) + "\n")


def changes(results: list[StepResult]) -> list[str]:
    return [line for r in results for line in r.changes]


def group(d: Deployment) -> dict[str, Any]:
    (found,) = d.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[f"{d.project}-workers"]
    )["AutoScalingGroups"]
    return dict(found)


def template_versions(d: Deployment) -> list[dict[str, Any]]:
    return list(
        d.client("ec2").describe_launch_template_versions(LaunchTemplateName=f"{d.project}-worker")[
            "LaunchTemplateVersions"
        ]
    )


def warm_pool(d: Deployment) -> dict[str, Any] | None:
    found = d.client("autoscaling").describe_warm_pool(AutoScalingGroupName=f"{d.project}-workers")
    return found.get("WarmPoolConfiguration") or None


def policies(d: Deployment) -> dict[str, dict[str, Any]]:
    found = d.client("autoscaling").describe_policies(AutoScalingGroupName=f"{d.project}-workers")
    return {p["PolicyName"].removeprefix(d.project + "-"): p for p in found["ScalingPolicies"]}


def step_intervals(policy: dict[str, Any]) -> list[tuple[int, int | None, int]]:
    """A step policy's adjustments as (lower bound, upper bound or None, capacity)."""
    return [
        (
            int(s["MetricIntervalLowerBound"]),
            int(s["MetricIntervalUpperBound"]) if "MetricIntervalUpperBound" in s else None,
            s["ScalingAdjustment"],
        )
        for s in policy["StepAdjustments"]
    ]


def alarms(d: Deployment) -> dict[str, dict[str, Any]]:
    found = d.client("cloudwatch").describe_alarms(AlarmNamePrefix=d.project + "-")
    return {a["AlarmName"].removeprefix(d.project + "-"): a for a in found["MetricAlarms"]}


# --- phase 1: create, then nothing changes ------------------------------------------------------


def test_1_the_fleet_steps_create_then_a_second_run_changes_nothing(fleet: Deployment) -> None:
    first = fleet.run_ok(FLEET, "first")
    for result in first:
        assert result.changes, f"step-{result.step} created nothing:\n{result.stderr}"
    again = fleet.run_ok(FLEET, "again")
    assert changes(again) == [], "\n".join(r.stderr for r in again)
    assert len(template_versions(fleet)) == 1


def test_1_the_launch_template_has_imdsv2_an_encrypted_root_and_the_worker_settings(
    fleet: Deployment,
) -> None:
    d = fleet
    (version,) = template_versions(d)
    data = version["LaunchTemplateData"]
    assert data["MetadataOptions"] == {
        "HttpTokens": "required",
        "HttpEndpoint": "enabled",
        "HttpPutResponseHopLimit": 2,
    }
    (disk,) = data["BlockDeviceMappings"]
    assert disk["Ebs"]["Encrypted"] is True and disk["Ebs"]["VolumeType"] == "gp3"
    assert data["IamInstanceProfile"] == {"Name": f"{d.project}-worker"}
    assert data["SecurityGroupIds"] == [d.values()["WORKER_SECURITY_GROUP_ID"]]
    assert "InstanceType" not in data  # the group's overrides choose it
    user_data = base64.b64decode(data["UserData"]).decode()
    assert f"ASG_NAME={d.project}-workers" in user_data
    assert f"LIFECYCLE_HOOK_NAME={d.project}-worker-terminating" in user_data
    assert f"LAUNCH_HOOK_NAME={d.project}-worker-launching" in user_data
    assert "IDLE_TIMEOUT_SECONDS=300" in user_data
    assert "--gpus all" in user_data and "poweroff" not in user_data


def test_1_the_group_is_spot_first_over_several_types_and_zones(fleet: Deployment) -> None:
    d, found = fleet, group(fleet)
    assert (found["MinSize"], found["MaxSize"], found["DesiredCapacity"]) == (0, 6, 0)
    assert found["CapacityRebalance"] is True
    assert found["NewInstancesProtectedFromScaleIn"] is False
    assert found["VPCZoneIdentifier"] == d.values()["GPU_SUBNET_IDS"]
    assert len(set(found["AvailabilityZones"])) == 3
    mixed = found["MixedInstancesPolicy"]
    spec = mixed["LaunchTemplate"]["LaunchTemplateSpecification"]
    assert (spec["LaunchTemplateName"], spec["Version"]) == (f"{d.project}-worker", "$Latest")
    assert [o["InstanceType"] for o in mixed["LaunchTemplate"]["Overrides"]] == TYPES.split(",")
    assert mixed["InstancesDistribution"] == {
        "OnDemandBaseCapacity": 1,
        "OnDemandPercentageAboveBaseCapacity": 0,
        "SpotAllocationStrategy": "price-capacity-optimized",
    }
    assert warm_pool(d) == {  # on by default: every worker the group may run, prepared
        "MaxGroupPreparedCapacity": 6,
        "MinSize": 0,
        "PoolState": "Stopped",
        "InstanceReusePolicy": {"ReuseOnScaleIn": True},
    }
    collected = {m["Metric"] for m in found["EnabledMetrics"]}
    assert "GroupInServiceInstances" in collected
    tags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in found["Tags"]}
    assert tags["Project"] == (d.project, True)
    hooks = {
        h["LifecycleHookName"].removeprefix(d.project + "-"): h
        for h in d.client("autoscaling").describe_lifecycle_hooks(
            AutoScalingGroupName=f"{d.project}-workers"
        )["LifecycleHooks"]
    }
    assert {name: (h["LifecycleTransition"], h["HeartbeatTimeout"], h["DefaultResult"])
            for name, h in hooks.items()} == {
        "worker-terminating": ("autoscaling:EC2_INSTANCE_TERMINATING", 300, "CONTINUE"),
        "worker-launching": ("autoscaling:EC2_INSTANCE_LAUNCHING", 900, "CONTINUE"),
    }  # fmt: skip


def test_1_capacity_follows_backlog_per_in_service_worker(fleet: Deployment) -> None:
    d, found = fleet, policies(fleet)
    tracking = found["backlog-per-worker"]
    config = tracking["TargetTrackingConfiguration"]
    assert tracking["PolicyType"] == "TargetTrackingScaling"
    assert config["TargetValue"] == 10.0 and config["DisableScaleIn"] is False
    metrics = {m["Id"]: m for m in config["CustomizedMetricSpecification"]["Metrics"]}
    (returned,) = [m for m in metrics.values() if m["ReturnData"]]
    assert returned["Expression"] == (
        "(FILL(high, 0) + FILL(normal, 0) + FILL(low, 0)) / inservice"
    )
    queues = {
        i: m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
        for i, m in metrics.items()
        if "MetricStat" in m and m["MetricStat"]["Metric"]["Namespace"] == "AWS/SQS"
    }
    assert queues == {
        "high": f"{d.project}-jobs-high",
        "normal": f"{d.project}-jobs",
        "low": f"{d.project}-jobs-low",
    }
    assert metrics["inservice"]["MetricStat"]["Metric"]["MetricName"] == "GroupInServiceInstances"
    # From zero: the step policy on the first-worker alarm sets ceil(jobs ÷ 10) at once,
    # MAX_WORKERS (6) at most; the bounds are job counts above the alarm's threshold 0.
    step = found["first-worker"]
    assert (step["PolicyType"], step["AdjustmentType"]) == ("StepScaling", "ExactCapacity")
    assert step_intervals(step) == [
        (0, 11, 1),
        (11, 21, 2),
        (21, 31, 3),
        (31, 41, 4),
        (41, 51, 5),
        (51, None, 6),
    ]
    alarm = alarms(d)["first-worker"]
    assert alarm["AlarmActions"] == [step["PolicyARN"]]
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if m["ReturnData"]]
    # With no worker in service, and only for a backlog the launched workers (10 jobs each)
    # cannot take: while the first workers start, the exact capacity it sets only grows.
    assert expression == "IF(FILL(inservice, 0) == 0 AND jobs > FILL(desired, 0) * 10, jobs, 0)"
    names = {
        m["Id"]: m["MetricStat"]["Metric"]["MetricName"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }
    assert (names["inservice"], names["desired"]) == (
        "GroupInServiceInstances",
        "GroupDesiredCapacity",
    )


def test_1_operations_alarms_and_the_dashboard(fleet: Deployment) -> None:
    d, found = fleet, alarms(fleet)
    assert set(found) == {
        "first-worker",
        "dlq-not-empty",
        "oldest-job-over-target",
        "router-breaker-open",
        "no-worker-for-backlog",
    }
    assert found["oldest-job-over-target"]["Threshold"] == 900.0  # BATCH_LATENCY_TARGET_SECONDS
    breaker = found["router-breaker-open"]
    assert breaker["EvaluationPeriods"] == 5
    (metric,) = breaker["Metrics"]
    assert metric["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "route", "Value": "queued"},
        {"Name": "reason", "Value": "breaker_open"},
    ]
    no_worker = found["no-worker-for-backlog"]
    assert no_worker["EvaluationPeriods"] == 15 and no_worker["AlarmActions"] == []
    (waiting,) = [m["Expression"] for m in no_worker["Metrics"] if m["ReturnData"]]
    assert waiting == "IF(FILL(inservice, 0) == 0 AND jobs > FILL(desired, 0) * 0, jobs, 0)"
    first = [m for m in found["first-worker"]["Metrics"] if not m["ReturnData"]]
    assert [m for m in no_worker["Metrics"] if not m["ReturnData"]] == first
    dashboard = d.client("cloudwatch").get_dashboard(DashboardName=d.project)
    body = json.loads(dashboard["DashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert any("Queue depth by priority" in t for t in titles)
    assert any("Workers in service" in t for t in titles)
    assert any("by route" in t for t in titles)
    assert any("realtime factor" in t for t in titles)


# --- phase 2: validate, drift, a changed setting -------------------------------------------


def test_2_validate_passes_then_catches_drift_that_the_create_step_repairs(
    fleet: Deployment,
) -> None:
    d = fleet
    d.run_ok(VALIDATE, "validate")
    scaling = d.client("autoscaling")
    scaling.update_auto_scaling_group(AutoScalingGroupName=f"{d.project}-workers", MaxSize=50)
    hook = f"{d.project}-worker-terminating"
    scaling.delete_lifecycle_hook(
        AutoScalingGroupName=f"{d.project}-workers", LifecycleHookName=hook
    )
    scaling.delete_warm_pool(AutoScalingGroupName=f"{d.project}-workers", ForceDelete=True)
    d.client("cloudwatch").delete_dashboards(DashboardNames=[d.project])
    scaling.put_scaling_policy(  # the old first-worker policy: one worker, then wait for it
        AutoScalingGroupName=f"{d.project}-workers",
        PolicyName=f"{d.project}-first-worker",
        PolicyType="StepScaling",
        AdjustmentType="ExactCapacity",
        MetricAggregationType="Maximum",
        StepAdjustments=[{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
    )
    checked = d.step("352")
    assert checked.returncode != 0
    assert "DRIFT: Auto Scaling group" in checked.stderr
    assert f"DRIFT: lifecycle hook {hook}" in checked.stderr
    assert "DRIFT: warm pool" in checked.stderr
    assert f"DRIFT: scaling policy {d.project}-first-worker" in checked.stderr
    assert "DRIFT: dashboard" in d.step("381").stderr
    assert group(d)["MaxSize"] == 50  # validate changes nothing
    assert warm_pool(d) is None
    repaired = d.run_ok(["350", "380"], "repair")
    assert len(changes(repaired)) == 4, changes(repaired)
    assert group(d)["MaxSize"] == 6
    assert warm_pool(d) is not None and warm_pool(d)["MaxGroupPreparedCapacity"] == 6
    (steps,) = changes(d.run_ok(["351"], "repair the steps"))
    assert f"scaling policy {d.project}-first-worker set to" in steps
    assert len(step_intervals(policies(d)["first-worker"])) == 6
    d.run_ok(VALIDATE, "validate again")


def test_2_a_changed_setting_changes_only_what_it_touches(fleet: Deployment) -> None:
    d = fleet
    set_config(d, "IDLE_TIMEOUT_SECONDS", "120")
    set_config(d, "JOBS_PER_WORKER", "25")
    set_config(d, "WORKER_WARM_POOL_SIZE", "2")
    results = d.run_ok(["350", "351"], "changed settings")
    assert [line.split(": changed: ")[1].split(" set to ")[0] for line in changes(results)] == [
        f"launch template {d.project}-worker",
        f"warm pool of {d.project}-workers",
        f"scaling policy {d.project}-backlog-per-worker",
        f"scaling policy {d.project}-first-worker",  # its intervals follow JOBS_PER_WORKER
        f"alarm {d.project}-first-worker",  # and so does its alarm (jobs per launched worker)
    ]
    pool = warm_pool(d)
    assert pool is not None and pool["MaxGroupPreparedCapacity"] == 2
    assert (pool["PoolState"], pool["MinSize"]) == ("Stopped", 0)
    versions = template_versions(d)
    assert len(versions) == 2
    latest = max(versions, key=lambda v: v["VersionNumber"])
    assert (
        "IDLE_TIMEOUT_SECONDS=120"
        in base64.b64decode(latest["LaunchTemplateData"]["UserData"]).decode()
    )
    tracking = policies(d)["backlog-per-worker"]["TargetTrackingConfiguration"]
    assert tracking["TargetValue"] == 25.0
    assert step_intervals(policies(d)["first-worker"])[:2] == [(0, 26, 1), (26, 51, 2)]
    assert changes(d.run_ok(FLEET, "unchanged again")) == []
    set_config(d, "WORKER_WARM_POOL_SIZE", "0")
    (deleted,) = changes(d.run_ok(["350"], "no warm pool"))
    assert deleted.endswith(f"deleted the warm pool of {d.project}-workers")
    assert warm_pool(d) is None
    d.run_ok(VALIDATE, "validate without a warm pool")
    set_config(d, "WORKER_WARM_POOL_SIZE", "")
    assert changes(d.run_ok(["350"], "the default warm pool again")) != []
    assert warm_pool(d) is not None and warm_pool(d)["MaxGroupPreparedCapacity"] == 6


def test_2_above_20_workers_the_first_worker_steps_are_coarser(fleet: Deployment) -> None:
    """AWS allows 20 step adjustments a policy: MAX_WORKERS 25 gets 20 steps up to 25."""
    d = fleet
    set_config(d, "MAX_WORKERS", "25")
    d.run_ok(["351"], "25 workers")
    got = step_intervals(policies(d)["first-worker"])
    assert len(got) == 20
    assert got[:2] == [(0, 26, 1), (26, 51, 2)]  # JOBS_PER_WORKER is 25 by now
    assert got[-1] == (23 * 25 + 1, None, 25)
    assert [(s.lower, s.upper, s.capacity) for s in first_worker_steps(25, 25)] == got
    set_config(d, "MAX_WORKERS", "6")
    d.run_ok(["351"], "6 workers again")
    assert len(step_intervals(policies(d)["first-worker"])) == 6
    d.run_ok(VALIDATE, "validate at 6 workers")


def test_2_dry_run_and_bad_settings_change_nothing(fleet: Deployment) -> None:
    d = fleet
    set_config(d, "MAX_WORKERS", "9")
    dry = d.step("350", "--dry-run")
    assert dry.returncode == 0 and "dry run, not changed" in dry.stderr
    assert group(d)["MaxSize"] == 6
    set_config(d, "WORKER_INSTANCE_TYPES", "")
    refused = d.step("350")
    assert refused.returncode != 0 and "WORKER_INSTANCE_TYPES is empty" in refused.stderr
    set_config(d, "WORKER_INSTANCE_TYPES", TYPES)
    set_config(d, "WORKER_ON_DEMAND_PERCENTAGE", "150")
    refused = d.step("350")
    assert "WORKER_ON_DEMAND_PERCENTAGE must be 0..100, got '150'" in refused.stderr
    set_config(d, "WORKER_ON_DEMAND_PERCENTAGE", "0")
    set_config(d, "MAX_WORKERS", "6")
    set_config(d, "WORKER_WARM_POOL_SIZE", "7")
    refused = d.step("350")
    assert refused.returncode != 0
    assert "WORKER_WARM_POOL_SIZE must be a whole number from 0 to MAX_WORKERS (6)" in (
        refused.stderr
    )
    set_config(d, "WORKER_WARM_POOL_SIZE", "")


def refusing_aws_cli(d: Deployment) -> Path:
    """A stand-in for AWS refusing a warm pool on this Spot, mixed instances group (AWS's
    PutWarmPool documents the refusal; moto accepts the pool): the real CLI for every call but
    put-warm-pool, which fails with the ValidationError AWS sends."""
    shim = d.config.parent / "aws-refusing-warm-pools"
    shim.write_text(
        "#!/usr/bin/env bash\n"
        "for arg; do\n"
        "  if [[ $arg == put-warm-pool ]]; then\n"
        "    echo 'An error occurred (ValidationError) when calling the PutWarmPool operation:"
        " You cannot add a warm pool to an Auto Scaling group that has a mixed instances policy"
        " or a launch template that requests Spot Instances.' >&2\n"
        "    exit 254\n"
        "  fi\n"
        "done\n"
        f'exec {ROOT / ".venv" / "bin" / "aws"} "$@"\n'
    )
    shim.chmod(0o755)
    return shim


def test_2_a_refused_default_warm_pool_is_recorded_and_the_fleet_goes_on_without(
    fleet: Deployment,
) -> None:
    d = fleet
    scaling = d.client("autoscaling")
    scaling.delete_warm_pool(AutoScalingGroupName=f"{d.project}-workers", ForceDelete=True)
    set_config(d, "AWS_CLI", str(refusing_aws_cli(d)))
    refused = d.run_ok(["350"], "the default pool refused")
    assert f"AWS refused a warm pool on {d.project}-workers" in refused[0].stderr
    assert d.values()["WORKER_WARM_POOL_REFUSED"] != ""
    assert warm_pool(d) is None
    set_config(d, "AWS_CLI", "")
    assert changes(d.run_ok(["350"], "refused: unchanged")) == []  # it does not ask again
    d.run_ok(VALIDATE, "validate: no pool expected after the refusal")
    set_config(d, "AWS_CLI", str(refusing_aws_cli(d)))
    set_config(d, "WORKER_WARM_POOL_SIZE", "2")  # a size set by hand is required
    stopped = d.step("350")
    assert stopped.returncode != 0 and "ValidationError" in stopped.stderr
    set_config(d, "AWS_CLI", "")
    set_config(d, "WORKER_WARM_POOL_SIZE", "")
    d.record("WORKER_WARM_POOL_REFUSED", "")  # cleared: the default pool is asked for again
    d.run_ok(["350"], "the default pool again")
    pool = warm_pool(d)
    assert pool is not None and pool["MaxGroupPreparedCapacity"] == 6
    d.run_ok(VALIDATE, "validate with the pool")


# --- phase 3: destroy ----------------------------------------------------------------------------


def test_3_destroy_removes_the_group_template_alarms_and_dashboard(fleet: Deployment) -> None:
    d = fleet
    done = d.step("999", "--yes")
    assert done.returncode == 0, done.stderr
    assert (
        d.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[f"{d.project}-workers"]
        )["AutoScalingGroups"]
        == []
    )
    with pytest.raises(d.client("ec2").exceptions.ClientError, match="NotFound"):
        template_versions(d)
    assert alarms(d) == {}
    with pytest.raises(d.client("cloudwatch").exceptions.ClientError, match="ResourceNotFound"):
        d.client("cloudwatch").get_dashboard(DashboardName=d.project)
    again = d.step("999", "--yes")
    assert again.returncode == 0 and again.changes == [], again.stderr


def test_the_steps_help_names_their_settings(fleet: Deployment) -> None:
    example = (ROOT / "config.env.example").read_text()
    for number, names in {
        "350": (
            "WORKER_INSTANCE_TYPES",
            "WORKER_ON_DEMAND_BASE",
            "GPU_SUBNET_IDS",
            "MAX_WORKERS",
            "WORKER_WARM_POOL_SIZE",
            "WORKER_LAUNCH_TIMEOUT_SECONDS",
        ),
        "351": ("JOBS_PER_WORKER", "BATCH_LATENCY_TARGET_SECONDS"),
        "380": ("ALARM_BREAKER_OPEN_MINUTES", "ALARM_NO_WORKER_MINUTES", "ALARM_TOPIC_ARN"),
    }.items():
        shown = fleet.step(number, "--help")
        assert shown.returncode == 0 and shown.changes == []
        for name in names:
            assert name in shown.stdout, f"step-{number} --help does not name {name}"
            assert f"\n{name}=" in example, f"{name} is not documented in config.env.example"
