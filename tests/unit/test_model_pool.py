"""The model pool with the real models: choosing, lazy loading, per-model limits, idle unload.

The clock is the test's own, so "idle for MODEL_IDLE_UNLOAD_SECONDS" needs no sleeping.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from transcription.exceptions import SettingsError, UnknownModel
from transcription.inference.audio import decode_audio
from transcription.inference.engines import Engine, TranscribeOptions, load_engine
from transcription.inference.engines.pool import ModelPool, parse_model_concurrency
from transcription.settings import EngineSettings, load

pytestmark = pytest.mark.slow

IDLE = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingLoader:
    """The real ``load_engine``, counting loads per model name."""

    def __init__(self) -> None:
        self.loads: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, settings: EngineSettings) -> Engine:
        with self.lock:
            self.loads.append(settings.model)
        return load_engine(settings)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def loader() -> CountingLoader:
    return CountingLoader()


def make_pool(clock: Clock, loader: CountingLoader, **settings: Any) -> ModelPool:
    defaults: dict[str, Any] = {
        "model": "tiny.en",
        "models": ("tiny.en", "base"),
        "model_idle_unload_seconds": IDLE,
    }
    return ModelPool(replace(EngineSettings(), **{**defaults, **settings}), loader, clock)


def test_requests_choose_among_the_allowed_models_and_others_are_refused_by_name(
    clock: Clock, loader: CountingLoader
) -> None:
    pool = make_pool(clock, loader, models=("base",))
    assert pool.allowed == ("tiny.en", "base")  # MODEL is always served
    assert pool.resolve(None) == pool.resolve("") == "tiny.en"
    assert pool.resolve("base") == "base"
    with pytest.raises(UnknownModel, match="'large-v3'") as refused:
        pool.resolve("large-v3")
    assert refused.value.permanent  # a job naming it fails with an error record
    assert loader.loads == []  # choosing loads nothing


def test_model_concurrency_overrides_concurrency_per_model_and_bad_entries_name_the_value(
    clock: Clock, loader: CountingLoader
) -> None:
    pool = make_pool(clock, loader, concurrency=2, model_concurrency=("base=1",))
    assert (pool.limit("tiny.en"), pool.limit("base")) == (2, 1)
    with pytest.raises(SettingsError, match="'base=0'"):
        parse_model_concurrency(("base=0",), ("base",))
    with pytest.raises(SettingsError, match="'small'"):
        parse_model_concurrency(("small=1",), ("tiny.en", "base"))


def test_a_model_loads_once_on_first_use_even_when_requests_arrive_together(
    clock: Clock, loader: CountingLoader, samples: dict[str, Path]
) -> None:
    pool = make_pool(clock, loader, concurrency=2)
    pool.preload()
    assert loader.loads == ["tiny.en"]
    assert [s.loaded for s in pool.status()] == [True, False]
    audio = decode_audio(samples["one"]).samples
    results: list[str] = []

    def transcribe() -> None:
        transcript = pool.transcribe(audio, TranscribeOptions(model="base", language="en"))
        results.append(transcript.model)

    threads = [threading.Thread(target=transcribe) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert results == ["base", "base"]
    assert loader.loads == ["tiny.en", "base"]  # the second request waited for the load


def test_at_most_the_limit_use_a_model_at_once(clock: Clock, loader: CountingLoader) -> None:
    pool = make_pool(clock, loader, concurrency=1)
    pool.preload()
    inside, release = threading.Event(), threading.Event()
    second_in = threading.Event()

    def first() -> None:
        with pool.use("tiny.en"):
            inside.set()
            release.wait(10)

    def second() -> None:
        with pool.use("tiny.en"):
            second_in.set()

    holder = threading.Thread(target=first)
    holder.start()
    assert inside.wait(10)
    waiter = threading.Thread(target=second)
    waiter.start()
    assert not second_in.wait(0.3)  # the one slot is taken
    release.set()
    assert second_in.wait(10)
    holder.join(10)
    waiter.join(10)
    tiny = next(s for s in pool.status() if s.name == "tiny.en")
    assert (tiny.peak_in_use, tiny.in_use) == (1, 0)


def test_an_idle_model_is_unloaded_but_never_while_in_use_and_never_the_default(
    clock: Clock, loader: CountingLoader
) -> None:
    pool = make_pool(clock, loader)
    pool.preload()
    silence = np.zeros(16000, dtype=np.float32)
    with pool.use("base") as engine:
        clock.now += 10 * IDLE
        assert pool.unload_idle() == []  # in use: stays, however long since the last use
        engine.transcribe(silence, TranscribeOptions(language="en"))
    clock.now += IDLE / 2
    assert pool.unload_idle() == []  # idle, but not long enough
    clock.now += IDLE
    assert pool.unload_idle() == ["base"]
    statuses = {s.name: s for s in pool.status()}
    assert statuses["base"].loaded is False and statuses["base"].unloads == 1
    assert statuses["tiny.en"].loaded is True  # the default stays, idle or not
    pool.transcribe(silence, TranscribeOptions(model="base", language="en"))
    assert loader.loads == ["tiny.en", "base", "base"]  # loads again on the next use


def test_idle_unload_is_off_with_zero(clock: Clock, loader: CountingLoader) -> None:
    pool = make_pool(clock, loader, model_idle_unload_seconds=0)
    with pool.use("base"):
        pass
    clock.now += 1e9
    assert pool.unload_idle() == []
    with pytest.raises(SettingsError, match="MODEL_IDLE_UNLOAD_SECONDS"):
        make_pool(clock, loader, model_idle_unload_seconds=-1)


def test_the_pool_settings_come_from_the_environment_as_documented() -> None:
    settings = load(
        EngineSettings,
        {
            "MODEL": "tiny.en",
            "MODELS": "tiny.en, base",
            "MODEL_CONCURRENCY": "base=2",
            "MODEL_IDLE_UNLOAD_SECONDS": "600",
        },
    )
    pool = ModelPool(settings)
    assert pool.allowed == ("tiny.en", "base")
    assert (pool.limit("tiny.en"), pool.limit("base")) == (1, 2)
    assert settings.model_idle_unload_seconds == 600.0
    # config.env.example's empty values: MODEL alone, CONCURRENCY for it, never unloaded.
    empty = load(
        EngineSettings, {"MODELS": "", "MODEL_CONCURRENCY": "", "MODEL_IDLE_UNLOAD_SECONDS": "0"}
    )
    assert ModelPool(empty).allowed == ("tiny.en",)
