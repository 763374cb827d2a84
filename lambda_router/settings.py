"""The router's settings and the event pump's, read from the environment (config.env.example).

Every field's variable is its name in upper case; see ``transcription.settings.load``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transcription.exceptions import SettingsError
from transcription.settings import AwsSettings, StorageSettings, secret

__all__ = ["PumpSettings", "RouterSettings"]

MAX_SQS_DELAY_SECONDS = 900


@dataclass(frozen=True)
class RouterSettings:
    storage: StorageSettings
    queue_url: str  # the jobs queue
    aws: AwsSettings = field(default_factory=AwsSettings)
    # Where the server is: SERVER_URL, else the SSM parameter SERVER_URL_PARAMETER.
    server_url: str | None = None
    server_url_parameter: str | None = None
    server_url_ttl_seconds: float = 60.0
    api_key: str | None = secret(None)  # sent as "Authorization: Bearer" (local, tests)
    # Else the first key of this SSM SecureString (the server's API_KEYS_PARAMETER), cached.
    api_key_parameter: str | None = None
    api_key_ttl_seconds: float = 300.0
    # Health check and circuit breaker.
    health_timeout_seconds: float = 1.0
    health_cache_seconds: float = 2.0
    breaker_failures: int = 3
    breaker_cooldown_seconds: float = 30.0
    # The direct call.
    direct_max_bytes: int = 100_000_000
    direct_timeout_seconds: float = 120.0
    direct_max_attempts: int = 3
    direct_backoff_seconds: float = 0.5
    enqueue_reserve_ms: int = 2000
    timeout_queue_delay_seconds: int = 60
    # Observability and event formats.
    metrics_namespace: str = "TranscriptionRouter"
    eventbridge_keys_encoded: bool | None = None  # None: true on AWS, false on moto's server

    def __post_init__(self) -> None:
        _at_least("BREAKER_FAILURES", self.breaker_failures, 1)
        _at_least("DIRECT_MAX_ATTEMPTS", self.direct_max_attempts, 1)
        _at_least("DIRECT_TIMEOUT_SECONDS", self.direct_timeout_seconds, 0.1)
        _at_least("HEALTH_TIMEOUT_SECONDS", self.health_timeout_seconds, 0.05)
        _at_least("ENQUEUE_RESERVE_MS", self.enqueue_reserve_ms, 0)
        _at_least("HEALTH_CACHE_SECONDS", self.health_cache_seconds, 0)
        _at_least("BREAKER_COOLDOWN_SECONDS", self.breaker_cooldown_seconds, 0)
        _at_least("DIRECT_BACKOFF_SECONDS", self.direct_backoff_seconds, 0)
        _at_least("SERVER_URL_TTL_SECONDS", self.server_url_ttl_seconds, 0)
        _at_least("API_KEY_TTL_SECONDS", self.api_key_ttl_seconds, 0)
        if not 0 <= self.timeout_queue_delay_seconds <= MAX_SQS_DELAY_SECONDS:
            raise SettingsError(
                f"TIMEOUT_QUEUE_DELAY_SECONDS must be between 0 and {MAX_SQS_DELAY_SECONDS}"
            )

    @property
    def keys_encoded_in_eventbridge(self) -> bool:
        """AWS URL-encodes keys in EventBridge events; moto's server sends them as they are."""
        if self.eventbridge_keys_encoded is not None:
            return self.eventbridge_keys_encoded
        return not self.aws.aws_endpoint_url


@dataclass(frozen=True)
class PumpSettings:
    """The local event pump (``python -m lambda_router.pump``)."""

    events_queue_url: str  # the SQS queue the local EventBridge rule targets
    aws: AwsSettings = field(default_factory=AwsSettings)
    lambda_timeout_seconds: float = 300.0  # the stand-in context's deadline
    pump_concurrency: int = 4  # events handled at once, as Lambda runs them concurrently
    pump_wait_seconds: int = 5  # SQS long poll; bounds how long a stop takes

    def __post_init__(self) -> None:
        _at_least("LAMBDA_TIMEOUT_SECONDS", self.lambda_timeout_seconds, 1)
        _at_least("PUMP_CONCURRENCY", self.pump_concurrency, 1)
        if not 0 <= self.pump_wait_seconds <= 20:
            raise SettingsError("PUMP_WAIT_SECONDS must be between 0 and 20")


def _at_least(name: str, value: float, minimum: float) -> None:
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
