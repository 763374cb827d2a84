"""The server's settings, read from the environment (documented in config.env.example)."""

from __future__ import annotations

from dataclasses import dataclass, field

from transcription.exceptions import SettingsError
from transcription.priority import queue_urls
from transcription.settings import AwsSettings, EngineSettings, StorageSettings, secret

__all__ = ["MIB", "DrainSettings", "ServerSettings"]

MIB = 1024 * 1024


@dataclass(frozen=True)
class DrainSettings:
    """Taking queued jobs while no direct request is waiting (see :mod:`fastapi_server.drain`).

    ``SERVER_DRAINS_QUEUE`` unset means "on in production", and production is a server on
    AWS that knows a jobs queue: ``QUEUE_URL`` set and ``AWS_ENDPOINT_URL`` not (the test
    the router's ``EVENTBRIDGE_KEYS_ENCODED`` default makes too). The local stack and the
    tests run against moto's endpoint: there the server drains only with
    ``SERVER_DRAINS_QUEUE=true``.
    """

    server_drains_queue: bool | None = None  # None: on when QUEUE_URL is set
    queue_url: str | None = None  # normal priority (the router's queue)
    queue_url_high: str | None = None
    queue_url_low: str | None = None
    drain_quiet_seconds: float = 2.0  # after direct work, wait this long before taking a job
    drain_wait_seconds: int = 5  # SQS long poll while idle (1..20)

    def __post_init__(self) -> None:
        if self.server_drains_queue and not self.queue_url:
            raise SettingsError("SERVER_DRAINS_QUEUE=true needs QUEUE_URL")
        if self.drain_quiet_seconds < 0:
            raise SettingsError("DRAIN_QUIET_SECONDS must be 0 or more")
        if not 1 <= self.drain_wait_seconds <= 20:
            raise SettingsError("DRAIN_WAIT_SECONDS must be between 1 and 20")

    @property
    def queue_urls(self) -> tuple[str, ...]:
        """The queues to drain, highest priority first; a URL set twice (or unset: the
        normal queue) counts once."""
        if not self.queue_url:
            return ()
        by_priority = queue_urls(self.queue_url, self.queue_url_high, self.queue_url_low)
        return tuple(dict.fromkeys(by_priority.values()))

    def enabled(self, on_aws: bool) -> bool:
        if self.server_drains_queue is None:
            return on_aws and bool(self.queue_url)
        return self.server_drains_queue


@dataclass(frozen=True)
class ServerSettings:
    storage: StorageSettings
    engine: EngineSettings
    aws: AwsSettings
    host: str = "127.0.0.1"
    port: int = 8000
    # Auth: bearer keys, from API_KEYS and/or an SSM SecureString parameter (comma-separated).
    api_keys: tuple[str, ...] = secret(())
    api_keys_parameter: str | None = None
    allow_anonymous: bool = False  # start with no key at all (warned at every start)
    metrics_public: bool = False  # serve /metrics without a key
    # Limits and back-pressure.
    max_upload_mb: float = 200.0
    max_pending: int = 4  # requests that may wait for a slot; beyond: 503 + Retry-After
    busy_wait_seconds: float = 0.0  # /health "busy" wait budget (see fastapi_server.concurrency)
    allowed_buckets: tuple[str, ...] = ()  # default: AUDIO_BUCKET and TRANSCRIPT_BUCKET
    rate_limit_per_minute: float = 600.0  # per API key; 0 turns rate limiting off
    rate_limit_burst: int = 60
    # Requests without a valid key, per client address (before the 401); beyond: 429.
    unauthenticated_rate_limit_per_minute: float = 30.0  # 0 turns it off
    unauthenticated_rate_limit_burst: int = 10
    log_level: str = "INFO"
    drain: DrainSettings = field(default_factory=DrainSettings)

    @property
    def drains_queue(self) -> bool:
        """SERVER_DRAINS_QUEUE, or by default: on AWS (no AWS_ENDPOINT_URL) with a QUEUE_URL."""
        return self.drain.enabled(on_aws=not self.aws.aws_endpoint_url)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MIB)

    @property
    def buckets(self) -> frozenset[str]:
        """The buckets /transcribe-s3 may read from and write to."""
        if self.allowed_buckets:
            return frozenset(self.allowed_buckets)
        return frozenset({self.storage.audio_bucket, self.storage.output_bucket})
