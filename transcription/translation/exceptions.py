"""Named errors of text translation, on the core's base classes so components map their codes.

* :class:`UnsupportedLanguagePair`: the engine has no model for ``src → tgt`` (permanent: the
  item fails with this message, nothing is copied untranslated);
* :class:`TranslationFailed`: the engine ran and failed (a timeout, a crash, output that does
  not line up with the input); an :class:`EngineError`, so it may work on retry;
* :class:`TranslatorUnavailable`: the engine cannot start here (no ``apertium`` program, no
  model folder): a settings problem of the machine, not of the input.
"""

from __future__ import annotations

from collections.abc import Iterable

from transcription.exceptions import EngineError, SettingsError, TranscriptionError

__all__ = ["TranslationFailed", "TranslatorUnavailable", "UnsupportedLanguagePair"]

# How many of the available pairs an error message lists (NLLB has ~40,000).
_LISTED_PAIRS = 12


class UnsupportedLanguagePair(TranscriptionError):
    """No model translates ``source`` → ``target``; the message names the pairs that exist."""

    code = "unsupported_language_pair"

    def __init__(self, source: str, target: str, engine: str, available: Iterable[tuple[str, str]]):
        pairs = sorted(available)
        listed = ", ".join(f"{s}→{t}" for s, t in pairs[:_LISTED_PAIRS])
        if len(pairs) > _LISTED_PAIRS:
            listed += f" (and {len(pairs) - _LISTED_PAIRS} more)"
        super().__init__(
            f"the {engine} translator cannot translate {source}→{target}; "
            f"it has: {listed or 'no language pair at all'}"
        )
        self.source = source
        self.target = target
        self.available = tuple(pairs)


class TranslationFailed(EngineError):
    """The translation engine failed on text it was given."""

    code = "translation_failed"


class TranslatorUnavailable(SettingsError):
    """The translation engine cannot run on this machine; the message says what is missing."""

    code = "translator_unavailable"
