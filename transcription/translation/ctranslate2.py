"""CTranslate2 with an NLLB-200 model: the production translator of the GPU image.

NLLB over opus-mt: one model covers every pair of its 200 languages (opus-mt needs one model
per pair), and its ``tokenizer.json`` loads with the ``tokenizers`` package, which
faster-whisper already brings (opus-mt needs ``sentencepiece`` as well). The model folder,
``NMT_MODEL_DIR``, is what ``ct2-transformers-converter --model facebook/nllb-200-distilled-600M
--copy_files tokenizer.json`` writes (the GPU image runs it at build time): the converted
weights and the tokenizer side by side.

A text is translated as NLLB expects: source tokens ``[src_code, *pieces, "</s>"]``, the target
prefix ``[tgt_code]`` (``spa_Latn``), which comes back as the first token of the hypothesis
and is dropped. The languages are the ``xxx_Xxxx`` tokens of the tokenizer's vocabulary
whose ``xxx`` is a known ISO 639-3 code; of two scripts of one language (``zho_Hans``,
``zho_Hant``) the first in alphabetical order is used.

``ctranslate2`` and ``tokenizers`` are imported only when this translator is loaded. The
calls used, as in ctranslate2 4.x:

* ``ctranslate2.Translator(model_path, device=…, compute_type="default")``;
* ``translator.translate_batch(source: list[list[str]], target_prefix=[[code], …],
  beam_size=…, max_batch_size=…)`` → results with ``.hypotheses`` (lists of tokens).
"""

from __future__ import annotations

import importlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from transcription.exceptions import UnknownLanguage
from transcription.languages import normalize_language
from transcription.translation.base import check_pair
from transcription.translation.exceptions import TranslationFailed, TranslatorUnavailable

__all__ = ["CTranslate2Translator", "nllb_languages"]

TOKENIZER_FILE = "tokenizer.json"
END_OF_SENTENCE = "</s>"
# NLLB's language tokens: ISO 639-3 code, underscore, ISO 15924 script.
_LANGUAGE_TOKEN = re.compile(r"[a-z]{3}_[A-Z][a-z]{3}")


@dataclass
class CTranslate2Translator:
    translator: Any  # ctranslate2.Translator
    tokenizer: Any  # tokenizers.Tokenizer
    languages: dict[str, str]  # canonical ISO code → NLLB token, e.g. "es" → "spa_Latn"
    model: str = ""
    beam_size: int = 4
    max_batch_size: int = 32
    name: str = "ctranslate2"
    # One batch at a time per loaded model, as for the Whisper engines.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, model_dir: str, device: str = "cpu") -> CTranslate2Translator:
        """The model in ``model_dir`` (converted weights + ``tokenizer.json``) on ``device``."""
        folder = Path(model_dir)
        if not (folder / "model.bin").is_file() or not (folder / TOKENIZER_FILE).is_file():
            raise TranslatorUnavailable(
                f"NMT_MODEL_DIR={model_dir!r} must hold a CTranslate2 NLLB model: model.bin "
                f"and {TOKENIZER_FILE} (ct2-transformers-converter --copy_files {TOKENIZER_FILE})"
            )
        ctranslate2 = _import("ctranslate2")
        tokenizer = _import("tokenizers").Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        translator = ctranslate2.Translator(str(folder), device=device, compute_type="default")
        return cls(
            translator=translator,
            tokenizer=tokenizer,
            languages=nllb_languages(tokenizer.get_vocab()),
            model=folder.name,
        )

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset((s, t) for s in self.languages for t in self.languages if s != t)

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        src, tgt = check_pair(self, source, target)
        todo = [i for i, text in enumerate(texts) if text.strip()]
        out = [""] * len(texts)
        if not todo:
            return out
        sources = [self._source_tokens(texts[i], self.languages[src]) for i in todo]
        prefix = [self.languages[tgt]]
        try:
            with self._lock:
                results = self.translator.translate_batch(
                    sources,
                    target_prefix=[prefix] * len(sources),
                    beam_size=self.beam_size,
                    max_batch_size=self.max_batch_size,
                )
        except (RuntimeError, ValueError) as error:
            raise TranslationFailed(f"ctranslate2 failed on {src}→{tgt}: {error}") from error
        for i, result in zip(todo, results, strict=True):
            out[i] = self._text(result.hypotheses[0], prefix)
        return out

    def _source_tokens(self, text: str, language_token: str) -> list[str]:
        pieces = self.tokenizer.encode(" ".join(text.split()), add_special_tokens=False).tokens
        return [language_token, *pieces, END_OF_SENTENCE]

    def _text(self, tokens: list[str], prefix: list[str]) -> str:
        if tokens[: len(prefix)] == prefix:
            tokens = tokens[len(prefix) :]
        ids = [self.tokenizer.token_to_id(t) for t in tokens]
        known = [i for i in ids if i is not None]
        return " ".join(self.tokenizer.decode(known, skip_special_tokens=True).split())


def nllb_languages(vocabulary: dict[str, int]) -> dict[str, str]:
    """Canonical ISO code → NLLB language token, from a tokenizer's vocabulary."""
    found: dict[str, str] = {}
    for token in sorted(t for t in vocabulary if _LANGUAGE_TOKEN.fullmatch(t)):
        try:
            found.setdefault(normalize_language(token), token)
        except UnknownLanguage:
            continue  # a language without an ISO 639-1 code and not in our table
    return found


def _import(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise TranslatorUnavailable(
            f"NMT_ENGINE=ctranslate2 needs the {module} package (pip install '.[engine]'): {error}"
        ) from None
