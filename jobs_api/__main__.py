"""``python -m jobs_api``: uvicorn on $JOBS_API_HOST:$JOBS_API_PORT (default 127.0.0.1:8100).

``python -m jobs_api tables`` prints the tables' CreateTable arguments as JSON (the deploy
step creates the same shapes).
"""

from __future__ import annotations

import json
import logging
import sys

import uvicorn

from jobs_api.main import create_app
from jobs_api.settings import JobsSettings
from jobs_api.tables import TableNames, table_definitions
from transcription.exceptions import SettingsError
from transcription.logging import configure, log_level
from transcription.settings import load

log = logging.getLogger("jobs_api")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    configure("jobs-api")
    try:
        settings = load(JobsSettings)
        configure("jobs-api", level=log_level(settings.log_level))
        if argv[:1] == ["tables"]:
            names = TableNames.from_prefix(settings.jobs_table_prefix)
            print(json.dumps(table_definitions(names), indent=2))  # noqa: T201
            return 0
        app = create_app(settings)
    except SettingsError as error:
        log.error("not starting: %s", error)
        return 2
    log.info("listening on %s:%s", settings.jobs_api_host, settings.jobs_api_port)
    uvicorn.run(
        app,
        host=settings.jobs_api_host,
        port=settings.jobs_api_port,
        log_config=None,  # keep the JSON log lines configured above
        access_log=False,  # uvicorn's access line would carry query strings; ours does not
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
