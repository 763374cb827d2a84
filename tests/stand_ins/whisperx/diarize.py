"""Stand-in for ``whisperx.diarize`` (``DiarizationPipeline`` lives only here since 3.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import whisperx
from whisperx import SAMPLE_RATE, _check_audio, assign_word_speakers, recorded

__all__ = ["DiarizationPipeline", "assign_word_speakers"]


class DiarizationPipeline:
    @recorded
    def __init__(
        self,
        model_name: str | None = None,
        token: str | None = None,
        device: Any = "cpu",
        cache_dir: str | None = None,
    ) -> None:
        if not token:
            raise ValueError("the pyannote model is gated: a Hugging Face token is needed")
        self.device = device

    @recorded
    def __call__(
        self,
        audio: str | np.ndarray,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        return_embeddings: bool = False,
        progress_callback: Callable[[float], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Speaker turns; the real one returns a pandas DataFrame with these columns."""
        _check_audio(audio)
        end = len(audio) / SAMPLE_RATE
        turns = whisperx.state.turns or [
            (0.0, end / 2, "SPEAKER_00"),
            (end / 2, end, "SPEAKER_01"),
        ]
        return [{"start": s, "end": e, "speaker": label} for s, e, label in turns]
