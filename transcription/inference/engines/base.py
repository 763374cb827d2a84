"""The engine interface: ``transcribe(audio, options) -> Transcript``, plus name/model/device.

An engine returns a transcript without ``source``, ``route`` or queue timings: whoever
runs it (server, worker, CLI) adds those with :meth:`Transcript.with_context`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from transcription.languages import whisper_language
from transcription.transcript import Transcript

__all__ = ["Engine", "TranscribeOptions"]


@dataclass(frozen=True)
class TranscribeOptions:
    """What to do with one file.

    ``language`` may be any form :func:`transcription.languages.normalize_language` accepts
    (``es``, ``spa``, ``es-MX``…). Engines call :meth:`for_whisper` first, inside the
    caller's error handling, so an unknown code fails that one request with
    :class:`UnknownLanguage` (:class:`UnsupportedLanguage` for one Whisper lacks).
    """

    language: str | None = None  # None: detect
    task: str = "transcribe"  # or "translate" (to English)
    word_timestamps: bool = True
    prompt: str | None = None
    temperature: float | None = None  # None: the engine's fallback schedule
    model: str | None = None  # which model of a ModelPool; None: the default (MODEL)

    def for_whisper(self) -> TranscribeOptions:
        """A copy whose ``language`` is the code Whisper uses (``spa`` → ``es``)."""
        if self.language is None:
            return self
        return replace(self, language=whisper_language(self.language))


class Engine(Protocol):
    name: str
    model: str
    device: str

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcript:
        """Transcribe 16 kHz mono float32 samples. Safe to call from worker threads."""
        ...
