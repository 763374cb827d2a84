"""The WhisperX engine (the GPU image): batched transcription, then alignment and diarization.

``whisperx`` is imported only when this engine is loaded: it pins a CUDA build of torch and
cannot be installed on the development machines. Its adapter is covered by a contract test
against a stand-in with the same call signatures (``tests/stand_ins/whisperx``). The calls
used, as in whisperx 3.8:

* ``whisperx.load_model(whisper_arch, device, compute_type=…, asr_options=…, threads=…)``
  and ``pipeline.transcribe(audio, batch_size=…, language=…, task=…)`` →
  ``{"segments": [{"text", "start", "end"}], "language"}``;
* ``whisperx.load_align_model(language_code=…, device=…)`` → ``(model, metadata)``, raising
  ``ValueError`` when there is no alignment model for the language;
* ``whisperx.align(segments, model, metadata, audio, device, return_char_alignments=False)``
  → ``{"segments": [{…, "words": [{"word", "start"?, "end"?, "score"?}]}]}`` (words made of
  characters the model does not know, such as digits, come without times);
* ``whisperx.diarize.DiarizationPipeline(token=…, device=…)(audio)`` and
  ``whisperx.assign_word_speakers(diarization, result)`` → segments with ``"speaker"``.

When no alignment model exists for the detected language, the transcript is still returned,
without word timings, and its ``warnings`` say so.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import logging
import math
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from transcription.exceptions import EngineError, SettingsError
from transcription.inference.audio import SAMPLE_RATE
from transcription.inference.engines.base import TranscribeOptions
from transcription.inference.engines.faster_whisper import default_compute_type
from transcription.inference.engines.models import resolve_model
from transcription.settings import EngineSettings
from transcription.transcript import Segment, Timings, Transcript, Word

__all__ = ["WhisperXEngine"]

log = logging.getLogger(__name__)


@dataclass
class WhisperXEngine:
    model: str
    device: str
    whisperx: ModuleType
    pipeline: Any  # whisperx.asr.FasterWhisperPipeline
    batch_size: int = 16
    align_words: bool = True
    diarizer: Any | None = None  # whisperx.diarize.DiarizationPipeline
    name: str = "whisperx"
    _align_models: dict[str, tuple[Any, Any]] = field(default_factory=dict, repr=False)
    # WhisperX's pipeline swaps its tokenizer per call and the alignment models load
    # lazily: one transcription at a time per loaded engine.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> WhisperXEngine:
        if settings.whisperx_diarize and not settings.hf_token:
            raise SettingsError(
                "WHISPERX_DIARIZE=true needs HF_TOKEN (a Hugging Face token that may read "
                "the pyannote diarization model)"
            )
        whisperx = _import("whisperx")
        options: dict[str, Any] = {
            "compute_type": settings.compute_type or default_compute_type(settings.device),
            "asr_options": {"beam_size": settings.beam_size},
        }
        if settings.cpu_threads > 0:
            options["threads"] = settings.cpu_threads
        pipeline = whisperx.load_model(
            resolve_model(settings.model, settings.model_cache_dir), settings.device, **options
        )
        diarizer = None
        if settings.whisperx_diarize:
            diarizer = _diarization_pipeline(settings.hf_token or "", settings.device)
        return cls(
            model=settings.model,
            device=settings.device,
            whisperx=whisperx,
            pipeline=pipeline,
            batch_size=max(1, settings.batch_size),
            align_words=settings.whisperx_align,
            diarizer=diarizer,
        )

    def close(self) -> None:
        """Drop the models (the pool unloads idle ones) and hand CUDA's cached blocks back.

        Without ``torch.cuda.empty_cache()`` the freed memory stays reserved by torch's
        caching allocator, and ``nvidia-smi`` shows no drop.
        """
        with self._lock:
            self.pipeline = None
            self.diarizer = None
            self._align_models.clear()
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and self.device == "cuda" and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcript:
        options = options.for_whisper()
        started = time.perf_counter()
        warnings: list[str] = []
        if options.prompt:
            warnings.append("the whisperx engine does not take a prompt; it was ignored")
        with self._lock:
            try:
                result = self.pipeline.transcribe(
                    audio, batch_size=self.batch_size, language=options.language, task=options.task
                )
                language = result.get("language") or options.language
                raw = list(result["segments"])
                if raw and self.align_words and options.word_timestamps:
                    # A translation is English text, whatever language was spoken.
                    text_language = "en" if options.task == "translate" else language
                    raw = self._align(raw, audio, text_language, warnings)
                if raw and self.diarizer is not None:
                    raw = self._diarize(self.diarizer, raw, audio)
            except (RuntimeError, ValueError, KeyError) as error:
                raise EngineError(f"whisperx failed: {error}") from error
        segments = tuple(_segment(i, s) for i, s in enumerate(raw))
        duration = round(len(audio) / SAMPLE_RATE, 3)
        return Transcript(
            text=" ".join(s.text for s in segments if s.text),
            language=language,
            duration=duration,
            segments=segments,
            engine=self.name,
            model=self.model,
            device=self.device,
            timings=Timings(
                audio_seconds=duration,
                processing_seconds=round(time.perf_counter() - started, 3),
            ),
            warnings=tuple(warnings),
        )

    def _align(
        self,
        raw: list[dict[str, Any]],
        audio: np.ndarray,
        language: str | None,
        warnings: list[str],
    ) -> list[dict[str, Any]]:
        loaded = self._align_model(language) if language else None
        if loaded is None:
            warnings.append(f"no alignment model for {language!r}: no word timings")
            return raw
        model, metadata = loaded
        aligned = self.whisperx.align(
            raw, model, metadata, audio, self.device, return_char_alignments=False
        )
        return list(aligned["segments"])

    def _diarize(
        self, diarizer: Any, raw: list[dict[str, Any]], audio: np.ndarray
    ) -> list[dict[str, Any]]:
        """Speaker labels on the segments (and their words) from the diarization's turns."""
        diarization = diarizer(audio)
        result = self.whisperx.assign_word_speakers(diarization, {"segments": raw})
        return list(result["segments"])

    def _align_model(self, language: str) -> tuple[Any, Any] | None:
        """The alignment model for ``language``, loaded once; ``None`` when there is none.

        A failure is not remembered: a language without a default model fails fast again,
        and a download that failed once may work the next time.
        """
        if language not in self._align_models:
            try:
                self._align_models[language] = self.whisperx.load_align_model(
                    language_code=language, device=self.device
                )
            except ValueError as error:
                log.warning("no alignment model for %r: %s", language, error)
                return None
        return self._align_models[language]


