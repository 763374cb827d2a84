"""A stand-in for ``ctranslate2`` with an NLLB model (no model can be downloaded here).

``ctranslate2`` itself is installed (faster-whisper uses it), but an NLLB model is 600 M
parameters that the GPU image downloads at build time. This module takes the package's place
on ``sys.path`` with the same call signatures as ctranslate2 4.x: ``Translator.__init__`` and
``Translator.translate_batch`` have the parameter names, order, keyword-only marks and
defaults of the real ones, and no ``**kwargs`` (a test compares them with the installed
package's signatures), so a misspelt argument fails as it would for real. Each call to
``translate_batch`` is recorded in :data:`calls`.

It models the behaviour the adapter relies on, not a neural network:

* ``Translator(model_path)`` raises ``RuntimeError`` when the folder has no ``model.bin``;
* a source is ``[language token, *pieces, "</s>"]`` (NLLB's shape; anything else raises
  ``ValueError`` here, where the real model would just translate badly);
* each hypothesis starts with its target prefix, then each piece looked up in
  :data:`state`'s word table for the target language (``<unk>`` when missing);
* :data:`state` ``.failure`` makes the next call raise ``RuntimeError`` (as CUDA errors do).

Put ``tests/stand_ins`` first on ``sys.path`` to import it as ``ctranslate2``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

END_OF_SENTENCE = "</s>"
UNKNOWN = "<unk>"


@dataclass
class State:
    """What the "model" knows: per target language token, a piece → piece table."""

    words: dict[str, dict[str, str]] = field(
        default_factory=lambda: {
            "spa_Latn": {"▁hello": "▁hola", "▁world": "▁mundo", "▁good": "▁buenos",
                         "▁morning": "▁días", ".": ".", ",": ","},
            "eng_Latn": {"▁hola": "▁hello", "▁mundo": "▁world", "▁buenos": "▁good",
                         "▁días": "▁morning", ".": ".", ",": ","},
        }
    )  # fmt: skip
    failure: str | None = None


state = State()
calls: list[dict[str, Any]] = []


def reset() -> None:
    """Forget the recorded calls and restore the default word tables."""
    vars(state).update(vars(State()))
    calls.clear()


@dataclass
class TranslationResult:
    hypotheses: list[list[str]]
    scores: list[float] = field(default_factory=list)
    attention: list[Any] = field(default_factory=list)
    logits: list[Any] = field(default_factory=list)


class Translator:
    def __init__(
        self,
        model_path: str,
        device: str = "cpu",
        *,
        device_index: int | list[int] = 0,
        compute_type: str | dict[str, str] = "default",
        inter_threads: int = 1,
        intra_threads: int = 0,
        max_queued_batches: int = 0,
        flash_attention: bool = False,
        tensor_parallel: bool = False,
        files: object = None,
    ) -> None:
        if not (Path(model_path) / "model.bin").is_file():
            raise RuntimeError(f"Unable to open file 'model.bin' in model '{model_path}'")
        if device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"unsupported device {device}")
        self.model_path = model_path
        self.device = device
        self.compute_type = compute_type

    def translate_batch(
        self,
        source: list[list[str]],
        target_prefix: list[list[str] | None] | None = None,
        *,
        max_batch_size: int = 0,
        batch_type: str = "examples",
        asynchronous: bool = False,
        beam_size: int = 2,
        patience: float = 1,
        num_hypotheses: int = 1,
        length_penalty: float = 1,
        coverage_penalty: float = 0,
        repetition_penalty: float = 1,
        no_repeat_ngram_size: int = 0,
        disable_unk: bool = False,
        suppress_sequences: list[list[str]] | None = None,
        end_token: str | list[str] | list[int] | None = None,
        return_end_token: bool = False,
        prefix_bias_beta: float = 0,
        max_input_length: int = 1024,
        max_decoding_length: int = 256,
        min_decoding_length: int = 1,
        use_vmap: bool = False,
        return_scores: bool = False,
        return_logits_vocab: bool = False,
        return_attention: bool = False,
        return_alternatives: bool = False,
        min_alternative_expansion_prob: float = 0,
        sampling_topk: int = 1,
        sampling_topp: float = 1,
        sampling_temperature: float = 1,
        replace_unknowns: bool = False,
        callback: Callable[[Any], bool] | None = None,
    ) -> list[TranslationResult]:
        calls.append({k: v for k, v in locals().items() if k != "self"})
        if state.failure:
            raise RuntimeError(state.failure)
        if not isinstance(source, list) or not all(
            isinstance(tokens, list) and all(isinstance(t, str) for t in tokens)
            for tokens in source
        ):
            raise TypeError("source must be a list of lists of str")
        prefixes = target_prefix if target_prefix is not None else [None] * len(source)
        if len(prefixes) != len(source):
            raise ValueError("target_prefix must have one entry per source")
        return [
            _translate(tokens, prefix or [])
            for tokens, prefix in zip(source, prefixes, strict=True)
        ]


def _translate(tokens: list[str], prefix: list[str]) -> TranslationResult:
    if len(tokens) < 2 or "_" not in tokens[0] or tokens[-1] != END_OF_SENTENCE:
        raise ValueError(f"an NLLB source is [language, *pieces, '</s>'], not {tokens}")
    table = state.words.get(prefix[0], {}) if prefix else {}
    pieces = [table.get(t, UNKNOWN) for t in tokens[1:-1]]
    return TranslationResult(hypotheses=[[*prefix, *pieces]], scores=[-0.5])
