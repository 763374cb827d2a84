"""What one running app holds: settings, the model pool and its default engine (once loaded),
slots per model, limits, clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from fastapi_server.auth import KeyRing
from fastapi_server.concurrency import ModelSlots
from fastapi_server.dedupe import InFlight
from fastapi_server.metrics import Metrics
from fastapi_server.ratelimit import RateLimiter
from fastapi_server.settings import ServerSettings
from transcription.inference.engines import Engine
from transcription.inference.engines.pool import ModelPool
from transcription.layout import Layout

if TYPE_CHECKING:  # the drain runs on the state; imported for the annotation only
    from fastapi_server.drain import QueueDrain

__all__ = ["ServerState"]


@dataclass
class ServerState:
    settings: ServerSettings
    s3: Any  # boto3 S3 client (injected; built from settings by default)
    pool: ModelPool
    slots: ModelSlots  # one Slots per model of the pool
    limiter: RateLimiter  # per API key
    metrics: Metrics
    unauthenticated: RateLimiter = field(default_factory=lambda: RateLimiter(0, 1))  # per address
    in_flight: InFlight[Any] = field(default_factory=InFlight)
    keys: KeyRing | None = None
    engine: Engine | None = None  # the default model's, once loaded (readiness)
    status: Literal["loading", "ok", "failed"] = "loading"
    drain: QueueDrain | None = None  # SERVER_DRAINS_QUEUE: queued jobs while idle

    @property
    def layout(self) -> Layout:
        storage = self.settings.storage
        return Layout(storage.input_prefix, storage.output_prefix)

    @classmethod
    def build(cls, settings: ServerSettings, s3: Any, pool: ModelPool | None = None) -> ServerState:
        """``pool`` defaults to one over ``settings.engine`` (nothing loads until used)."""
        pool = pool or ModelPool(settings.engine)
        slots = ModelSlots(
            {model.name: model.limit for model in pool.status()},
            pool.default,
            settings.max_pending,
            settings.busy_wait_seconds,
        )
        metrics = Metrics()
        metrics.watch(slots, pool)
        return cls(
            settings=settings,
            s3=s3,
            pool=pool,
            slots=slots,
            limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
            metrics=metrics,
            unauthenticated=RateLimiter(
                settings.unauthenticated_rate_limit_per_minute,
                settings.unauthenticated_rate_limit_burst,
            ),
        )
