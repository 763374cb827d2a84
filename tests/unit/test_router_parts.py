"""Small parts of the router: health answers, Retry-After, EMF lines, settings, imports."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from lambda_router.health import HealthState, interpret
from lambda_router.metrics import Metrics
from lambda_router.settings import PumpSettings, RouterSettings
from lambda_router.transport import retry_after_seconds
from tests.support.processes import ROOT
from transcription.exceptions import SettingsError
from transcription.settings import load

HEAVY = ("numpy", "av", "faster_whisper", "fastapi", "ctranslate2", "uvicorn", "httpx")


def test_importing_the_router_imports_nothing_heavy() -> None:
    code = (
        "import json, sys\n"
        "import lambda_router.handler, lambda_router.pump\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        (
            {"status": "ok", "ready": True, "busy": False, "in_flight": 0, "capacity": 2},
            HealthState.READY,
        ),
        (
            {"status": "ok", "ready": True, "busy": True, "in_flight": 2, "capacity": 2},
            HealthState.BUSY,
        ),
        ({"status": "ok", "ready": True, "in_flight": 2, "capacity": 2}, HealthState.BUSY),
        ({"status": "ok", "ready": True, "in_flight": 1, "capacity": 2}, HealthState.READY),
        ({"status": "starting", "ready": False}, HealthState.NOT_READY),
        (["not", "an", "object"], HealthState.DOWN),
        (None, HealthState.DOWN),
    ],
)
def test_health_answers(answer: object, state: HealthState) -> None:
    assert interpret(answer).state is state


def test_retry_after_seconds_and_dates() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(later, now=now.timestamp()) == pytest.approx(30.0)
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(earlier, now=now.timestamp()) == 0.0


def test_emf_line_declares_the_metrics_it_carries() -> None:
    stream = io.StringIO()
    record = {
        "route": "queued",
        "reason": "server_down",
        "output_key": "t/a.wav.json",
        "attempts": 0,
        "elapsed_ms": 12.5,
    }
    Metrics("TestNamespace", stream=stream).emit(record)
    [line] = stream.getvalue().splitlines()
    data = json.loads(line)
    directive = data["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "TestNamespace"
    assert isinstance(data["_aws"]["Timestamp"], int)
    for metric in directive["Metrics"]:
        assert isinstance(data[metric["Name"]], int | float)  # every declared metric has a value
    for dimensions in directive["Dimensions"]:
        assert all(isinstance(data[d], str) for d in dimensions)
    assert {d for ds in directive["Dimensions"] for d in ds} == {"route", "reason"}
    assert data["route"] == "queued" and data["elapsed_ms"] == 12.5 and data["events"] == 1


def test_settings_from_the_environment() -> None:
    env = {
        "AUDIO_BUCKET": "audio-bucket",
        "QUEUE_URL": "http://127.0.0.1:5000/123456789012/jobs",
        "BREAKER_FAILURES": "5",
        "DIRECT_MAX_BYTES": "1000",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
    }
    settings = load(RouterSettings, env)
    assert settings.breaker_failures == 5 and settings.direct_max_bytes == 1000
    assert settings.storage.audio_bucket == "audio-bucket"
    # moto's server sends raw keys in EventBridge events; AWS encodes them.
    assert settings.keys_encoded_in_eventbridge is False
    assert load(RouterSettings, {**env, "AWS_ENDPOINT_URL": ""}).keys_encoded_in_eventbridge is True
    forced = {**env, "EVENTBRIDGE_KEYS_ENCODED": "true"}
    assert load(RouterSettings, forced).keys_encoded_in_eventbridge is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AUDIO_BUCKET": "b"}, "QUEUE_URL"),
        ({"QUEUE_URL": "q"}, "AUDIO_BUCKET"),
        ({"AUDIO_BUCKET": "b", "QUEUE_URL": "q", "BREAKER_FAILURES": "0"}, "BREAKER_FAILURES"),
        (
            {"AUDIO_BUCKET": "b", "QUEUE_URL": "q", "TIMEOUT_QUEUE_DELAY_SECONDS": "901"},
            "TIMEOUT_QUEUE_DELAY",
        ),
        ({"AUDIO_BUCKET": "b", "QUEUE_URL": "q", "API_KEY": "changeme"}, "API_KEY"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load(RouterSettings, env)


def test_pump_settings() -> None:
    settings = load(PumpSettings, {"EVENTS_QUEUE_URL": "q", "LAMBDA_TIMEOUT_SECONDS": "3"})
    assert settings.lambda_timeout_seconds == 3.0
    with pytest.raises(SettingsError, match="EVENTS_QUEUE_URL"):
        load(PumpSettings, {})
