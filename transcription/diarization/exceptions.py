"""The named errors of diarization."""

from __future__ import annotations

from transcription.exceptions import EngineError, TranscriptionError

__all__ = ["DiarizationFailed", "InvalidSpeakerCount"]


class InvalidSpeakerCount(TranscriptionError, ValueError):
    """``num_speakers``/``min_speakers``/``max_speakers`` out of range or contradictory."""

    code = "invalid_speaker_count"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class DiarizationFailed(EngineError):
    """The diarization engine failed on audio that decoded fine (may work on retry)."""

    code = "diarization_failed"
