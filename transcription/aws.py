"""One factory for boto3 clients.

It honours ``AWS_ENDPOINT_URL`` (moto's server locally), uses botocore's standard retry
mode with bounded timeouts and path-style S3 addressing. Clients are cached per process,
so a warm Lambda reuses them. Components take clients as arguments and call this only for
their default.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

from transcription.exceptions import SettingsError
from transcription.settings import AwsSettings, load

__all__ = ["client", "make_client"]

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 30.0
MAX_ATTEMPTS = 4


def make_client(
    service: str,
    settings: AwsSettings | None = None,
    *,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    read_timeout: float = READ_TIMEOUT_SECONDS,
    max_attempts: int = MAX_ATTEMPTS,
    session: boto3.session.Session | None = None,
) -> Any:
    """A new client for ``service``; ``settings`` and credentials default to the environment."""
    aws = settings or load(AwsSettings)
    session = session or boto3.session.Session()
    region = aws.aws_region or session.region_name
    if not region:
        raise SettingsError("AWS_REGION is required (see config.env.example)")
    config = Config(
        region_name=region,
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        s3={"addressing_style": "path"},
    )
    return session.client(service, endpoint_url=aws.aws_endpoint_url, config=config)  # type: ignore[call-overload]


@functools.cache
def client(service: str) -> Any:
    """The process-wide default client for ``service``, built from the environment."""
    return make_client(service)
