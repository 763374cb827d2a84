"""The faster-whisper engine (CTranslate2): CPU int8 by default, float16 on CUDA.

VAD is always on (it skips silence and keeps hallucinations out of pauses), word timestamps
are on unless a caller turns them off, and ``BATCH_SIZE > 1`` switches to faster-whisper's
batched pipeline.

Languages. With no language given, a multilingual model detects it over the whole file
(:mod:`.language_detection`), reports the votes in the transcript and transcribes with the
winner. An English-only model (``tiny.en``) cannot detect; it transcribes as English, and
when the result does not look like English (mean segment log-probability below
:data:`ENGLISH_MIN_LOGPROB`) it warns instead of passing the English-sounding words off as a
transcript: with the multilingual ``base`` installed, that model (loaded on first need) names
the language; without it, the warning says the audio may not be English. Asking an
English-only model for another language, explicitly, is an :class:`UnsupportedLanguage`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from transcription.exceptions import EngineError, UnsupportedLanguage
from transcription.inference.audio import SAMPLE_RATE
from transcription.inference.engines.base import TranscribeOptions
from transcription.inference.engines.language_detection import (
    LanguageDetection,
    LanguageDetector,
    LazyLanguageDetector,
    WindowedLanguageDetector,
)
from transcription.inference.engines.models import MODELS, resolve_model
from transcription.languages import from_whisper, language_name, whisper_language
from transcription.settings import EngineSettings
from transcription.transcript import Segment, Timings, Transcript, Word

__all__ = ["FasterWhisperEngine"]

log = logging.getLogger(__name__)


# The multilingual model that names the language when an English-only model hears another.
PROBE_MODEL = "base"
# Below this (mean over segments, weighted by length), an English-only model's output is not
# taken for English: espeak-ng English scores about -0.35 on tiny.en, Spanish and German
# below -0.85.
ENGLISH_MIN_LOGPROB = -0.6
# An English-only model that writes nothing for this much speech is suspicious too (tiny.en
# drops every segment of espeak-ng German as improbable).
MIN_SPEECH_SECONDS = 2.0


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
    # Multilingual models: over the model itself. English-only ones: over PROBE_MODEL, or
    # None when it is not installed.
    detector: LanguageDetector | None = None
    name: str = "faster-whisper"

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> FasterWhisperEngine:
        from faster_whisper import BatchedInferencePipeline

        whisper = _whisper_model(settings, settings.model)
        pipeline = BatchedInferencePipeline(whisper) if settings.batch_size > 1 else None
        detector: LanguageDetector | None = None
        if whisper.model.is_multilingual:
            detector = WindowedLanguageDetector(whisper)
        elif MODELS[PROBE_MODEL].installed():
            detector = LazyLanguageDetector(
                lambda: _whisper_model(settings, PROBE_MODEL), name=PROBE_MODEL
            )
        return cls(
            model=settings.model,
            device=settings.device,
            whisper=whisper,
            pipeline=pipeline,
            batch_size=settings.batch_size,
            beam_size=settings.beam_size,
            detector=detector,
        )

    @property
    def multilingual(self) -> bool:
        return bool(self.whisper.model.is_multilingual)

    def detect_language(self, audio: np.ndarray) -> LanguageDetection | None:
        """The language over the whole file (``None``: silent), without transcribing.

        An English-only model detects with :data:`PROBE_MODEL`; without it there is no way
        to tell, which is an :class:`UnsupportedLanguage`.
        """
        if self.detector is None:
            raise UnsupportedLanguage(
                "",
                f"model {self.model} is English-only and no multilingual model is installed "
                "to detect the language",
                field="model",
            )
        try:
            return self.detector.detect(audio)
        except (RuntimeError, ValueError) as error:
            raise EngineError(f"faster-whisper failed: {error}") from error

    def close(self) -> None:
        """Free the weights now (the pool unloads idle models); the engine is unusable after."""
        self.whisper.model.unload_model()
        self.pipeline = None
        self.detector = None

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcript:
        options = options.for_whisper()
        warnings: list[str] = []
        detection: LanguageDetection | None = None
        language, task = options.language, options.task
        if not self.multilingual:
            if language not in (None, "en"):
                raise UnsupportedLanguage(
                    language or "",
                    f"model {self.model} is English-only; use a multilingual model (e.g. base)",
                )
            if task == "translate":
                warnings.append(
                    f"model {self.model} is English-only and cannot translate: "
                    "the text is a transcription"
                )
                task = "transcribe"
            language = "en"
        kwargs: dict[str, Any] = {
            "task": task,
            "beam_size": self.beam_size,
            "word_timestamps": options.word_timestamps,
            "vad_filter": True,
            "initial_prompt": options.prompt,
        }
        if options.temperature is not None:
            kwargs["temperature"] = options.temperature
        started = time.perf_counter()
        try:
            if language is None and self.multilingual and self.detector is not None:
                detection = self.detector.detect(audio)
                if detection is not None:
                    language = whisper_language(detection.language)
                    warnings.extend(detection.warnings)
            kwargs["language"] = language
            if self.pipeline is not None:
                raw_segments, info = self.pipeline.transcribe(
                    audio, batch_size=self.batch_size, **kwargs
                )
            else:
                raw_segments, info = self.whisper.transcribe(audio, **kwargs)
            raw = list(raw_segments)
            if not self.multilingual and options.language is None:
                detection = self._check_english(audio, raw, warnings)
        except (RuntimeError, ValueError) as error:
            raise EngineError(f"faster-whisper failed: {error}") from error
        segments = tuple(_segment(i, s) for i, s in enumerate(raw))
        duration = len(audio) / SAMPLE_RATE
        return Transcript(
            text=" ".join(s.text for s in segments if s.text),
            language=detection.language if detection else from_whisper(info.language),
            language_probability=detection.probability if detection else None,
            language_votes=detection.votes if detection else (),
            warnings=tuple(warnings),
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

    def _check_english(
        self, audio: np.ndarray, raw: list[Any], warnings: list[str]
    ) -> LanguageDetection | None:
        """For an English-only model: a warning when the audio is not English, and its language.

        Returns the probe's detection when one ran and found another language.
        """
        logprob = _mean_logprob(raw)
        if logprob is None:
            # Nothing came out: silence, or speech the model could make nothing of.
            if _speech_seconds(audio) < MIN_SPEECH_SECONDS:
                return None
            symptom = "no words were recognised in audio that holds speech"
        elif logprob < ENGLISH_MIN_LOGPROB:
            symptom = (
                "the words were recognised with low confidence "
                f"(mean log-probability {logprob:.2f})"
            )
        else:
            return None
        if self.detector is None:
            warnings.append(
                f"{symptom}: the audio may not be English, which {self.model} cannot "
                "transcribe; use a multilingual model (MODEL=base)"
            )
            return None
        detection = self.detector.detect(audio)
        if detection is None or detection.language == "en":
            return None
        warnings.append(
            f"the audio sounds like {language_name(detection.language)} "
            f"({detection.language}, probability {detection.probability:.2f}), but "
            f"{self.model} is an English-only model: the text is not a transcription of it; "
            "use a multilingual model (MODEL=base)"
        )
        warnings.extend(detection.warnings)
        return detection


def _whisper_model(settings: EngineSettings, model: str) -> Any:
    from faster_whisper import WhisperModel

    return WhisperModel(
        resolve_model(model, settings.model_cache_dir),
        device=settings.device,
        compute_type=settings.compute_type or default_compute_type(settings.device),
        cpu_threads=settings.cpu_threads,
        num_workers=max(1, settings.concurrency),
    )


def _speech_seconds(audio: np.ndarray) -> float:
    """How much speech faster-whisper's VAD (Silero) finds in ``audio``."""
    from faster_whisper.vad import get_speech_timestamps

    chunks = get_speech_timestamps(audio)
    return sum(chunk["end"] - chunk["start"] for chunk in chunks) / SAMPLE_RATE


def _mean_logprob(raw: list[Any]) -> float | None:
    """Segments' mean log-probability per token, weighted by their length; None without any."""
    weights = [max(s.end - s.start, 0.01) for s in raw]
    if not raw:
        return None
    return sum(s.avg_logprob * w for s, w in zip(raw, weights, strict=True)) / sum(weights)


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
