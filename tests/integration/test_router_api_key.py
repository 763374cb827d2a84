"""The router's API key from the server's SSM SecureString (moto over HTTP), cached per warm
container; ``API_KEY`` still wins locally. The key is never a Lambda environment variable."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_router.api_key import ApiKeySource, first_key
from lambda_router.handler import handle
from lambda_router.parameter import CachedParameter
from tests.conftest import unique
from tests.support import router_kit
from tests.support.aws_calls import AwsCalls
from tests.support.router_kit import RouterKit, context
from transcription.aws import make_client
from transcription.settings import AwsSettings

server, clients, kit = router_kit.server, router_kit.clients, router_kit.kit

KEY = "audio/keyed/one.wav"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parameter(aws_client: Any) -> str:
    """The server's keys, as step-320 stores them: a SecureString, comma-separated."""
    name = f"/{unique('proj')}/api-keys"
    aws_client("ssm").put_parameter(
        Name=name, Value="first-key-0123456789,second-key-0123456789", Type="SecureString"
    )
    return name


def test_the_router_sends_the_first_key_of_the_servers_securestring(
    kit: RouterKit, parameter: str
) -> None:
    kit.server.api_key = "first-key-0123456789"
    try:
        etag, size = kit.upload(KEY)
        router = kit.router(api_key=None, api_key_parameter=parameter)
        [result] = handle(router, kit.event(KEY, etag, size), context())
        assert result["route"] == "direct", result
        [post] = kit.server.seen("/transcribe-s3")
        assert post.headers["authorization"] == "Bearer first-key-0123456789"
        assert kit.calls.names.count("GetParameter") == 1
    finally:
        kit.server.api_key = None


def test_the_key_is_read_once_per_ttl_and_a_rotated_key_is_picked_up(
    aws_client: Any, aws_settings: AwsSettings, parameter: str
) -> None:
    calls = AwsCalls()
    ssm = calls.watch(make_client("ssm", aws_settings))
    clock = Clock()
    source = ApiKeySource(
        key=None, parameter=CachedParameter(parameter, lambda: ssm, 300, decrypt=True, clock=clock)
    )
    assert [source.get() for _ in range(5)] == ["first-key-0123456789"] * 5
    assert calls.names == ["GetParameter"]  # one read for the warm container
    aws_client("ssm").put_parameter(
        Name=parameter, Value="rotated-key-0123456789\n", Type="SecureString", Overwrite=True
    )
    clock.now += 299
    assert source.get() == "first-key-0123456789"
    clock.now += 1
    assert source.get() == "rotated-key-0123456789"
    assert calls.names == ["GetParameter", "GetParameter"]


def test_ssm_failing_keeps_the_last_key_and_a_missing_parameter_gives_none(
    aws_settings: AwsSettings, parameter: str
) -> None:
    clock = Clock()
    ssm = make_client("ssm", aws_settings)
    reachable = [True]

    def client() -> Any:
        if reachable[0]:
            return ssm
        return make_client(
            "ssm",
            AwsSettings(aws_region="us-east-1", aws_endpoint_url="http://127.0.0.1:9"),
            max_attempts=1,
        )

    cached = CachedParameter(parameter, client, 10, decrypt=True, clock=clock)
    source = ApiKeySource(key=None, parameter=cached)
    assert source.get() == "first-key-0123456789"
    reachable[0] = False
    clock.now += 60
    assert source.get() == "first-key-0123456789"
    missing = CachedParameter("/no/such/parameter", lambda: ssm, 10, clock=clock)
    assert ApiKeySource(key=None, parameter=missing).get() is None


def test_api_key_wins_and_needs_no_ssm() -> None:
    def no_ssm() -> Any:
        raise AssertionError("SSM must not be asked")

    source = ApiKeySource(key="local-key-0123456789", parameter=CachedParameter("/p", no_ssm, 1))
    assert source.get() == "local-key-0123456789"
    assert (first_key(" a , b "), first_key("\n"), first_key(None)) == ("a", None, None)
