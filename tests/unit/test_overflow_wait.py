"""The overflow's wait estimate, hand-computed, on the planner's fleet arithmetic."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from lambda_router.overflow import estimate_wait, fleet_figures
from tests.support.processes import ROOT
from transcription.exceptions import SettingsError
from transcription.managed.settings import OverflowSettings
from transcription.planner.figures import load_figures
from transcription.settings import load


def test_wait_is_backlog_over_the_whole_fleet_plus_the_job_on_one_instance() -> None:
    # 12 queued jobs x 300 s = 3,600 s of audio; 2 workers x 18.6 = 37.2 s/s:
    # wait 3,600 / 37.2 = 96.774 s; the job's 600 s on one instance: 600 / 18.6 = 32.258 s.
    estimate = estimate_wait(12, 600, mean_job_audio_seconds=300, max_workers=2, speed=18.6)
    assert estimate.backlog_audio_seconds == 3600
    assert estimate.fleet_speed == pytest.approx(37.2)
    assert estimate.wait_seconds == pytest.approx(96.774, abs=1e-3)
    assert estimate.processing_seconds == pytest.approx(32.258, abs=1e-3)
    assert estimate.finish_seconds == pytest.approx(129.032, abs=1e-3)
    assert estimate.misses(120)  # 129 s > 120 s
    assert not estimate.misses(130)


def test_more_workers_that_can_start_shorten_the_wait() -> None:
    # The same backlog on 6 workers: 3,600 / 111.6 = 32.258 s + 32.258 s = 64.5 s.
    estimate = estimate_wait(12, 600, mean_job_audio_seconds=300, max_workers=6, speed=18.6)
    assert estimate.finish_seconds == pytest.approx(64.516, abs=1e-3)
    assert not estimate.misses(120)


def test_no_backlog_waits_for_nothing_and_no_workers_forever() -> None:
    assert (
        estimate_wait(0, 60, mean_job_audio_seconds=300, max_workers=1, speed=4.3).wait_seconds == 0
    )
    none = estimate_wait(1, 60, mean_job_audio_seconds=300, max_workers=0, speed=4.3)
    assert math.isinf(none.wait_seconds) and none.misses(10**9)


def test_the_speed_comes_from_the_planners_figures() -> None:
    figures = load_figures()
    settings = OverflowSettings(model="tiny.en", worker_instance_types=("c7i.large", "g5.xlarge"))
    speed, minimum = fleet_figures(settings, figures)
    assert speed == figures.speed_on("tiny.en", "c7i.large").speed == 18.6
    assert minimum == figures.transcribe.minimum_seconds_per_job == 15


def test_an_unknown_model_or_instance_type_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="WORKER_INSTANCE_TYPES"):
        fleet_figures(OverflowSettings(worker_instance_types=("p9.huge",)), load_figures())


@pytest.mark.parametrize(
    ("field", "value", "name"),
    [
        ("overflow", "aws", "OVERFLOW"),
        ("batch_deadline_seconds", 0.0, "BATCH_DEADLINE_SECONDS"),
        ("overflow_max_concurrent_jobs", 0, "OVERFLOW_MAX_CONCURRENT_JOBS"),
        ("overflow_prefix", "overflow", "OVERFLOW_PREFIX"),
    ],
)
def test_bad_settings_name_the_variable(field: str, value: object, name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        OverflowSettings(**{field: value})  # type: ignore[arg-type]


def test_every_overflow_setting_is_documented_in_config_env_example() -> None:
    example = (ROOT / "config.env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    names = {f.name.upper() for f in dataclasses.fields(OverflowSettings)}
    assert names - documented == set()
    section = example.split("# --- Managed overflow", 1)[1].split("\n# --- ", 1)[0]
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", section, re.MULTILINE))
    assert not load(OverflowSettings, values).enabled  # the example's own values load: off
