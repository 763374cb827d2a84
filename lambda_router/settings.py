"""The router's settings and the event pump's, read from the environment (config.env.example).

Every field's variable is its name in upper case; see ``transcription.settings.load``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transcription.exceptions import SettingsError
from transcription.managed.settings import OverflowSettings
from transcription.settings import AwsSettings, StorageSettings, secret

__all__ = ["ClientLimits", "PumpSettings", "RouterSettings"]

MAX_SQS_DELAY_SECONDS = 900
# Linux retransmits an unanswered SYN after 1 s: a health timeout at or below it turns one
# lost SYN under a burst into a "server down" (and a breaker failure).
MIN_HEALTH_TIMEOUT_SECONDS = 1.5
BOTOCORE_BASE_BACKOFF_SECONDS = 1.0  # botocore's standard mode: rand(0, 1) * min(2 ** i, 20)
BOTOCORE_MAX_BACKOFF_SECONDS = 20.0


@dataclass(frozen=True)
class ClientLimits:
    """The bounds a boto3 client is built with, and the longest one call can then take."""

    connect_timeout: float
    read_timeout: float
    attempts: int  # in total, the first included

    @property
    def retries(self) -> int:
        """botocore's ``retries.max_attempts`` counts the retries, not the first attempt."""
        return self.attempts - 1

    @property
    def worst_case_seconds(self) -> float:
        """Every attempt connecting and reading to its timeout, plus the longest backoffs."""
        backoff = sum(
            min(BOTOCORE_BASE_BACKOFF_SECONDS * 2**i, BOTOCORE_MAX_BACKOFF_SECONDS)
            for i in range(self.retries)
        )
        return self.attempts * (self.connect_timeout + self.read_timeout) + backoff


@dataclass(frozen=True)
class RouterSettings:
    storage: StorageSettings
    queue_url: str  # the jobs queue (batch jobs' normal priority)
    aws: AwsSettings = field(default_factory=AwsSettings)
    # Batch jobs' uploads go to the queue of their job's priority (default: QUEUE_URL).
    queue_url_high: str | None = None
    queue_url_low: str | None = None
    # Where the server is: SERVER_URL, else the SSM parameter SERVER_URL_PARAMETER.
    server_url: str | None = None
    server_url_parameter: str | None = None
    server_url_ttl_seconds: float = 60.0
    api_key: str | None = secret(None)  # sent as "Authorization: Bearer" (local, tests)
    # Else the first key of this SSM SecureString (the server's API_KEYS_PARAMETER), cached.
    api_key_parameter: str | None = None
    api_key_ttl_seconds: float = 300.0
    # Health check and circuit breaker.
    health_timeout_seconds: float = 2.5
    health_cache_seconds: float = 2.0
    breaker_failures: int = 3
    breaker_cooldown_seconds: float = 30.0
    # The direct call. Each attempt's timeout follows the work (lambda_router.timeout):
    # between DIRECT_TIMEOUT_MIN_SECONDS and DIRECT_TIMEOUT_SECONDS.
    direct_max_bytes: int = 100_000_000
    direct_timeout_seconds: float = 120.0
    direct_timeout_min_seconds: float = 10.0
    direct_realtime_factor: float = 0.5  # processing ÷ audio seconds, if /health does not say
    direct_audio_bytes_per_second: int = 16_000  # to guess the audio's length from its size
    direct_max_attempts: int = 3
    direct_backoff_seconds: float = 0.5
    timeout_queue_delay_seconds: int = 60
    # The SQS client that puts jobs on the queue; the time kept back for the enqueue is its
    # worst case (ClientLimits.worst_case_seconds).
    sqs_connect_timeout_seconds: float = 1.0
    sqs_read_timeout_seconds: float = 3.0
    sqs_max_attempts: int = 2
    # Observability and event formats.
    metrics_namespace: str = "TranscriptionRouter"
    eventbridge_keys_encoded: bool | None = None  # None: true on AWS, false on moto's server
    # Managed overflow to AWS Transcribe (lambda_router.overflow); off unless OVERFLOW is set.
    overflow: OverflowSettings = field(default_factory=OverflowSettings)

    def __post_init__(self) -> None:
        _at_least("BREAKER_FAILURES", self.breaker_failures, 1)
        _at_least("DIRECT_MAX_ATTEMPTS", self.direct_max_attempts, 1)
        _at_least("DIRECT_TIMEOUT_MIN_SECONDS", self.direct_timeout_min_seconds, 0.1)
        _at_least("DIRECT_TIMEOUT_SECONDS", self.direct_timeout_seconds, 0.1)
        if self.direct_timeout_seconds < self.direct_timeout_min_seconds:
            raise SettingsError("DIRECT_TIMEOUT_SECONDS must be >= DIRECT_TIMEOUT_MIN_SECONDS")
        _at_least("DIRECT_REALTIME_FACTOR", self.direct_realtime_factor, 0.001)
        _at_least("DIRECT_AUDIO_BYTES_PER_SECOND", self.direct_audio_bytes_per_second, 1)
        _at_least("HEALTH_TIMEOUT_SECONDS", self.health_timeout_seconds, MIN_HEALTH_TIMEOUT_SECONDS)
        _at_least("SQS_CONNECT_TIMEOUT_SECONDS", self.sqs_connect_timeout_seconds, 0.05)
        _at_least("SQS_READ_TIMEOUT_SECONDS", self.sqs_read_timeout_seconds, 0.05)
        _at_least("SQS_MAX_ATTEMPTS", self.sqs_max_attempts, 1)
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
    def sqs_limits(self) -> ClientLimits:
        """What the router's SQS client is built with (lambda_router.router.aws_client)."""
        return ClientLimits(
            self.sqs_connect_timeout_seconds, self.sqs_read_timeout_seconds, self.sqs_max_attempts
        )

    @property
    def enqueue_reserve_seconds(self) -> float:
        """Time kept back for SendMessage: the SQS client's worst case."""
        return self.sqs_limits.worst_case_seconds

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
    overflow: str = ""  # OVERFLOW=transcribe: also poll the managed overflow's Transcribe jobs
    overflow_poll_seconds: float = 10.0

    def __post_init__(self) -> None:
        _at_least("LAMBDA_TIMEOUT_SECONDS", self.lambda_timeout_seconds, 1)
        _at_least("PUMP_CONCURRENCY", self.pump_concurrency, 1)
        if not 0 <= self.pump_wait_seconds <= 20:
            raise SettingsError("PUMP_WAIT_SECONDS must be between 0 and 20")
        _at_least("OVERFLOW_POLL_SECONDS", self.overflow_poll_seconds, 0.2)


def _at_least(name: str, value: float, minimum: float) -> None:
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
