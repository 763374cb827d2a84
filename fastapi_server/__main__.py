"""``python -m fastapi_server``: uvicorn on $HOST:$PORT (default 127.0.0.1:8000)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from fastapi_server.auth import load_keys
from fastapi_server.main import create_app
from fastapi_server.settings import ServerSettings
from transcription.aws import make_client
from transcription.exceptions import SettingsError
from transcription.logging import configure, log_level
from transcription.settings import load

log = logging.getLogger("fastapi_server")


def main() -> int:
    configure("fastapi-server")
    try:
        settings = load(ServerSettings)
        configure("fastapi-server", level=log_level(settings.log_level))
        keys = load_keys(settings, lambda: make_client("ssm", settings.aws))
        app = create_app(settings, keys=keys)
    except SettingsError as error:
        log.error("not starting: %s", error)
        return 2
    log.info(
        "listening on %s:%s (CONCURRENCY=%d, MAX_PENDING=%d)",
        settings.host,
        settings.port,
        settings.engine.concurrency,
        settings.max_pending,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the JSON log lines configured above
        access_log=False,  # the request middleware writes one JSON line per request
        timeout_graceful_shutdown=30,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
