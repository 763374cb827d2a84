"""The FastAPI app. ``create_app(settings)``; the engine loads once, in the lifespan.

The default model (``MODEL``) loads in a worker thread started by the lifespan, so
``/health`` answers (503, ``ready: false``) while it loads; every other endpoint answers 503
``not_ready`` until then. The other models of ``MODELS`` load on first use, and the pool's
reaper unloads them when idle (see :mod:`transcription.inference.engines.pool`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI

from fastapi_server import error_handlers
from fastapi_server.api.routes import ROUTERS
from fastapi_server.auth import KeyRing, load_keys
from fastapi_server.drain import DirectWorkWatch, QueueDrain
from fastapi_server.middleware import RequestMiddleware
from fastapi_server.settings import ServerSettings
from fastapi_server.state import ServerState
from transcription.aws import READ_TIMEOUT_SECONDS, make_client
from transcription.inference.engines import Engine, load_engine
from transcription.inference.engines.pool import ModelPool
from transcription.settings import EngineSettings, load

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(
    settings: ServerSettings | None = None,
    *,
    keys: KeyRing | None = None,
    s3: Any = None,
    sqs: Any = None,
    engine_loader: Callable[[EngineSettings], Engine] = load_engine,
) -> FastAPI:
    """The app; ``keys``, ``s3`` and ``sqs`` default to what ``settings`` say (SSM is read at
    start; SQS is used only when the server drains the queues, see :mod:`.drain`).

    ``engine_loader`` loads one model (the pool calls it with ``model`` set per name).

    Also ``uvicorn --factory fastapi_server.main:create_app`` (settings from the environment).
    """
    settings = settings or load(ServerSettings)
    pool = ModelPool(settings.engine, loader=engine_loader)
    state = ServerState.build(settings, s3 or make_client("s3", settings.aws), pool)
    state.keys = keys
    if settings.drains_queue:
        state.drain = QueueDrain(state, settings.drain, sqs or _sqs_client(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.keys is None:
            state.keys = await asyncio.to_thread(
                load_keys, settings, lambda: make_client("ssm", settings.aws)
            )
        loading = asyncio.create_task(_load_engine(state))
        if state.drain is not None:
            state.drain.start()  # takes jobs once the engine is loaded
        yield
        if state.drain is not None:
            await state.drain.stop()
        loading.cancel()
        state.pool.stop()
        state.slots.shutdown()

    app = FastAPI(title="Transcription server", version="1.0.0", lifespan=lifespan)
    app.state.server = state
    error_handlers.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(RequestMiddleware, metrics=state.metrics)
    if state.drain is not None:
        app.add_middleware(DirectWorkWatch, drain=state.drain)
    return app


def _sqs_client(settings: ServerSettings) -> Any:
    """Its read timeout covers a long poll of DRAIN_WAIT_SECONDS."""
    read_timeout = max(READ_TIMEOUT_SECONDS, settings.drain.drain_wait_seconds + 10.0)
    return make_client("sqs", settings.aws, read_timeout=read_timeout)


async def _load_engine(state: ServerState) -> None:
    try:
        state.engine = await asyncio.to_thread(state.pool.preload)
    except Exception:  # whatever the engine raises, /health must say so: logged in full
        state.status = "failed"
        log.exception("the engine failed to load; /health answers 503")
        return
    state.status = "ok"
    state.pool.start_reaper()
    log.info("ready: %s %s on %s", state.engine.name, state.engine.model, state.engine.device)