def _import(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise SettingsError(
            f"ENGINE=whisperx needs the {module} package, which is only in the GPU image "
            f"(pip install '.[whisperx]'): {error}"
        ) from None


def _diarization_pipeline(token: str, device: str) -> Any:
    pipeline_class = _import("whisperx.diarize").DiarizationPipeline
    # whisperx 3.8 (pyannote 4) names the argument ``token``; earlier releases ``use_auth_token``.
    parameters = inspect.signature(pipeline_class).parameters
    token_argument = "token" if "token" in parameters else "use_auth_token"
    return pipeline_class(**{token_argument: token, "device": device})


def _seconds(value: Any) -> float | None:
    """A time from WhisperX (float, numpy or pandas scalar); ``None`` when missing or NaN."""
    if value is None:
        return None
    seconds = float(value)
    return None if math.isnan(seconds) else seconds


def _words(raw: Iterable[Mapping[str, Any]], start: float, end: float) -> tuple[Word, ...]:
    """Aligned words; a word without times gets the gap between its timed neighbours."""
    items = list(raw)
    starts = [_seconds(w.get("start")) for w in items]
    words: list[Word] = []
    for i, item in enumerate(items):
        word_start = starts[i]
        if word_start is None:
            word_start = words[-1].end if words else start
        word_end = _seconds(item.get("end"))
        if word_end is None:
            word_end = next((s for s in starts[i + 1 :] if s is not None), end)
        score = _seconds(item.get("score"))
        words.append(
            Word(
                word=str(item["word"]),
                start=round(word_start, 3),
                end=round(max(word_end, word_start), 3),
                probability=None if score is None else round(score, 4),
            )
        )
    return tuple(words)


def _segment(index: int, raw: Mapping[str, Any]) -> Segment:
    start = _seconds(raw.get("start")) or 0.0
    end = max(_seconds(raw.get("end")) or start, start)
    speaker = raw.get("speaker")
    return Segment(
        id=index,
        start=round(start, 3),
        end=round(end, 3),
        text=str(raw.get("text", "")).strip(),
        words=_words(raw.get("words") or (), start, end),
        speaker=None if speaker is None else str(speaker),
    )
