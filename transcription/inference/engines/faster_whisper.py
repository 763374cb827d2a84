"""The faster-whisper engine (CTranslate2): CPU int8 by default, float16 on CUDA.

VAD is always on (it skips silence and keeps hallucinations out of pauses), word timestamps
are on unless a caller turns them off, and ``BATCH_SIZE > 1`` switches to faster-whisper's
batched pipeline.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from transcription.exceptions import EngineError
from transcription.inference.audio import SAMPLE_RATE
from transcription.inference.engines.base import TranscribeOptions
from transcription.inference.engines.models import resolve_model
from transcription.settings import EngineSettings
from transcription.transcript import Segment, Timings, Transcript, Word

__all__ = ["FasterWhisperEngine"]

log = logging.getLogger(__name__)


def default_compute_type(device: str) -> str:
    return "float16" if device == "cuda" else "int8"


@dataclass
class FasterWhisperEngine:
    model: str
    device: str
    whisper: Any  # faster_whisper.WhisperModel
    pipeline: Any | None  # faster_whisper.BatchedInferencePipeline when batching
    batch_size: int = 1
    beam_size: int = 5
    name: str = "faster-whisper"

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> FasterWhisperEngine:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        whisper = WhisperModel(
            resolve_model(settings.model, settings.model_cache_dir),
            device=settings.device,
            compute_type=settings.compute_type or default_compute_type(settings.device),
            cpu_threads=settings.cpu_threads,
            num_workers=max(1, settings.concurrency),
        )
        pipeline = BatchedInferencePipeline(whisper) if settings.batch_size > 1 else None
        return cls(
            model=settings.model,
            device=settings.device,
            whisper=whisper,
            pipeline=pipeline,
            batch_size=settings.batch_size,
            beam_size=settings.beam_size,
        )

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcript:
        options = options.for_whisper()
        kwargs: dict[str, Any] = {
            "language": options.language,
            "task": options.task,
            "beam_size": self.beam_size,
            "word_timestamps": options.word_timestamps,
            "vad_filter": True,
            "initial_prompt": options.prompt,
        }
        if options.temperature is not None:
            kwargs["temperature"] = options.temperature
        started = time.perf_counter()
        try:
            if self.pipeline is not None:
                raw_segments, info = self.pipeline.transcribe(
                    audio, batch_size=self.batch_size, **kwargs
                )
            else:
                raw_segments, info = self.whisper.transcribe(audio, **kwargs)
            segments = tuple(_segment(i, s) for i, s in enumerate(raw_segments))
        except (RuntimeError, ValueError) as error:
            raise EngineError(f"faster-whisper failed: {error}") from error
        duration = len(audio) / SAMPLE_RATE
        return Transcript(
            text=" ".join(s.text for s in segments if s.text),
            language=info.language,
            duration=round(duration, 3),
            segments=segments,
            engine=self.name,
            model=self.model,
            device=self.device,
            timings=Timings(
                audio_seconds=round(duration, 3),
                processing_seconds=round(time.perf_counter() - started, 3),
            ),
        )


def _segment(index: int, raw: Any) -> Segment:
    words = tuple(
        Word(
            word=w.word,
            start=round(w.start, 3),
            end=round(w.end, 3),
            probability=round(w.probability, 4),
        )
        for w in raw.words or ()
    )
    return Segment(
        id=index,
        start=round(raw.start, 3),
        end=round(raw.end, 3),
        text=raw.text.strip(),
        words=words,
    )
