"""The worker's own box on an Auto Scaling group: moto's Auto Scaling over HTTP (a launch
template and a group holding one instance) and the IMDSv2 stand-in reporting that instance.

- a busy worker is protected from scale-in, once for a run of jobs; idle, it drops the
  protection, then removes itself with a decrement and exits;
- a Spot notice during a long job: the job (and the prefetched one) is back on the queue at
  once and a second worker finishes it, one transcript each;
- a Spot notice during a short job (the real tiny.en): it finishes, then the worker leaves;
- a box initializing for the warm pool (``Warmed:Stopped``): the real ``python -m batch_worker``
  loads the model, takes no job, and transcribes the waiting one once the box is
  ``InService``; ``Warmed:Terminated`` instead: it leaves without one.

moto does not implement ``CompleteLifecycleAction`` (its server answers 500): the worker logs
that failure, and these tests assert the call was made with the right arguments and that the
failure was logged, not hidden.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from batch_worker.lifecycle import InstanceLifecycle
from batch_worker.prefetch import RunLimits
from batch_worker.settings import InstanceSettings, WorkerSettings
from batch_worker.shutdown import Shutdown
from batch_worker.worker import RunSummary, Worker
from tests.conftest import unique
from tests.server.harness import silent_wav
from tests.stand_ins.imds import ImdsStandIn
from tests.support.jobs import enqueue, queue_counts, upload_job
from tests.support.processes import spawn, stop
from transcription.inference.engines.base import TranscribeOptions
from transcription.settings import AwsSettings, EngineSettings, StorageSettings
from transcription.transcript import Segment, Transcript

pytestmark = pytest.mark.slow

LEASE_SECONDS = 60  # long, so a message back "at once" is told apart from a lease running out
SAMPLE_RATE = 16000


# --- the group -------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    name: str
    hook: str
    instance_id: str
    autoscaling: Any

    def instance(self) -> dict[str, Any] | None:
        found = self.autoscaling.describe_auto_scaling_instances(InstanceIds=[self.instance_id])
        return next(iter(found["AutoScalingInstances"]), None)

    def lifecycle_state(self) -> str:
        """What IMDS reports for the box: the group's state, Terminated once it is gone."""
        instance = self.instance()
        return "Terminated" if instance is None else str(instance["LifecycleState"])

    def desired(self) -> int:
        groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self.name])
        return int(groups["AutoScalingGroups"][0]["DesiredCapacity"])


