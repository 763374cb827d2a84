"""Text translation (NMT): one interface, two engines, and translating a transcript.

* :class:`Translator` (``pairs()``, ``translate(texts, src, tgt)``), the interface;
* :class:`ApertiumTranslator`: rule-based, Debian packages, CPU (the local default);
* ``CTranslate2Translator`` (:mod:`transcription.translation.ctranslate2`): an NLLB-200 model
  on the GPU (the images); its module imports ``ctranslate2`` only when a model is loaded;
* :func:`load_translator`: the one ``NMT_ENGINE`` names;
* :func:`translate_transcript` and :func:`translated_sidecar_key`: an ``asr+nmt`` job's
  translation, segment by segment, and where its ``.es.srt``… sidecars go.

Light (standard library only at import): the worker and the job API may import it.
"""

from __future__ import annotations

from transcription.translation.apertium import ApertiumTranslator
from transcription.translation.base import Translator, check_pair
from transcription.translation.exceptions import (
    TranslationFailed,
    TranslatorUnavailable,
    UnsupportedLanguagePair,
)
from transcription.translation.registry import load_translator
from transcription.translation.translate import translate_transcript, translated_sidecar_key

__all__ = [
    "ApertiumTranslator",
    "TranslationFailed",
    "Translator",
    "TranslatorUnavailable",
    "UnsupportedLanguagePair",
    "check_pair",
    "load_translator",
    "translate_transcript",
    "translated_sidecar_key",
]
