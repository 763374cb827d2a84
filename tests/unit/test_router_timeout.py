"""The attempt timeout follows the work; the enqueue reserve follows the SQS client."""

from __future__ import annotations

import pytest

from lambda_router.router import aws_client
from lambda_router.settings import ClientLimits, RouterSettings
from lambda_router.timeout import SLACK, AttemptTimeout
from transcription.settings import AwsSettings, StorageSettings, load

TIMEOUT = AttemptTimeout(
    floor=10.0, ceiling=120.0, realtime_factor=0.5, audio_bytes_per_second=16_000
)


def test_a_small_object_gets_the_floor_and_a_huge_one_the_ceiling() -> None:
    assert TIMEOUT.for_object(0) == 10.0
    assert TIMEOUT.for_object(1_000) == pytest.approx(10.0 + SLACK * 1_000 / 16_000 * 0.5)
    assert TIMEOUT.for_object(100_000_000) == 120.0


def test_the_servers_reported_speed_wins_over_the_configured_one() -> None:
    minute = 60 * 16_000  # a minute of audio, by size
    assert TIMEOUT.expected_seconds(minute) == pytest.approx(30.0)
    assert TIMEOUT.expected_seconds(minute, realtime_factor=0.05) == pytest.approx(3.0)
    assert TIMEOUT.for_object(minute, realtime_factor=0.05) == pytest.approx(10.0 + SLACK * 3.0)
    for nonsense in (0.0, -1.0, None):  # not a speed: the configured factor
        assert TIMEOUT.expected_seconds(minute, nonsense) == pytest.approx(30.0)


@pytest.mark.parametrize(
    ("limits", "worst"),
    [
        (ClientLimits(1.0, 3.0, 1), 4.0),
        (ClientLimits(1.0, 3.0, 2), 2 * 4.0 + 1.0),  # botocore's standard backoff: ≤ 1 s, 2 s, …
        (ClientLimits(1.0, 3.0, 3), 3 * 4.0 + 1.0 + 2.0),
        (ClientLimits(0.5, 0.5, 8), 8 * 1.0 + 1 + 2 + 4 + 8 + 16 + 20 + 20),  # capped at 20 s
    ],
)
def test_the_worst_case_of_a_client(limits: ClientLimits, worst: float) -> None:
    assert limits.worst_case_seconds == pytest.approx(worst)


def test_the_sqs_client_and_the_reserve_come_from_the_same_settings() -> None:
    settings = RouterSettings(
        storage=StorageSettings(audio_bucket="b"),
        queue_url="q",
        aws=AwsSettings(aws_region="us-east-1", aws_endpoint_url="http://127.0.0.1:1"),
        sqs_connect_timeout_seconds=0.7,
        sqs_read_timeout_seconds=2.5,
        sqs_max_attempts=3,
    )
    config = aws_client("sqs", settings).meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.7, 2.5)
    assert config.retries["total_max_attempts"] == 3  # make_client(max_attempts=2): retries
    assert settings.enqueue_reserve_seconds == ClientLimits(0.7, 2.5, 3).worst_case_seconds


def test_timeout_settings_are_checked() -> None:
    base = {"AUDIO_BUCKET": "b", "QUEUE_URL": "q"}
    defaults = load(RouterSettings, base)
    assert (defaults.direct_timeout_min_seconds, defaults.direct_timeout_seconds) == (10.0, 120.0)
    with pytest.raises(Exception, match="DIRECT_TIMEOUT_SECONDS must be >="):
        load(
            RouterSettings,
            {**base, "DIRECT_TIMEOUT_MIN_SECONDS": "30", "DIRECT_TIMEOUT_SECONDS": "20"},
        )
