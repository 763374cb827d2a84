"""``load_engine(settings)``: the engine named by ``ENGINE``, imported only when chosen."""

from __future__ import annotations

import importlib
import logging

from transcription.exceptions import UnknownEngine
from transcription.inference.engines.base import Engine
from transcription.settings import EngineSettings

__all__ = ["ENGINES", "load_engine"]

log = logging.getLogger(__name__)

# name → "module:class"; imported lazily so whisperx is never needed where it is not used.
ENGINES = {
    "faster-whisper": "transcription.inference.engines.faster_whisper:FasterWhisperEngine",
    "whisperx": "transcription.inference.engines.whisperx:WhisperXEngine",
}


def load_engine(settings: EngineSettings) -> Engine:
    try:
        target = ENGINES[settings.engine]
    except KeyError:
        raise UnknownEngine(
            f"ENGINE={settings.engine!r} is not one of {', '.join(sorted(ENGINES))}"
        ) from None
    module_name, _, class_name = target.partition(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine: Engine = engine_class.from_settings(settings)
    log.info("engine loaded: %s %s on %s", engine.name, engine.model, engine.device)
    return engine
