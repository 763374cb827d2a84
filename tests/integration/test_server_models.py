"""Two models in one real server (uvicorn on 127.0.0.1): tiny.en (default) and base.

CONCURRENCY=1 applies per model: the server's own per-model in-flight gauge, polled while
requests for both models overlap, never goes above 1 while both models run at the same
time. base, idle for MODEL_IDLE_UNLOAD_SECONDS, is unloaded: the loaded gauge and the
process's resident memory drop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.server.harness import Server, metric, server_with_bucket, similar

pytestmark = pytest.mark.slow

IDLE_SECONDS = 3
PREFIX = "transcription_server"
RSS = "process_resident_memory_bytes"


@pytest.fixture(scope="module")
def server(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with server_with_bucket(
        moto_url,
        tmp_path_factory,
        model="tiny.en",
        models="tiny.en,base",
        concurrency=1,
        max_pending=4,
        model_idle_unload_seconds=IDLE_SECONDS,
        rate_limit_per_minute=0,
    ) as started:
        yield started


def transcribe(client: httpx.Client, audio: bytes, **fields: str) -> httpx.Response:
    return client.post("/transcribe", files={"file": ("a.wav", audio, "audio/wav")}, data=fields)


def scrape(client: httpx.Client) -> str:
    return client.get("/metrics").text


def test_v1_models_lists_the_loaded_default_and_the_loadable_others(server: Server) -> None:
    with server.client() as client:
        body = client.get("/v1/models").json()
        one = client.get("/v1/models/base")
        missing = client.get("/v1/models/large-v3")
    assert body["object"] == "list"
    models = {m["id"]: m for m in body["data"]}
    assert set(models) == {"tiny.en", "base"}
    for model in models.values():
        assert model["object"] == "model"
        assert isinstance(model["owned_by"], str) and isinstance(model["created"], int)
        assert isinstance(model["loaded"], bool)
        assert model["capacity"] == 1
    assert models["tiny.en"]["loaded"] is True and models["tiny.en"]["default"] is True
    assert models["base"]["default"] is False
    assert one.status_code == 200 and one.json()["id"] == "base"
    assert missing.status_code == 404


def test_an_unknown_model_is_a_422_naming_it_on_every_endpoint(
    server: Server, samples: dict[str, Path]
) -> None:
    audio = samples["one"].read_bytes()
    with server.client() as client:
        answers = [
            transcribe(client, audio, model="large-v9"),
            client.post(
                "/v1/audio/transcriptions",
                files={"file": ("a.wav", audio, "audio/wav")},
                data={"model": "large-v9"},
            ),
            client.post(
                "/transcribe-s3",
                json={
                    "s3_input_path": f"s3://{server.env['AUDIO_BUCKET']}/audio/a.wav",
                    "model": "large-v9",
                },
            ),
            client.post(
                "/asr",
                params={"model": "large-v9", "output": "txt"},
                files={"audio_file": audio},
            ),
        ]
        # OpenAI's own model name means the default model.
        openai = client.post(
            "/v1/audio/transcriptions",
            files={"file": ("a.wav", audio, "audio/wav")},
            data={"model": "whisper-1", "response_format": "verbose_json"},
        )
    for answer in answers:
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "unknown_model"
        assert "'large-v9'" in error["message"] and "tiny.en" in error["message"]
    assert openai.status_code == 200


def test_two_models_run_concurrently_each_within_its_concurrency(
    server: Server, samples: dict[str, Path], sample_scripts: dict[str, str]
) -> None:
    audio = {name: samples[name].read_bytes() for name in ("one", "two")}
    seen: dict[str, float] = {"tiny.en": 0.0, "base": 0.0}
    both_at_once = 0
    pending_seen = 0.0
    done = threading.Event()

    def poll() -> None:
        nonlocal both_at_once, pending_seen
        with server.client() as client:
            while not done.is_set():
                text = scrape(client)
                running = {m: metric(text, f"{PREFIX}_model_in_flight", model=m) for m in seen}
                for model, value in running.items():
                    seen[model] = max(seen[model], value)
                both_at_once += all(running.values())
                pending_seen = max(pending_seen, metric(text, f"{PREFIX}_pending"))
                time.sleep(0.05)

    requests = [("base", "one"), ("tiny.en", "one"), ("base", "two"), ("tiny.en", "two")] * 2
    poller = threading.Thread(target=poll)
    poller.start()
    try:
        with server.client() as client, ThreadPoolExecutor(len(requests)) as pool:
            answers = list(
                pool.map(
                    lambda r: transcribe(client, audio[r[1]], model=r[0], language="en"),
                    requests,
                )
            )
    finally:
        done.set()
        poller.join(10)
    for (model, sample), answer in zip(requests, answers, strict=True):
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == model
        assert similar(sample_scripts[sample], answer.json()["text"])
    assert seen == {"tiny.en": 1.0, "base": 1.0}  # CONCURRENCY=1 per model, never more
    assert both_at_once > 0  # the two models did run at the same time
    assert pending_seen > 0  # and requests did overlap (some waited for their model)
    with server.client() as client:
        text = scrape(client)
    for model in seen:
        assert metric(text, f"{PREFIX}_model_in_flight_peak", model=model) == 1.0
        assert metric(text, f"{PREFIX}_model_capacity", model=model) == 1.0


def test_an_idle_model_is_unloaded_and_memory_drops(
    server: Server, samples: dict[str, Path]
) -> None:
    with server.client() as client:
        answer = transcribe(client, samples["one"].read_bytes(), model="base", language="en")
        assert answer.status_code == 200
        loaded = scrape(client)
        assert metric(loaded, f"{PREFIX}_model_loaded", model="base") == 1.0
        before = _rss_and_unloads(loaded)
        after = loaded
        deadline = time.monotonic() + 20 * IDLE_SECONDS
        while time.monotonic() < deadline:
            after = scrape(client)
            if metric(after, f"{PREFIX}_model_loaded", model="base") == 0.0:
                break
            time.sleep(0.25)
        models = {m["id"]: m["loaded"] for m in client.get("/v1/models").json()["data"]}
    assert metric(after, f"{PREFIX}_model_loaded", model="base") == 0.0
    assert metric(after, f"{PREFIX}_model_loaded", model="tiny.en") == 1.0  # the default stays
    assert metric(after, f"{PREFIX}_models_loaded") == metric(loaded, f"{PREFIX}_models_loaded") - 1
    rss_after, unloads_after = _rss_and_unloads(after)
    assert unloads_after == before[1] + 1
    assert rss_after < before[0]  # the weights went back to the system
    assert models == {"tiny.en": True, "base": False}


def _rss_and_unloads(text: str) -> tuple[float, float]:
    return metric(text, RSS), metric(text, f"{PREFIX}_model_unloads", model="base")
