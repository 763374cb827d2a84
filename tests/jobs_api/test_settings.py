"""The jobs API's settings: validated at start, every one documented in config.env.example."""

from __future__ import annotations

import dataclasses
import re
import typing

import pytest

from jobs_api.settings import JobsSettings
from tests.support.processes import ROOT
from transcription.exceptions import SettingsError
from transcription.settings import load

BASE = {"AUDIO_BUCKET": "audio", "QUEUE_URL": "http://127.0.0.1:1/q"}


def _variables(cls: type) -> set[str]:
    hints = typing.get_type_hints(cls)
    names: set[str] = set()
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        names |= _variables(kind) if dataclasses.is_dataclass(kind) else {f.name.upper()}
    return names


def test_every_setting_is_documented_in_config_env_example() -> None:
    example = (ROOT / "config.env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    assert _variables(JobsSettings) - documented == set()


def test_the_examples_own_values_load() -> None:
    example = (ROOT / "config.env.example").read_text()
    section = example.split("# --- Jobs API", 1)[1]
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", section, re.MULTILINE))
    settings = load(JobsSettings, {**BASE, **values})
    assert settings.jobs_api_host == "127.0.0.1"
    assert settings.queue_urls == {p: BASE["QUEUE_URL"] for p in ("high", "normal", "low")}
    assert settings.allowed_buckets == {"audio"}


def test_queue_url_is_required_and_named() -> None:
    with pytest.raises(SettingsError, match="QUEUE_URL"):
        load(JobsSettings, {"AUDIO_BUCKET": "audio"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOBS_MAX_ITEMS", "0"),
        ("JOBS_URL_SECONDS", "999999999"),
        ("WEBHOOK_MAX_ATTEMPTS", "0"),
        ("JOBS_MAX_BASE64_MB", "-1"),
        ("JOBS_ADMIN_KEY", "changeme"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load(JobsSettings, {**BASE, name: value})
