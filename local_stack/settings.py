"""Settings of the local stack (`make up`, `make demo`); documented in config.env.example."""

from __future__ import annotations

from dataclasses import dataclass

from transcription.exceptions import SettingsError

__all__ = ["LocalSettings"]


@dataclass(frozen=True)
class LocalSettings:
    moto_port: int = 5055  # moto's server, the local AWS endpoint
    port: int = 8000  # the FastAPI server
    jobs_api_port: int = 8100  # the jobs API (python -m jobs_api)
    local_dir: str = ".local"  # logs, generated config, process ids
    local_bucket: str = "transcription-local"  # the audio (and transcript) bucket
    local_project: str = "transcription-local"  # PROJECT_NAME for the created resources
    model: str = "tiny.en"  # MODEL of the local server and worker; base: multilingual
    concurrency: int = 1  # the server's CONCURRENCY
    pump_concurrency: int = 4  # events handled at once, like Lambda's concurrency
    aws_region: str = "us-east-1"
    # `make up` restarts a service that dies: after this wait, doubled for each crash in a
    # row up to the maximum; a service that ran RESTART_RESET_SECONDS starts a new row.
    restart_backoff_seconds: float = 1.0
    restart_backoff_max_seconds: float = 30.0
    restart_reset_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.restart_backoff_seconds < 0:
            raise SettingsError("RESTART_BACKOFF_SECONDS must be 0 or more")
        if self.restart_backoff_max_seconds < self.restart_backoff_seconds:
            raise SettingsError(
                "RESTART_BACKOFF_MAX_SECONDS must be at least RESTART_BACKOFF_SECONDS"
            )
        if self.restart_reset_seconds <= 0:
            raise SettingsError("RESTART_RESET_SECONDS must be greater than 0")
