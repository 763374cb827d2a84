"""Which translator runs: ``NMT_ENGINE`` (apertium | ctranslate2), read once at start-up."""

from __future__ import annotations

from collections.abc import Callable

from transcription.exceptions import SettingsError, UnknownEngine
from transcription.settings import TranslationSettings
from transcription.translation.apertium import ApertiumTranslator
from transcription.translation.base import Translator

__all__ = ["TRANSLATORS", "load_translator"]


def _apertium(settings: TranslationSettings) -> Translator:
    return ApertiumTranslator.discover(timeout_seconds=settings.nmt_timeout_seconds)


def _ctranslate2(settings: TranslationSettings) -> Translator:
    if not settings.nmt_model_dir:
        raise SettingsError(
            "NMT_ENGINE=ctranslate2 needs NMT_MODEL_DIR (a CTranslate2 NLLB model folder)"
        )
    # Imported here: the adapter module is light, but keep the apertium path free of it.
    from transcription.translation.ctranslate2 import CTranslate2Translator

    return CTranslate2Translator.load(settings.nmt_model_dir, settings.nmt_device)


TRANSLATORS: dict[str, Callable[[TranslationSettings], Translator]] = {
    "apertium": _apertium,
    "ctranslate2": _ctranslate2,
}


def load_translator(settings: TranslationSettings) -> Translator:
    """The translator ``settings.nmt_engine`` names, ready to use; a clear error otherwise."""
    try:
        factory = TRANSLATORS[settings.nmt_engine]
    except KeyError:
        raise UnknownEngine(
            f"NMT_ENGINE={settings.nmt_engine!r} is not one of {', '.join(TRANSLATORS)}"
        ) from None
    return factory(settings)
