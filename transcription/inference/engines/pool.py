"""Several models in one process: ``ModelPool`` maps model names to engines.

The design's "per-model semaphore to avoid OOM and CPU contention": each model has its own
concurrency limit (``CONCURRENCY``, or its entry in ``MODEL_CONCURRENCY`` such as
``base=1,tiny.en=2``), loads on first use (one load at a time per name; requests for a
model that is loading wait for it) and, unless it is the default ``MODEL``, is unloaded once
it has been idle for ``MODEL_IDLE_UNLOAD_SECONDS`` (0: never). The default model is loaded
at start and never unloaded: the server's readiness and the router's direct path rely on it
answering without a load. Only names in ``MODELS`` are served (default: ``MODEL`` alone);
any other is an :class:`UnknownModel`.

Unloading never happens while a request uses the model: the reaper only takes a model whose
in-use count is zero, under the same lock that a request takes to count itself in. After an
unload the engine's ``close()`` (when it has one) frees the weights, and ``malloc_trim``
hands the freed heap back to the system so the process's resident memory really drops.

The pool is an :class:`~transcription.inference.engines.base.Engine` itself (``name``,
``model``, ``device`` are the default model's): ``transcribe(audio, options)`` runs on
``options.model``, so the batch worker and the service functions take it where they took one
engine.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

import numpy as np

from transcription.exceptions import SettingsError, UnknownModel
from transcription.inference.engines.base import Engine, TranscribeOptions
from transcription.inference.engines.language_detection import LanguageDetection
from transcription.inference.engines.registry import load_engine
from transcription.settings import EngineSettings
from transcription.transcript import Transcript

__all__ = ["ModelPool", "ModelStatus", "parse_model_concurrency"]

log = logging.getLogger(__name__)

MAX_REAPER_INTERVAL = 30.0  # seconds between idle checks, at most


@runtime_checkable
class Closeable(Protocol):
    def close(self) -> None: ...


@runtime_checkable
class LanguageDetecting(Protocol):
    def detect_language(self, audio: np.ndarray) -> LanguageDetection | None: ...


@dataclass(frozen=True)
class ModelStatus:
    """One model of the pool, as /v1/models and /metrics report it."""

    name: str
    default: bool
    loaded: bool
    in_use: int
    limit: int
    peak_in_use: int  # the most requests that used it at once since start
    loads: int
    unloads: int


@dataclass
class _Entry:
    name: str
    limit: int
    semaphore: threading.BoundedSemaphore = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)  # engine and counters
    engine: Engine | None = None
    in_use: int = 0
    peak: int = 0
    last_used: float = 0.0
    loads: int = 0
    unloads: int = 0

    def __post_init__(self) -> None:
        self.semaphore = threading.BoundedSemaphore(self.limit)


def parse_model_concurrency(entries: tuple[str, ...], allowed: tuple[str, ...]) -> dict[str, int]:
    """``("base=1", "tiny.en=2")`` → ``{"base": 1, "tiny.en": 2}``; bad entries name the value."""
    limits: dict[str, int] = {}
    for entry in entries:
        name, sep, raw = entry.partition("=")
        name = name.strip()
        if not sep or not raw.strip().isdigit() or int(raw) < 1:
            raise SettingsError(
                f"MODEL_CONCURRENCY entry {entry!r} is not name=N with N at least 1"
            )
        if name not in allowed:
            raise SettingsError(
                f"MODEL_CONCURRENCY names {name!r}, which is not in MODELS ({', '.join(allowed)})"
            )
        limits[name] = int(raw)
    return limits


class ModelPool:
    name: str
    model: str
    device: str

    def __init__(
        self,
        settings: EngineSettings,
        loader: Callable[[EngineSettings], Engine] = load_engine,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.concurrency < 1:
            raise SettingsError("CONCURRENCY must be at least 1")
        if settings.model_idle_unload_seconds < 0:
            raise SettingsError("MODEL_IDLE_UNLOAD_SECONDS must be 0 (never) or more")
        self.settings = settings
        self.default = settings.model
        self.allowed = tuple(dict.fromkeys((settings.model, *settings.models)))
        limits = parse_model_concurrency(settings.model_concurrency, self.allowed)
        self._entries = {
            name: _Entry(name, limits.get(name, settings.concurrency)) for name in self.allowed
        }
        self._loader = loader
        self._clock = clock
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None
        self.name = settings.engine
        self.model = settings.model
        self.device = settings.device

    # --- choosing ----------------------------------------------------------------------
    def resolve(self, requested: str | None, field: str = "model") -> str:
        """The model a request names (``None`` or empty: the default); else UnknownModel."""
        if requested is None or not requested.strip():
            return self.default
        name = requested.strip()
        if name not in self._entries:
            raise UnknownModel(name, self.allowed, field)
        return name

    def limit(self, name: str) -> int:
        return self._entries[self.resolve(name)].limit

    # --- loading and using -------------------------------------------------------------
    def preload(self) -> Engine:
        """Load the default model now (the server's readiness, the worker's start)."""
        entry = self._entries[self.default]
        with entry.lock:
            engine = self._ensure_loaded(entry)
            entry.last_used = self._clock()
        return engine

    def loaded(self, name: str) -> Engine | None:
        return self._entries[self.resolve(name)].engine

    def _ensure_loaded(self, entry: _Entry) -> Engine:
        """The entry's engine, loading it first if needed; the caller holds ``entry.lock``."""
        if entry.engine is None:
            started = time.perf_counter()
            entry.engine = self._loader(replace(self.settings, model=entry.name))
            entry.loads += 1
            log.info("model %s loaded in %.1f s", entry.name, time.perf_counter() - started)
        return entry.engine

    @contextlib.contextmanager
    def use(self, requested: str | None) -> Iterator[Engine]:
        """The engine of ``requested``, held within its concurrency limit while in use."""
        entry = self._entries[self.resolve(requested)]
        with entry.semaphore:
            with entry.lock:
                engine = self._ensure_loaded(entry)
                entry.in_use += 1
                entry.peak = max(entry.peak, entry.in_use)
            try:
                yield engine
            finally:
                with entry.lock:
                    entry.in_use -= 1
                    entry.last_used = self._clock()

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcript:
        with self.use(options.model) as engine:
            return engine.transcribe(audio, options)

    def detect_language(
        self, audio: np.ndarray, model: str | None = None
    ) -> LanguageDetection | Transcript | None:
        """The language of ``audio``: a detection when the engine can detect on its own,
        otherwise the transcript of a transcription (its ``language`` says it)."""
        with self.use(model) as engine:
            if isinstance(engine, LanguageDetecting):
                return engine.detect_language(audio)
            return engine.transcribe(audio, TranscribeOptions(word_timestamps=False))

    # --- unloading ---------------------------------------------------------------------
    def unload_idle(self) -> list[str]:
        """Unload every model but the default idle for MODEL_IDLE_UNLOAD_SECONDS; their names."""
        idle = self.settings.model_idle_unload_seconds
        if idle <= 0:
            return []
        now = self._clock()
        unloaded: list[str] = []
        for entry in self._entries.values():
            if entry.name == self.default or not entry.lock.acquire(blocking=False):
                continue  # the default stays; a locked entry is loading or in use now
            try:
                if entry.engine is None or entry.in_use or now - entry.last_used < idle:
                    continue
                engine, entry.engine = entry.engine, None
                entry.unloads += 1
            finally:
                entry.lock.release()
            _release(engine)
            unloaded.append(entry.name)
            log.info("model %s unloaded after %.0f s idle", entry.name, now - entry.last_used)
        if unloaded:
            _return_memory()
        return unloaded

    def start_reaper(self) -> None:
        """Check for idle models in a daemon thread (nothing to do when unloading is off)."""
        idle = self.settings.model_idle_unload_seconds
        if idle <= 0 or self._reaper is not None:
            return
        interval = min(MAX_REAPER_INTERVAL, max(0.2, idle / 4))

        def reap() -> None:
            while not self._stop.wait(interval):
                self.unload_idle()

        self._reaper = threading.Thread(target=reap, name="model-reaper", daemon=True)
        self._reaper.start()

    def stop(self) -> None:
        self._stop.set()
        if self._reaper is not None:
            self._reaper.join(timeout=5)

    # --- reporting ---------------------------------------------------------------------
    def status(self) -> list[ModelStatus]:
        return [
            ModelStatus(
                name=e.name,
                default=e.name == self.default,
                loaded=e.engine is not None,
                in_use=e.in_use,
                limit=e.limit,
                peak_in_use=e.peak,
                loads=e.loads,
                unloads=e.unloads,
            )
            for e in self._entries.values()
        ]


def _release(engine: Engine) -> None:
    if isinstance(engine, Closeable):
        engine.close()


def _return_memory() -> None:
    """Collect the engine's objects and give the freed heap back to the system.

    glibc keeps freed memory in its arenas; without ``malloc_trim`` a CPU model's
    weights stay resident after the model is gone. Elsewhere (musl, macOS) this is a no-op.
    """
    gc.collect()
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    try:
        trim = ctypes.CDLL(libc_name).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)
