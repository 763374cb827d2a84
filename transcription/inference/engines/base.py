"""The engine interface: ``transcribe(audio, options) -> Transcript``, plus name/model/device.

An engine returns a transcript without ``source``, ``route`` or queue timings: whoever
runs it (server, worker, CLI) adds those with :meth:`Transcript.with_context`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from transcription.transcript import Transcript

__all__ = ["Engine", "TranscribeOptions"]


@dataclass(frozen=True)
class TranscribeOptions:
    language: str | None = None  # None: detect
    task: str = "transcribe"  # or "translate" (to English)
    word_timestamps: bool = True
    prompt: str | None = None
    temperature: float | None = None  # None: the engine's fallback schedule


class Engine(Protocol):
    name: str
    model: str
    device: str

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcript:
        """Transcribe 16 kHz mono float32 samples. Safe to call from worker threads."""
        ...
