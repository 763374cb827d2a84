"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fastapi_server.concurrency import Slots

__all__ = ["Metrics"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
REALTIME_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5)
PREFIX = "transcription_server"


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            f"{PREFIX}_requests", "HTTP requests by route and status.",
            ["method", "route", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            f"{PREFIX}_request_duration_seconds", "HTTP request latency by route.",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.model_runs = Counter(
            f"{PREFIX}_model_runs", "Transcriptions run by the engine, by route.",
            ["route"], registry=r,
        )  # fmt: skip
        self.audio_seconds = Counter(
            f"{PREFIX}_audio_seconds", "Seconds of audio transcribed, by route.",
            ["route"], registry=r,
        )  # fmt: skip
        self.processing_seconds = Histogram(
            f"{PREFIX}_processing_seconds", "Decode and transcribe time per transcription.",
            ["route"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.realtime_factor = Histogram(
            f"{PREFIX}_realtime_factor", "Processing time divided by audio duration.",
            ["route"], buckets=REALTIME_BUCKETS, registry=r,
        )  # fmt: skip
        self.rejections = Counter(
            f"{PREFIX}_rejections", "Requests refused, by reason (the error code).",
            ["reason"], registry=r,
        )  # fmt: skip
        self.transcripts = Counter(
            f"{PREFIX}_transcripts",
            "/transcribe-s3 outcomes: created, replaced, existing, lost_race",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.dedupe_joins = Counter(
            f"{PREFIX}_dedupe_joins",
            "/transcribe-s3 requests that shared a run already in flight.",
            registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(f"{PREFIX}_in_flight", "Transcriptions running now.", registry=r)
        self.pending = Gauge(
            f"{PREFIX}_pending", "Requests waiting for a transcription slot.", registry=r
        )
        self.capacity = Gauge(
            f"{PREFIX}_capacity", "Transcription slots (CONCURRENCY).", registry=r
        )

    def watch(self, slots: Slots) -> None:
        """Report the slots' live state at every scrape."""
        self.in_flight.set_function(lambda: slots.in_flight)
        self.pending.set_function(lambda: slots.pending)
        self.capacity.set(slots.capacity)

    def transcribed(self, route: str, audio_seconds: float, processing_seconds: float) -> None:
        self.model_runs.labels(route).inc()
        self.audio_seconds.labels(route).inc(audio_seconds)
        self.processing_seconds.labels(route).observe(processing_seconds)
        if audio_seconds > 0:
            self.realtime_factor.labels(route).observe(processing_seconds / audio_seconds)
