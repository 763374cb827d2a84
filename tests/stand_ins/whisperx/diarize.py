"""Stand-in for ``whisperx.diarize`` (``DiarizationPipeline`` lives only here since 3.4).

Like the real pipeline it returns a pandas ``DataFrame`` with the columns ``segment``,
``label``, ``speaker``, ``start`` and ``end`` (whisperx/diarize.py builds it from pyannote's
``itertracks(yield_label=True)``), one row per turn; the turns are the test's script
(``whisperx.state.turns``), not a model's answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

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
    ) -> pd.DataFrame:
        """Speaker turns as WhisperX's frame (``segment`` holds pyannote Segments there)."""
        _check_audio(audio)
        end = len(audio) / SAMPLE_RATE
        turns = whisperx.state.turns or [
            (0.0, end / 2, "SPEAKER_00"),
            (end / 2, end, "SPEAKER_01"),
        ]
        rows = [
            {"segment": (s, e), "label": chr(65 + i), "speaker": label, "start": s, "end": e}
            for i, (s, e, label) in enumerate(turns)
        ]
        return pd.DataFrame(rows, columns=["segment", "label", "speaker", "start", "end"])
