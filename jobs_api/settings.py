"""The jobs API's settings, read from the environment (config.env.example: "Jobs API").

Every field's variable is its name in upper case; see ``transcription.settings.load``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transcription.exceptions import SettingsError
from transcription.priority import queue_urls
from transcription.settings import AwsSettings, StorageSettings, secret

__all__ = ["JobsSettings"]

MIB = 1024 * 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit


@dataclass(frozen=True)
class JobsSettings:
    storage: StorageSettings
    queue_url: str  # the normal-priority queue (the router's jobs queue)
    aws: AwsSettings = field(default_factory=AwsSettings)
    queue_url_high: str | None = None  # default: QUEUE_URL
    queue_url_low: str | None = None  # default: QUEUE_URL
    jobs_api_host: str = "127.0.0.1"
    jobs_api_port: int = 8100
    jobs_table_prefix: str = "transcription-router"
    # The bootstrap admin key: JOBS_ADMIN_KEY, else the SSM SecureString it names.
    jobs_admin_key: str | None = secret(None)
    jobs_admin_key_parameter: str | None = None
    jobs_allowed_buckets: tuple[str, ...] = ()  # default: AUDIO_BUCKET
    jobs_max_items: int = 1000
    jobs_max_base64_mb: float = 4.0  # decoded size of one audio_base64 item
    jobs_url_seconds: int = 3600  # expiry of presigned upload and result URLs
    jobs_page_size: int = 100
    jobs_rate_limit_per_minute: int = 600  # per key and route; a key's rate_quota wins
    jobs_audit_retention_days: int = 90
    jobs_event_bus: str = "default"
    jobs_api_url: str | None = None  # public base URL; names results_url in completions
    # Webhooks.
    webhook_queue_url: str | None = None  # None: a job with webhook_url is refused (422)
    webhook_allow_loopback: bool = False  # local only: http:// to 127.0.0.1 / localhost
    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = 5  # keep equal to the delivery queue's maxReceiveCount
    webhook_backoff_seconds: int = 30  # doubles per attempt, at most 12 hours
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        for name, value, low in (
            ("JOBS_MAX_ITEMS", self.jobs_max_items, 1),
            ("JOBS_PAGE_SIZE", self.jobs_page_size, 1),
            ("JOBS_URL_SECONDS", self.jobs_url_seconds, 1),
            ("JOBS_RATE_LIMIT_PER_MINUTE", self.jobs_rate_limit_per_minute, 0),
            ("JOBS_AUDIT_RETENTION_DAYS", self.jobs_audit_retention_days, 1),
            ("WEBHOOK_MAX_ATTEMPTS", self.webhook_max_attempts, 1),
            ("WEBHOOK_BACKOFF_SECONDS", self.webhook_backoff_seconds, 0),
        ):
            if value < low:
                raise SettingsError(f"{name}={value} must be at least {low}")
        if self.jobs_url_seconds > MAX_PRESIGN_SECONDS:
            raise SettingsError(f"JOBS_URL_SECONDS must be at most {MAX_PRESIGN_SECONDS}")
        if self.jobs_max_base64_mb <= 0:
            raise SettingsError("JOBS_MAX_BASE64_MB must be positive")
        if self.webhook_timeout_seconds <= 0:
            raise SettingsError("WEBHOOK_TIMEOUT_SECONDS must be positive")

    @property
    def queue_urls(self) -> dict[str, str]:
        """The queue of each priority."""
        return queue_urls(self.queue_url, self.queue_url_high, self.queue_url_low)

    @property
    def allowed_buckets(self) -> frozenset[str]:
        return frozenset(self.jobs_allowed_buckets or (self.storage.audio_bucket,))

    @property
    def max_base64_bytes(self) -> int:
        return int(self.jobs_max_base64_mb * MIB)
