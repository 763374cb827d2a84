"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fastapi_server.concurrency import ModelSlots
from transcription.inference.engines.pool import ModelPool

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
        self.in_flight = Gauge(
            f"{PREFIX}_in_flight", "Transcriptions running now (every model).", registry=r
        )
        self.pending = Gauge(
            f"{PREFIX}_pending", "Requests waiting for a transcription slot.", registry=r
        )
        self.capacity = Gauge(
            f"{PREFIX}_capacity", "Transcription slots (CONCURRENCY per model, summed).", registry=r
        )
        # process_resident_memory_bytes & co.: a model unloaded shows as a drop.
        ProcessCollector(registry=r)

    def watch(self, slots: ModelSlots, pool: ModelPool) -> None:
        """Report the slots' and the models' live state at every scrape."""
        self.in_flight.set_function(lambda: slots.in_flight)
        self.pending.set_function(lambda: slots.pending)
        self.capacity.set(slots.capacity)
        self.registry.register(ModelCollector(pool, slots))

    def transcribed(self, route: str, audio_seconds: float, processing_seconds: float) -> None:
        self.model_runs.labels(route).inc()
        self.audio_seconds.labels(route).inc(audio_seconds)
        self.processing_seconds.labels(route).observe(processing_seconds)
        if audio_seconds > 0:
            self.realtime_factor.labels(route).observe(processing_seconds / audio_seconds)


class ModelCollector(Collector):
    """Per-model gauges, read from the pool and the slots at every scrape."""

    def __init__(self, pool: ModelPool, slots: ModelSlots) -> None:
        self.pool = pool
        self.slots = slots

    def collect(self) -> Iterator[Metric]:
        def family(name: str, text: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{PREFIX}_{name}", text, labels=["model"])

        loaded = family("model_loaded", "1 while the model is loaded, 0 when it is not.")
        in_use = family("model_in_flight", "Transcriptions running on the model now.")
        peak = family("model_in_flight_peak", "The most transcriptions run at once on the model.")
        limit = family("model_capacity", "Transcriptions the model may run at once.")
        pending = family("model_pending", "Requests waiting for one of the model's slots.")
        unloads = family("model_unloads", "Times the model was unloaded as idle.")
        statuses = self.pool.status()
        for model in statuses:
            labels = [model.name]
            loaded.add_metric(labels, 1.0 if model.loaded else 0.0)
            in_use.add_metric(labels, model.in_use)
            peak.add_metric(labels, model.peak_in_use)
            limit.add_metric(labels, model.limit)
            pending.add_metric(labels, self.slots[model.name].pending)
            unloads.add_metric(labels, model.unloads)
        yield from (loaded, in_use, peak, limit, pending, unloads)
        yield GaugeMetricFamily(
            f"{PREFIX}_models_loaded",
            "Models loaded now.",
            value=sum(model.loaded for model in statuses),
        )
