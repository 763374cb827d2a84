"""The server's settings, read from the environment (documented in config.env.example)."""

from __future__ import annotations

from dataclasses import dataclass

from transcription.settings import AwsSettings, EngineSettings, StorageSettings, secret

__all__ = ["MIB", "ServerSettings"]

MIB = 1024 * 1024


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

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MIB)

    @property
    def buckets(self) -> frozenset[str]:
        """The buckets /transcribe-s3 may read from and write to."""
        if self.allowed_buckets:
            return frozenset(self.allowed_buckets)
        return frozenset({self.storage.audio_bucket, self.storage.output_bucket})
