"""Who spoke when: the diarization interface and the speaker assignment (light core).

The engines that find the turns live in :mod:`transcription.inference.diarization` (they need
torch or WhisperX); this package is standard library only, so the router and the store can
read diarized transcripts and a caller can name the options without importing an engine.
"""

from transcription.diarization.assignment import assign_speakers
from transcription.diarization.turns import DiarizeOptions, Diarizer, Turn

__all__ = ["DiarizeOptions", "Diarizer", "Turn", "assign_speakers"]
