"""The app in process (real tiny model): /health is 503 until the model is loaded."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient

from fastapi_server.auth import KeyRing
from fastapi_server.main import create_app
from tests.server.harness import in_process_settings
from transcription.inference.engines import Engine
from transcription.settings import EngineSettings

KEY = "in-process-key-0123456789"


def test_health_is_503_until_the_model_is_loaded_then_200(engine: Any) -> None:
    loaded = threading.Event()

    def slow_loader(_: EngineSettings) -> Engine:
        loaded.wait(10)
        return engine

    app = create_app(
        in_process_settings(), keys=KeyRing([KEY]), s3=object(), engine_loader=slow_loader
    )
    with TestClient(app) as client:
        loading = client.get("/health")
        assert loading.status_code == 503
        assert loading.json()["ready"] is False
        assert loading.json()["status"] == "loading"
        refused = client.post("/transcribe", headers={"Authorization": f"Bearer {KEY}"})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "not_ready"
        assert int(refused.headers["Retry-After"]) >= 1

        loaded.set()
        for _ in range(100):
            if client.get("/health").status_code == 200:
                break
            threading.Event().wait(0.05)
        ready = client.get("/health").json()
        assert (ready["ready"], ready["status"], ready["model"]) == (True, "ok", "tiny.en")


def test_a_model_that_fails_to_load_is_reported_by_health() -> None:
    def broken_loader(_: EngineSettings) -> Engine:
        raise RuntimeError("no such model")

    app = create_app(
        in_process_settings(), keys=KeyRing([KEY]), s3=object(), engine_loader=broken_loader
    )
    with TestClient(app) as client:
        for _ in range(100):
            if client.get("/health").json()["status"] == "failed":
                break
            threading.Event().wait(0.02)
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "failed"
        models = client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
        assert models.status_code == 200  # listing the model needs no engine
        refused = client.post("/transcribe", headers={"Authorization": f"Bearer {KEY}"})
        assert refused.json()["error"]["code"] == "not_ready"
        assert "failed" in refused.json()["error"]["message"]
