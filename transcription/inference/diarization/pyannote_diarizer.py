"""The GPU diarizer: WhisperX's ``DiarizationPipeline`` (pyannote), turned into :class:`Turn`s.

Only the turns come from WhisperX; the speakers are put on words and segments by
:func:`transcription.diarization.assign_speakers`, the code path the CPU diarizer uses, so
labels, splitting and the summary do not depend on the engine. The pipeline's model is baked
into the GPU image at build (docker/fastapi-server/Dockerfile, from a build secret); at run
time ``HF_HUB_OFFLINE=1`` and the token only opens the local copy.

Covered by a contract test against the WhisperX stand-in (``tests/stand_ins/whisperx``).
"""

from __future__ import annotations

import importlib
import inspect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from transcription.diarization import DiarizeOptions, Turn
from transcription.diarization.exceptions import DiarizationFailed
from transcription.exceptions import SettingsError
from transcription.settings import EngineSettings

__all__ = ["PyannoteDiarizer"]


@dataclass
class PyannoteDiarizer:
    pipeline: Any  # whisperx.diarize.DiarizationPipeline
    name: str = "pyannote"

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> PyannoteDiarizer:
        if not settings.hf_token:
            raise SettingsError(
                "WHISPERX_DIARIZE=true needs HF_TOKEN (a Hugging Face token that may read "
                "the pyannote diarization model)"
            )
        try:
            pipeline_class = importlib.import_module("whisperx.diarize").DiarizationPipeline
        except ImportError as error:
            raise SettingsError(
                "WHISPERX_DIARIZE=true needs the whisperx package, which is only in the GPU "
                f"image (pip install '.[whisperx]'): {error}"
            ) from None
        # whisperx 3.8 (pyannote 4) names the argument ``token``; earlier ``use_auth_token``.
        parameters = inspect.signature(pipeline_class).parameters
        token_argument = "token" if "token" in parameters else "use_auth_token"
        try:
            pipeline = pipeline_class(
                **{token_argument: settings.hf_token, "device": settings.device}
            )
        except (OSError, RuntimeError, ValueError) as error:
            raise SettingsError(
                "cannot load the pyannote diarization model (the GPU image bakes it in at "
                f"build from the hf_token build secret): {error}"
            ) from error
        return cls(pipeline)

    def diarize(
        self,
        audio: np.ndarray,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> list[Turn]:
        DiarizeOptions(num_speakers, min_speakers, max_speakers)  # the same checks as the CPU one
        try:
            frame = self.pipeline(
                audio,
                num_speakers=num_speakers,
                min_speakers=min_speakers,
                max_speakers=max_speakers,
            )
        except (RuntimeError, ValueError) as error:
            raise DiarizationFailed(f"pyannote diarization failed: {error}") from error
        return turns_from_frame(frame)


def turns_from_frame(frame: Any) -> list[Turn]:
    """Turns from WhisperX's pandas frame (columns ``start``, ``end``, ``speaker``), sorted."""
    turns = [
        Turn(round(float(row["start"]), 3), round(float(row["end"]), 3), str(row["speaker"]))
        for row in frame.to_dict("records")
        if not math.isnan(float(row["start"])) and float(row["end"]) > float(row["start"])
    ]
    return sorted(turns, key=lambda t: (t.start, t.end))
