"""Speech-to-text engines behind one small interface; see :mod:`.base`."""

from transcription.inference.engines.base import Engine, TranscribeOptions
from transcription.inference.engines.registry import ENGINES, load_engine

__all__ = ["ENGINES", "Engine", "TranscribeOptions", "load_engine"]
