"""The text translation (NMT) interface: what every engine offers, and the pair check.

Language codes are normalised once, here, through :mod:`transcription.languages`: callers may
pass ISO 639-1 (``es``) or 639-3 (``spa``) codes, names or tags; engines compare canonical
codes (``es``) and turn them into their own names (Apertium's ``spa``, NLLB's ``spa_Latn``).
"""

from __future__ import annotations

from typing import Protocol

from transcription.languages import normalize_language
from transcription.translation.exceptions import UnsupportedLanguagePair

__all__ = ["Translator", "check_pair"]


class Translator(Protocol):
    """Translates many texts at once from one language to another."""

    @property
    def name(self) -> str:
        """The engine: ``apertium``, ``ctranslate2``."""
        ...

    def pairs(self) -> frozenset[tuple[str, str]]:
        """The (source, target) pairs it can translate, as canonical ISO codes."""
        ...

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        """One translation per text, in order (an empty text stays empty).

        Raises :class:`UnsupportedLanguagePair` before any work when the pair is not one of
        :meth:`pairs`, and :class:`TranslationFailed` when the engine fails.
        """
        ...


def check_pair(translator: Translator, source: str, target: str) -> tuple[str, str]:
    """``(source, target)`` as canonical codes, or :class:`UnsupportedLanguagePair`.

    An unknown code raises :class:`~transcription.exceptions.UnknownLanguage` naming the field
    (``src_lng`` / ``tgt_lng``, the names the job API uses).
    """
    pair = (normalize_language(source, "src_lng"), normalize_language(target, "tgt_lng"))
    available = translator.pairs()
    if pair not in available:
        raise UnsupportedLanguagePair(*pair, translator.name, available)
    return pair
