"""API keys: constant-time lookup, the SSM parameter (moto over HTTP), refusing to start."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from fastapi_server.auth import KeyRing, key_id, load_keys
from fastapi_server.exceptions import NoApiKeys
from fastapi_server.settings import ServerSettings
from transcription.exceptions import SettingsError
from transcription.settings import load

KEY = "k-0123456789abcdefghij"


def settings(**env: str) -> ServerSettings:
    return load(ServerSettings, {"AUDIO_BUCKET": "audio", **env})


def test_identify_accepts_only_configured_keys() -> None:
    ring = KeyRing([KEY, "another-key-0123456789"])
    assert ring.identify(KEY) == key_id(KEY)
    assert KEY not in ring.identify(KEY)  # type: ignore[operator]
    assert ring.identify(KEY + "x") is None
    assert ring.identify("") is None
    assert ring.identify(None) is None
    assert not ring.anonymous


def test_no_key_refuses_to_start_unless_anonymous_is_explicit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(NoApiKeys, match="ALLOW_ANONYMOUS"):
        load_keys(settings(), ssm=lambda: None)
    with caplog.at_level(logging.WARNING):
        ring = load_keys(settings(ALLOW_ANONYMOUS="true"), ssm=lambda: None)
    assert ring.anonymous
    assert "every endpoint is open" in caplog.text


def test_keys_with_allow_anonymous_still_need_a_key() -> None:
    ring = load_keys(settings(API_KEYS=KEY, ALLOW_ANONYMOUS="true"), ssm=lambda: None)
    assert not ring.anonymous


def test_a_placeholder_key_is_refused() -> None:
    with pytest.raises(SettingsError, match="placeholder"):
        settings(API_KEYS="changeme")


def test_keys_from_an_ssm_securestring_join_api_keys(aws_client: Any) -> None:
    ssm = aws_client("ssm")
    name = f"/test/{uuid.uuid4().hex}/keys"
    ssm.put_parameter(
        Name=name, Type="SecureString", Value="from-ssm-0123456789,\nsecond-ssm-0123456789\n"
    )
    ring = load_keys(settings(API_KEYS=KEY, API_KEYS_PARAMETER=name), ssm=lambda: ssm)
    assert len(ring) == 3
    assert ring.identify("second-ssm-0123456789") is not None


def test_a_missing_parameter_adds_no_keys_and_no_keys_at_all_still_refuses(
    aws_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ssm = aws_client("ssm")
    missing = f"/test/{uuid.uuid4().hex}/absent"
    with caplog.at_level(logging.WARNING):
        ring = load_keys(settings(API_KEYS=KEY, API_KEYS_PARAMETER=missing), ssm=lambda: ssm)
    assert len(ring) == 1 and ring.identify(KEY)
    assert "does not exist" in caplog.text
    with pytest.raises(NoApiKeys):
        load_keys(settings(API_KEYS_PARAMETER=missing), ssm=lambda: ssm)
