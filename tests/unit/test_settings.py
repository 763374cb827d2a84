"""Settings from the environment: required names, placeholder secrets, typed parsing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from transcription.exceptions import SettingsError
from transcription.settings import (
    AwsSettings,
    EngineSettings,
    StorageSettings,
    load,
    secret,
)


@dataclass(frozen=True)
class WorkerSettings:
    storage: StorageSettings
    engine: EngineSettings
    queue_url: str
    api_key: str = secret()


def test_missing_required_variable_is_named() -> None:
    with pytest.raises(SettingsError, match=r"^AUDIO_BUCKET is required"):
        load(StorageSettings, {})
    with pytest.raises(SettingsError, match=r"^AUDIO_BUCKET is required"):
        load(StorageSettings, {"AUDIO_BUCKET": ""})
    env = {"AUDIO_BUCKET": "b", "API_KEY": "k-123"}
    with pytest.raises(SettingsError, match=r"^QUEUE_URL is required"):
        load(WorkerSettings, env)


def test_nested_settings_load_from_the_same_environment() -> None:
    env = {
        "AUDIO_BUCKET": "audio",
        "OUTPUT_PREFIX": "out/",
        "MODEL": "large-v3",
        "QUEUE_URL": "http://127.0.0.1:5000/123456789012/jobs",
        "API_KEY": "k-8f3a2c",
    }
    settings = load(WorkerSettings, env)
    assert settings.storage == StorageSettings(audio_bucket="audio", output_prefix="out/")
    assert settings.storage.output_bucket == "audio"
    assert settings.engine.model == "large-v3" and settings.engine.device == "cpu"
    assert settings.queue_url.endswith("/jobs")
    assert "k-8f3a2c" not in repr(settings)  # secrets stay out of logs


@pytest.mark.parametrize("value", ["changeme", "CHANGEME", " change-me ", "secret", "xxx", "todo"])
def test_placeholder_secret_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^HF_TOKEN holds a placeholder"):
        load(EngineSettings, {"HF_TOKEN": value})


def test_real_secret_is_accepted() -> None:
    assert load(EngineSettings, {"HF_TOKEN": "hf_AbC123"}).hf_token == "hf_AbC123"
    assert load(EngineSettings, {}).hf_token is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("on", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
    ],
)
def test_bool(raw: str, expected: bool) -> None:
    assert load(EngineSettings, {"WHISPERX_DIARIZE": raw}).whisperx_diarize is expected


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^WHISPERX_ALIGN='maybe' is not a valid bool"):
        load(EngineSettings, {"WHISPERX_ALIGN": "maybe"})
    with pytest.raises(SettingsError, match=r"^BATCH_SIZE='eight' is not a valid int"):
        load(EngineSettings, {"BATCH_SIZE": "eight"})
    with pytest.raises(SettingsError, match=r"^MAX_AUDIO_SECONDS='1h' is not a valid float"):
        load(EngineSettings, {"MAX_AUDIO_SECONDS": "1h"})


def test_numbers() -> None:
    settings = load(EngineSettings, {"BATCH_SIZE": "16", "MAX_AUDIO_SECONDS": "90.5"})
    assert settings.batch_size == 16 and settings.max_audio_seconds == 90.5


def test_tuple_is_comma_separated() -> None:
    env = {"AUDIO_BUCKET": "b", "OUTPUT_FORMATS": " json, srt,,vtt "}
    assert load(StorageSettings, env).output_formats == ("json", "srt", "vtt")


def test_optional_empty_is_none_and_defaults_apply() -> None:
    storage = load(StorageSettings, {"AUDIO_BUCKET": "a", "TRANSCRIPT_BUCKET": ""})
    assert storage.transcript_bucket is None and storage.output_bucket == "a"
    assert (
        load(StorageSettings, {"AUDIO_BUCKET": "a", "TRANSCRIPT_BUCKET": "t"}).output_bucket == "t"
    )
    assert load(EngineSettings, {"COMPUTE_TYPE": ""}).compute_type is None
    assert load(EngineSettings, {}) == EngineSettings()
    assert load(AwsSettings, {}) == AwsSettings(aws_region=None, aws_endpoint_url=None)


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE", "whisperx")
    monkeypatch.setenv("DEVICE", "cuda")
    settings = load(EngineSettings)
    assert (settings.engine, settings.device) == ("whisperx", "cuda")


def test_log_level_names_a_wrong_value_and_accepts_any_case() -> None:
    from transcription.logging import log_level

    assert log_level(" debug ") == "DEBUG"
    with pytest.raises(SettingsError, match="LOG_LEVEL='loud'"):
        log_level("loud")
