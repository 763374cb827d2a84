"""Diarization engines (heavy: torch, WhisperX). The interface is :mod:`transcription.diarization`.

:func:`load_diarizer` picks the engine for the settings: WhisperX's pyannote pipeline when
the WhisperX engine runs with ``WHISPERX_DIARIZE=true``, else Resemblyzer on the CPU.
"""

from transcription.inference.diarization.registry import load_diarizer

__all__ = ["load_diarizer"]
