"""Settings of the local stack (`make up`, `make demo`); documented in config.env.example."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LocalSettings"]


@dataclass(frozen=True)
class LocalSettings:
    moto_port: int = 5055  # moto's server, the local AWS endpoint
    port: int = 8000  # the FastAPI server
    local_dir: str = ".local"  # logs, generated config, process ids
    local_bucket: str = "transcription-local"  # the audio (and transcript) bucket
    local_project: str = "transcription-local"  # PROJECT_NAME for the created resources
    concurrency: int = 1  # the server's CONCURRENCY
    pump_concurrency: int = 4  # events handled at once, like Lambda's concurrency
    aws_region: str = "us-east-1"
