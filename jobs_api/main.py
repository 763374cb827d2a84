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

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: JobsSettings | None = None, **clients: Any) -> FastAPI:
    """The app; ``clients`` are injected: ``dynamodb``, ``s3``, ``sqs``, ``events``, ``resolve``."""
    settings = settings or load(JobsSettings)
    state = AppState.build(settings, **clients)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        token = await asyncio.to_thread(
            admin_key, settings, lambda: make_client("ssm", settings.aws)
        )
        if token:
            await asyncio.to_thread(state.keys.ensure_bootstrap, token)
            log.info("bootstrap admin key stored (id bootstrap)")
        yield

    app = FastAPI(title="Transcription jobs API", version="1.0.0", lifespan=lifespan)
    app.state.jobs = state
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