@pytest.fixture
def group(aws_client: Any) -> Group:
    ec2, autoscaling = aws_client("ec2"), aws_client("autoscaling")
    template = unique("worker")
    ec2.create_launch_template(
        LaunchTemplateName=template,
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "g5.xlarge"},
    )
    name, hook = unique("workers"), unique("worker-terminating")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=1,
        AvailabilityZones=["us-east-1a"],
    )
    autoscaling.put_lifecycle_hook(
        AutoScalingGroupName=name,
        LifecycleHookName=hook,
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=300,
        DefaultResult="CONTINUE",
    )
    described = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    instance_id = described["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    return Group(name, hook, instance_id, autoscaling)


@pytest.fixture
def imds(group: Group) -> Iterator[ImdsStandIn]:
    with ImdsStandIn(group.instance_id, follow=group.lifecycle_state) as stand_in:
        yield stand_in


class AutoScalingCalls:
    """Every Auto Scaling call the worker's client made, with its arguments, in order."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-parameter-build.autoscaling", self._on_call)

    def _on_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


# --- engines ---------------------------------------------------------------------------
@dataclass
class PacedEngine:
    """A stand-in engine whose job takes ``realtime_factor`` × the audio's seconds.

    It waits on ``cut`` instead of sleeping, so a test can end a long job at teardown; with
    a ``gate`` every job first waits until the test opens it.
    """

    realtime_factor: float
    name: str = "paced-stand-in"
    model: str = "stand-in"
    device: str = "cpu"
    started: threading.Event = field(default_factory=threading.Event)
    cut: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event | None = None
    calls: int = 0

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcript:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(60), "the test never opened the gate"
        seconds = len(audio) / SAMPLE_RATE
        self.cut.wait(seconds * self.realtime_factor)
        text = f"stand-in transcript of {seconds:.0f} s"
        segment = Segment(id=0, start=0.0, end=seconds, text=text)
        return Transcript(text, "en", seconds, (segment,), self.name, self.model, self.device)


@dataclass
class GatedEngine:
    """The real engine, run only once ``before`` (called as the job starts) has returned."""

    engine: Any
    before: Callable[[], None]

    def __post_init__(self) -> None:
        self.name, self.model, self.device = self.engine.name, "tiny.en", self.engine.device

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcript:
        self.before()
        return self.engine.transcribe(audio, options)  # type: ignore[no-any-return]


# --- a worker on the group -------------------------------------------------------------
@dataclass
class OnGroup:
    worker: Worker
    calls: AutoScalingCalls
    lifecycle: InstanceLifecycle
    summary: RunSummary | None = None
    thread: threading.Thread | None = None

    def start(self, limits: RunLimits | None = None) -> OnGroup:
        def run() -> None:
            self.summary = self.worker.run(limits or RunLimits())  # default: the lifecycle ends it

        self.thread = threading.Thread(target=run, name="worker-under-test", daemon=True)
        self.thread.start()
        return self

    def join(self, timeout: float = 60.0) -> RunSummary:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the worker did not stop by itself"
        assert self.summary is not None
        return self.summary


def worker_settings(
    aws_settings: AwsSettings, bucket: str, queue: str, instance: InstanceSettings | None = None
) -> WorkerSettings:
    return WorkerSettings(
        aws=aws_settings,
        engine=EngineSettings(),
        storage=StorageSettings(audio_bucket=bucket),
        queue_url=queue,
        dlq_url=queue,  # no job here is malformed
        wait_time_seconds=1,
        visibility_timeout=LEASE_SECONDS,
        heartbeat_seconds=5,
        instance=instance or InstanceSettings(),
    )


@pytest.fixture
def on_group(
    aws_client: Any, aws_settings: AwsSettings, bucket: str, queue_url: str, group: Group,
    imds: ImdsStandIn,
) -> Callable[..., OnGroup]:  # fmt: skip
    def make(engine: Any, **instance: Any) -> OnGroup:
        settings = worker_settings(
            aws_settings,
            bucket,
            queue_url,
            InstanceSettings(
                asg_name=group.name,
                lifecycle_hook_name=group.hook,
                imds_endpoint=imds.url,
                imds_poll_seconds=0.2,
                **instance,
            ),
        )
        client = aws_client("autoscaling")
        calls = AutoScalingCalls(client)
        shutdown = Shutdown(settings.shutdown_grace_seconds)
        lifecycle = InstanceLifecycle.from_settings(settings.instance, shutdown, lambda: client)
        assert lifecycle is not None, "the stand-in metadata service was not reachable"
        worker = Worker(
            settings,
            engine,
            sqs=aws_client("sqs"),
            s3=aws_client("s3"),
            dlq_url=queue_url,
            shutdown=shutdown,
            lifecycle=lifecycle,
        )
        return OnGroup(worker, calls, lifecycle)

    return make


def plain_worker(
    aws_client: Any, aws_settings: AwsSettings, bucket: str, queue: str, engine: Any
) -> Worker:
    """A second worker, off any group (as every worker off AWS)."""
    settings = worker_settings(aws_settings, bucket, queue)
    return Worker(settings, engine, sqs=aws_client("sqs"), s3=aws_client("s3"), dlq_url=queue)


def hook_completion(group: Group) -> tuple[str, dict[str, Any]]:
    return (
        "CompleteLifecycleAction",
        {
            "AutoScalingGroupName": group.name,
            "LifecycleHookName": group.hook,
            "InstanceId": group.instance_id,
            "LifecycleActionResult": "CONTINUE",
        },
    )


def versions(s3: Any, bucket: str, key: str) -> int:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return sum(1 for v in listed.get("Versions", ()) if v["Key"] == key)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition``; the seconds it took (fails after ``timeout``)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def assert_hook_completion_attempted_and_failure_logged(
    on: OnGroup, group: Group, caplog: pytest.LogCaptureFixture
) -> None:
    assert on.calls.calls[-1] == hook_completion(group)
    # moto has no CompleteLifecycleAction: the failure is logged as an error, not hidden.
    failures = [r for r in caplog.records if "CompleteLifecycleAction failed" in r.getMessage()]
    assert failures and failures[0].levelno == logging.ERROR


# --- tests -----------------------------------------------------------------------------
def test_busy_worker_is_protected_once_then_idle_unprotects_and_removes_itself(
    on_group: Callable[..., OnGroup],
    group: Group,
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    samples: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="batch_worker")
    jobs = [
        upload_job(s3, bucket, f"audio/busy/{i}-{name}.wav", samples[name])
        for i, name in enumerate(sorted(samples))
    ]
    for job in jobs:
        enqueue(sqs, queue_url, job)
    gate = threading.Event()
    engine = PacedEngine(realtime_factor=0.0, gate=gate)  # the test looks while the first runs
    on = on_group(engine, idle_timeout_seconds=3, protection_idle_seconds=1).start()

    engine.started.wait(30)
    wait_until(lambda: bool((group.instance() or {}).get("ProtectedFromScaleIn")), 10, "protection")
    gate.set()  # the jobs run; the queue empties; after 1 s unprotected, after 3 s gone
    summary = on.join()

    assert summary.outcomes == {"transcribed": len(jobs)}
    assert queue_counts(sqs, queue_url) == (0, 0)
    # Protected once for the whole run of jobs, unprotected once idle, then gone.
    assert on.calls.names()[:3] == [
        "SetInstanceProtection",
        "SetInstanceProtection",
        "TerminateInstanceInAutoScalingGroup",
    ]
    (_, protect), (_, unprotect), (_, leave) = on.calls.calls[:3]
    assert protect["ProtectedFromScaleIn"] is True
    assert protect["InstanceIds"] == [group.instance_id]
    assert unprotect["ProtectedFromScaleIn"] is False
    assert leave == {"InstanceId": group.instance_id, "ShouldDecrementDesiredCapacity": True}
    assert group.instance() is None  # out of the group
    assert group.desired() == 0  # decremented: no replacement is started
    assert_hook_completion_attempted_and_failure_logged(on, group, caplog)


def test_spot_notice_during_a_long_job_hands_it_back_at_once_and_another_worker_finishes(
    on_group: Callable[..., OnGroup],
    aws_client: Any,
    aws_settings: AwsSettings,
    group: Group,
    imds: ImdsStandIn,
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="batch_worker")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    # Two 60 s jobs at realtime: the one running and the prefetched one; neither fits 25 s.
    jobs = [upload_job(s3, bucket, f"audio/long/{i}.wav", silent_wav(60)) for i in range(2)]
    for job in jobs:
        enqueue(sqs, queue_url, job)
    slow = PacedEngine(realtime_factor=1.0)
    on = on_group(slow, spot_notice_margin_seconds=5).start()
    try:
        slow.started.wait(30)
        wait_until(lambda: on.worker.jobs.held() == 2, 10, "the second job prefetched")
        assert queue_counts(sqs, queue_url) == (0, 2)

        imds.interrupt(in_seconds=30)  # 30 s minus the 5 s margin: 25 s for a 60 s job
        back = wait_until(lambda: queue_counts(sqs, queue_url)[0] == 2, 30, "both jobs back")
        summary = on.join()
    finally:
        slow.cut.set()  # the abandoned engine call ends; its result is dropped

    # Back through ChangeMessageVisibility(0), not by the 60 s lease running out.
    assert back < LEASE_SECONDS / 10, f"back after {back:.2f} s"
    logging.getLogger(__name__).warning("both jobs back %.2f s after the notice", back)
    assert summary.outcomes == {"released": 2}
    assert summary.clean
    assert "SetInstanceProtection" in on.calls.names()
    assert "TerminateInstanceInAutoScalingGroup" not in on.calls.names()  # Spot takes the box
    assert_hook_completion_attempted_and_failure_logged(on, group, caplog)

    fast = PacedEngine(realtime_factor=0.0)
    second = plain_worker(aws_client, aws_settings, bucket, queue_url, fast)
    assert second.run(RunLimits.once()).outcomes == {"transcribed": 2}
    wait_until(lambda: on.worker.running is None, 10, "the abandoned job to end")
    assert queue_counts(sqs, queue_url) == (0, 0)
    for job in jobs:
        assert versions(s3, bucket, job.output_key) == 1  # one transcript, written once
    assert slow.calls == 1  # the prefetched job never reached the first worker's engine


def test_spot_notice_during_a_short_job_finishes_it_then_the_worker_leaves(
    on_group: Callable[..., OnGroup],
    engine: Any,
    group: Group,
    imds: ImdsStandIn,
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    samples: dict[str, Path],
    sample_scripts: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="batch_worker")
    jobs = {
        name: upload_job(s3, bucket, f"audio/short/{name}.wav", samples[name])
        for name in ("one", "two")
    }
    for job in jobs.values():
        enqueue(sqs, queue_url, job)
    holder: list[OnGroup] = []

    def notice_first() -> None:
        """As the job starts: post the notice and wait until the worker has taken it in."""
        if imds.spot_action is None:
            imds.interrupt(in_seconds=120)
            wait_until(lambda: holder[0].lifecycle.reason == "spot", 10, "the notice seen")

    on = on_group(GatedEngine(engine, notice_first))
    holder.append(on)
    on.start()
    summary = on.join(timeout=120)

    # The running job (a few seconds of speech, within 120 - 15 s) finished; the other went
    # back at once.
    assert summary.outcomes == {"transcribed": 1, "released": 1}
    assert summary.clean
    assert queue_counts(sqs, queue_url) == (1, 0)
    done = [name for name, job in jobs.items() if versions(s3, bucket, job.output_key)]
    assert len(done) == 1
    transcript = s3.get_object(Bucket=bucket, Key=jobs[done[0]].output_key)["Body"].read()
    assert sample_scripts[done[0]].split()[0].lower().strip(".,") in transcript.decode().lower()
    assert "TerminateInstanceInAutoScalingGroup" not in on.calls.names()
    assert_hook_completion_attempted_and_failure_logged(on, group, caplog)


def test_scale_in_of_the_busy_box_hands_back_a_job_longer_than_the_grace(
    on_group: Callable[..., OnGroup],
    group: Group,
    imds: ImdsStandIn,
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Target lifecycle state Terminated (scale-in, rebalancing): the grace period is the
    budget; a 120 s job at realtime does not fit the default 90 s."""
    caplog.set_level(logging.INFO, logger="batch_worker")
    enqueue(sqs, queue_url, upload_job(s3, bucket, "audio/long/scaled-in.wav", silent_wav(120)))
    slow = PacedEngine(realtime_factor=1.0)
    on = on_group(slow).start()
    try:
        slow.started.wait(30)
        imds.follow = None
        imds.lifecycle_state = "Terminated"
        wait_until(lambda: queue_counts(sqs, queue_url)[0] == 1, 30, "the job back")
        summary = on.join()
    finally:
        slow.cut.set()
    assert on.lifecycle.reason == "terminated"
    assert summary.outcomes == {"released": 1}
    assert "TerminateInstanceInAutoScalingGroup" not in on.calls.names()  # the group does it
    assert_hook_completion_attempted_and_failure_logged(on, group, caplog)


def test_a_run_that_ends_by_itself_drops_the_protection_and_stays_in_the_group(
    on_group: Callable[..., OnGroup],
    group: Group,
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    samples: dict[str, Path],
) -> None:
    """``--once``: the box was protected for its job; after the run the group may scale it in."""
    enqueue(sqs, queue_url, upload_job(s3, bucket, "audio/once/one.wav", samples["one"]))
    gate = threading.Event()
    engine = PacedEngine(realtime_factor=0.0, gate=gate)  # the job waits for the gate
    on = on_group(engine)
    on.start(RunLimits.once())
    engine.started.wait(30)
    wait_until(lambda: bool((group.instance() or {}).get("ProtectedFromScaleIn")), 10, "protection")
    gate.set()
    summary = on.join()
    assert summary.outcomes == {"transcribed": 1}
    assert [params["ProtectedFromScaleIn"] for _, params in on.calls.calls] == [True, False]
    instance = group.instance()
    assert instance is not None and instance["ProtectedFromScaleIn"] is False
    assert group.desired() == 1


# --- the warm pool: the real worker process ----------------------------------------------
WARM_START_TIMEOUT = 90.0  # import + model load on a busy machine


def log_lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def said(path: Path, text: str) -> bool:
    return any(text in line["message"] for line in log_lines(path))


@pytest.fixture
def warm_box(
    group: Group, imds: ImdsStandIn, bucket: str, queue_url: str, tmp_path: Path
) -> Iterator[Callable[[str], tuple[Any, Path]]]:
    """``warm_box("Warmed:Stopped")``: ``python -m batch_worker --once`` on the group's box,
    whose metadata says that state (then what the test sets in ``imds.lifecycle_state``),
    returned once the worker has loaded its model and said it is prepared."""
    imds.follow = None
    started: list[Any] = []
    log_path = tmp_path / "worker.log"

    def start(pool_state: str) -> tuple[Any, Path]:
        imds.lifecycle_state = pool_state
        env = {
            "QUEUE_URL": queue_url,
            "DLQ_URL": queue_url,
            "AUDIO_BUCKET": bucket,
            "WAIT_TIME_SECONDS": "1",
            "CPU_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            "ASG_NAME": group.name,
            "LIFECYCLE_HOOK_NAME": group.hook,
            "LAUNCH_HOOK_NAME": "worker-launching",
            "IMDS_ENDPOINT": imds.url,
            "IMDS_POLL_SECONDS": "0.2",
        }
        process = spawn(
            [sys.executable, "-m", "batch_worker", "--once"], env=env, log_path=log_path
        )
        started.append(process)
        wait_until(lambda: said(log_path, "prepared, taking no job"), WARM_START_TIMEOUT, "ready")
        return process, log_path

    yield start
    for process in started:
        stop(process)


@pytest.mark.parametrize("pool_state", ["Warmed:Stopped", "Warmed:Running", "Warmed:Hibernated"])
def test_a_warm_pool_box_takes_no_job_until_in_service_then_transcribes_it_once(
    warm_box: Callable[[str], tuple[Any, Path]],
    imds: ImdsStandIn,
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    samples: dict[str, Path],
    sample_scripts: dict[str, str],
    pool_state: str,
) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    job = upload_job(s3, bucket, "audio/warm/one.wav", samples["one"])
    enqueue(sqs, queue_url, job)
    # Model loaded, warm pool state seen: prepared, the launch hook completed (moto has no
    # CompleteLifecycleAction: the attempt fails and is logged), and no job taken.
    process, log_path = warm_box(pool_state)
    seen = imds.served["/latest/meta-data/autoscaling/target-lifecycle-state"]
    wait_until(
        lambda: imds.served["/latest/meta-data/autoscaling/target-lifecycle-state"] >= seen + 10,
        10,
        "the worker asking again while it waits",
    )  # about 2 s more of waiting: 10 long polls' worth with WAIT_TIME_SECONDS=1
    assert process.poll() is None
    assert queue_counts(sqs, queue_url) == (1, 0)  # nothing received: the job still visible
    assert not said(log_path, "worker started")
    assert said(log_path, "CompleteLifecycleAction failed")

    imds.lifecycle_state = "InService"  # the group starts the box for a scale-out
    assert process.wait(120) == 0, log_path.read_text()
    assert said(log_path, "target lifecycle state InService: taking jobs")
    assert queue_counts(sqs, queue_url) == (0, 0)
    assert versions(s3, bucket, job.output_key) == 1  # transcribed once
    transcript = json.loads(s3.get_object(Bucket=bucket, Key=job.output_key)["Body"].read())
    assert sample_scripts["one"].split()[0].lower().strip(".,") in transcript["text"].lower()


def test_a_warm_pool_box_terminated_while_it_waits_leaves_without_a_job(
    warm_box: Callable[[str], tuple[Any, Path]],
    imds: ImdsStandIn,
    s3: Any,
    sqs: Any,
    bucket: str,
    queue_url: str,
    samples: dict[str, Path],
) -> None:
    enqueue(sqs, queue_url, upload_job(s3, bucket, "audio/warm/two.wav", samples["two"]))
    process, log_path = warm_box("Warmed:Stopped")
    imds.lifecycle_state = "Warmed:Terminated"  # the pool shrinks (MAX_WORKERS lowered)
    assert process.wait(30) == 0, log_path.read_text()
    assert said(log_path, "target lifecycle state Warmed:Terminated before the first job")
    assert not said(log_path, "worker started")
    assert queue_counts(sqs, queue_url) == (1, 0)  # the job waits for another worker
