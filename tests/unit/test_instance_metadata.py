"""The IMDSv2 client against the metadata stand-in (a real HTTP server on 127.0.0.1), the
running realtime factor, the shortened grace period, and the instance settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from batch_worker.exceptions import MetadataUnavailable
from batch_worker.instance_metadata import InstanceMetadata, SpotNotice
from batch_worker.lifecycle import InstanceLifecycle, Running, Speed
from batch_worker.settings import InstanceSettings, WorkerSettings
from batch_worker.shutdown import Shutdown
from tests.stand_ins.imds import ImdsStandIn
from tests.support.processes import free_port
from transcription.exceptions import SettingsError
from transcription.settings import load


@pytest.fixture
def imds() -> Iterator[ImdsStandIn]:
    with ImdsStandIn("i-0123456789abcdef0") as stand_in:
        yield stand_in


def test_reads_instance_id_with_one_token_for_many_requests(imds: ImdsStandIn) -> None:
    metadata = InstanceMetadata(imds.url)
    assert metadata.instance_id() == "i-0123456789abcdef0"
    assert metadata.target_lifecycle_state() == "InService"
    assert metadata.spot_notice() is None  # 404: no notice
    assert imds.tokens_issued == 1
    assert imds.refused == 0


def test_a_get_without_a_token_is_refused_by_the_stand_in(imds: ImdsStandIn) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(imds.url + "/latest/meta-data/instance-id", timeout=2)
    assert refused.value.code == 401


def test_a_refused_token_is_replaced_once(imds: ImdsStandIn) -> None:
    metadata = InstanceMetadata(imds.url)
    metadata.instance_id()
    imds.expire_tokens()
    assert metadata.instance_id() == "i-0123456789abcdef0"
    assert imds.tokens_issued == 2
    assert imds.refused == 1


def test_the_token_is_renewed_before_it_expires(imds: ImdsStandIn) -> None:
    metadata = InstanceMetadata(imds.url, token_ttl=2)  # renewed after 1 s (half the ttl)
    metadata.instance_id()
    time.sleep(1.2)
    metadata.instance_id()
    assert imds.tokens_issued == 2
    assert imds.refused == 0  # renewed before the stand-in would refuse it


def test_spot_notice_is_parsed_with_its_deadline(imds: ImdsStandIn) -> None:
    imds.interrupt(in_seconds=120, action="terminate")
    notice = InstanceMetadata(imds.url).spot_notice()
    assert notice is not None
    assert notice.action == "terminate"
    assert 100 < notice.seconds_left() <= 120


def test_an_unreadable_notice_is_a_named_error() -> None:
    with pytest.raises(MetadataUnavailable, match="instance-action"):
        SpotNotice.parse('{"action": "terminate"}')


def test_an_unreachable_service_is_a_named_error_quickly() -> None:
    metadata = InstanceMetadata(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    with pytest.raises(MetadataUnavailable, match="api/token"):
        metadata.instance_id()


def test_lifecycle_is_off_without_asg_name_and_without_metadata() -> None:
    shutdown = Shutdown(90)
    never = lambda: pytest.fail("no Auto Scaling client off a group")  # noqa: E731
    assert InstanceLifecycle.from_settings(InstanceSettings(), shutdown, never) is None
    endpoint = f"http://127.0.0.1:{free_port()}"
    unreachable = InstanceSettings(asg_name="w", imds_endpoint=endpoint, imds_timeout_seconds=0.5)
    assert InstanceLifecycle.from_settings(unreachable, shutdown, never) is None


def test_speed_estimates_the_running_job_from_recent_jobs() -> None:
    speed = Speed()
    job = Running(message=None, audio_seconds=100.0, started=0.0)  # type: ignore[arg-type]
    assert speed.remaining(job, now=10.0) == 90.0  # unknown speed: assume realtime
    speed.record(audio_seconds=10.0, seconds=1.0)
    assert speed.realtime_factor == pytest.approx(0.1)
    assert speed.remaining(job, now=4.0) == pytest.approx(6.0)
    speed.record(audio_seconds=10.0, seconds=2.0)  # smoothed, not replaced
    assert 0.1 < (speed.realtime_factor or 0) < 0.2


def test_a_request_within_shortens_the_grace_but_never_lengthens_it() -> None:
    shutdown = Shutdown(grace_seconds=90)
    shutdown.request("spot", within=0.2)
    assert shutdown.requested.is_set() and not shutdown.expired()
    shutdown.request("later", within=60)  # cannot give more time than the notice left
    time.sleep(0.3)
    assert shutdown.expired()


def test_a_second_plain_request_still_ends_the_grace() -> None:
    shutdown = Shutdown(grace_seconds=90)
    shutdown.request("SIGTERM")
    assert not shutdown.expired()
    shutdown.request("SIGTERM")
    assert shutdown.expired()


def test_instance_settings_load_with_their_names_and_defaults() -> None:
    base = {"QUEUE_URL": "http://127.0.0.1:1/123456789012/jobs", "AUDIO_BUCKET": "audio"}
    settings = load(WorkerSettings, base).instance
    assert not settings.enabled
    assert settings.idle_timeout_seconds == 300
    env = {**base, "ASG_NAME": "p-workers", "IDLE_TIMEOUT_SECONDS": "10",
           "PROTECTION_IDLE_SECONDS": "20", "IMDS_ENDPOINT": "http://127.0.0.1:9"}  # fmt: skip
    settings = load(WorkerSettings, env).instance
    assert settings.enabled and settings.asg_name == "p-workers"
    assert settings.unprotect_after == 10  # never past the idle timeout
    with pytest.raises(SettingsError, match="IDLE_TIMEOUT_SECONDS"):
        load(WorkerSettings, {**base, "IDLE_TIMEOUT_SECONDS": "0"})
    with pytest.raises(SettingsError, match="IMDS_ENDPOINT"):
        load(WorkerSettings, {**base, "IMDS_ENDPOINT": "127.0.0.1:9"})


def test_stand_in_answers_concurrent_pollers(imds: ImdsStandIn) -> None:
    metadata = InstanceMetadata(imds.url)
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            for _ in range(20):
                metadata.spot_notice()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert imds.tokens_issued == 1  # one token shared under the lock
