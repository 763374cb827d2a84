"""The jobs API app: ``create_app(settings)``; ``uvicorn --factory jobs_api.main:create_app``.

The bootstrap admin key (``JOBS_ADMIN_KEY``, or the SSM SecureString named by
``JOBS_ADMIN_KEY_PARAMETER``) is stored at start-up, in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from jobs_api.api import errors
from jobs_api.api.routes import ROUTERS
from jobs_api.bootstrap import admin_key
from jobs_api.settings import JobsSettings
from jobs_api.state import AppState
from transcription.aws import make_client
from transcription.settings import load

__all__ = ["create_app", "store_bootstrap_key"]

log = logging.getLogger(__name__)


def create_app(settings: JobsSettings | None = None, **clients: Any) -> FastAPI:
    """The app; ``clients`` are injected: ``dynamodb``, ``s3``, ``sqs``, ``events``, ``resolve``."""
    settings = settings or load(JobsSettings)
    state = AppState.build(settings, **clients)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(store_bootstrap_key, app)
        yield

    app = FastAPI(title="Transcription jobs API", version="1.0.0", lifespan=lifespan)
    app.state.jobs = state
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


def store_bootstrap_key(app: FastAPI) -> None:
    """Store the bootstrap admin key (JOBS_ADMIN_KEY, or the SSM SecureString it names).

    Once per process: uvicorn's lifespan calls it at start-up; the Lambda handler at its cold
    start (Mangum would run a lifespan on every invocation).
    """
    state: AppState = app.state.jobs
    settings = state.settings
    token = admin_key(settings, lambda: make_client("ssm", settings.aws))
    if token:
        state.keys.ensure_bootstrap(token)
        log.info("bootstrap admin key stored (id bootstrap)")
