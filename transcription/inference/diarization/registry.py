"""The diarizer for a component's settings, loaded once per process (it is a model)."""

from __future__ import annotations

import threading

from transcription.diarization import Diarizer
from transcription.settings import EngineSettings

__all__ = ["forget_diarizers", "load_diarizer"]

_loaded: dict[tuple[str, str, str], Diarizer] = {}
_lock = threading.Lock()


def load_diarizer(settings: EngineSettings) -> Diarizer:
    """WhisperX's pyannote pipeline for ``ENGINE=whisperx`` with ``WHISPERX_DIARIZE=true``
    (the model baked into the GPU image), else Resemblyzer on the CPU. Cached: the first
    diarized request loads it, later ones reuse it."""
    pyannote = settings.engine == "whisperx" and settings.whisperx_diarize
    key = ("pyannote" if pyannote else "resemblyzer", settings.device, settings.hf_token or "")
    with _lock:
        if key not in _loaded:
            _loaded[key] = _load(settings, pyannote)
        return _loaded[key]


def _load(settings: EngineSettings, pyannote: bool) -> Diarizer:
    if pyannote:
        from transcription.inference.diarization.pyannote_diarizer import PyannoteDiarizer

        return PyannoteDiarizer.from_settings(settings)
    from transcription.inference.diarization.resemblyzer_diarizer import ResemblyzerDiarizer

    return ResemblyzerDiarizer.load()


def forget_diarizers() -> None:
    """Drop the loaded diarizers (tests that swap the WhisperX stand-in in and out)."""
    with _lock:
        _loaded.clear()
