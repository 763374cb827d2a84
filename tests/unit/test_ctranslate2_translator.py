"""Contract test of the CTranslate2 (NLLB) translator against a stand-in ``ctranslate2``.

No NLLB model can be fetched here, so ``tests/stand_ins/ctranslate2`` takes the package's
place on ``sys.path``; its signatures are checked against the real ``ctranslate2`` installed
here (faster-whisper's), so the stand-in cannot drift from the package. The tokenizer is
real: a ``tokenizers`` tokenizer.json built in the test, with NLLB's language tokens.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType

import ctranslate2 as real_ctranslate2  # the installed package, before a test swaps it
import pytest

from transcription.exceptions import SettingsError, UnknownEngine
from transcription.settings import TranslationSettings, load
from transcription.translation import (
    TranslationFailed,
    TranslatorUnavailable,
    UnsupportedLanguagePair,
    load_translator,
)
from transcription.translation.ctranslate2 import CTranslate2Translator, nllb_languages

STAND_INS = Path(__file__).resolve().parents[1] / "stand_ins"
LANGUAGE_TOKENS = ["eng_Latn", "spa_Latn", "zho_Hans", "zho_Hant", "ace_Arab"]
WORDS = ["▁hello", "▁world", "▁hola", "▁mundo", "▁good", "▁morning", "▁buenos", "▁días", ".", ","]


def _real_signature(function: object) -> list[tuple[str, str | None, bool]]:
    """(name, default, keyword-only) of each parameter, read from a pybind11 docstring."""
    header = (getattr(function, "__doc__", None) or "").split("\n", 1)[0]
    inside = header[header.index("(") + 1 : header.rindex(") ->")]
    parts, depth, current = [], 0, ""
    for char in inside:
        depth += (char in "[(") - (char in "])")
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    out, keyword_only = [], False
    for part in parts:
        if part == "*":
            keyword_only = True
            continue
        name = part.split(":", 1)[0].strip()
        default = part.split(" = ", 1)[1] if " = " in part else None
        if name != "self":
            out.append((name, default, keyword_only))
    return out


def _stand_in_signature(function: object) -> list[tuple[str, str | None, bool]]:
    parameters = list(inspect.signature(function).parameters.values())[1:]  # self
    return [
        (
            p.name,
            None if p.default is inspect.Parameter.empty else repr(p.default),
            p.kind is inspect.Parameter.KEYWORD_ONLY,
        )
        for p in parameters
    ]


@pytest.fixture
def ctranslate2(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The stand-in, importable as ``ctranslate2`` for one test; the real one comes back after."""
    for name in [n for n in sys.modules if n == "ctranslate2" or n.startswith("ctranslate2.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(STAND_INS))
    import ctranslate2 as stand_in

    assert Path(stand_in.__file__).is_relative_to(STAND_INS)
    stand_in.reset()
    return stand_in  # monkeypatch puts the real modules back after the test


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A model folder as the image build leaves it: model.bin and an NLLB-like tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    specials = ["<s>", "<pad>", "</s>", "<unk>", *LANGUAGE_TOKENS]
    vocabulary = {token: i for i, token in enumerate([*specials, *WORDS])}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()  # a small vocabulary; NLLB's keeps case
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()]
    )
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.add_special_tokens(specials)
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "model.bin").write_bytes(b"stand-in weights")
    return tmp_path


@pytest.mark.parametrize("method", ["__init__", "translate_batch"])
def test_the_stand_in_has_the_real_signatures(ctranslate2: ModuleType, method: str) -> None:
    assert not Path(real_ctranslate2.__file__).is_relative_to(STAND_INS)
    assert _stand_in_signature(getattr(ctranslate2.Translator, method)) == _real_signature(
        getattr(real_ctranslate2.Translator, method)
    )


def test_the_signature_reader_reads_what_it_should() -> None:
    parameters = {name: (default, kw) for name, default, kw in _real_signature(
        real_ctranslate2.Translator.translate_batch
    )}  # fmt: skip
    assert parameters["source"] == (None, False)
    assert parameters["target_prefix"] == ("None", False)
    assert parameters["beam_size"] == ("2", True)
    assert parameters["end_token"] == ("None", True)  # its type holds commas inside brackets


def test_english_to_spanish_with_nllb_tokens(ctranslate2: ModuleType, model_dir: Path) -> None:
    translator = CTranslate2Translator.load(str(model_dir), device="cuda")
    out = translator.translate(["Hello world.", "", "Good morning, world."], "en", "spa")

    assert out == ["hola mundo.", "", "buenos días, mundo."]
    (call,) = ctranslate2.calls
    assert call["source"] == [
        ["eng_Latn", "▁hello", "▁world", ".", "</s>"],
        ["eng_Latn", "▁good", "▁morning", ",", "▁world", ".", "</s>"],
    ]
    assert call["target_prefix"] == [["spa_Latn"], ["spa_Latn"]]
    assert call["beam_size"] == translator.beam_size
    assert translator.translator.device == "cuda"
    assert translator.translator.compute_type == "default"  # as converted


def test_spanish_to_english(ctranslate2: ModuleType, model_dir: Path) -> None:
    translator = CTranslate2Translator.load(str(model_dir))
    assert translator.translate(["Hola mundo."], "es", "en") == ["hello world."]
    assert ctranslate2.calls[0]["target_prefix"] == [["eng_Latn"]]


def test_languages_come_from_the_tokenizer(ctranslate2: ModuleType, model_dir: Path) -> None:
    translator = CTranslate2Translator.load(str(model_dir))
    # ace (Acehnese) has no code in our table; of zho's two scripts the first is used.
    assert translator.languages == {"en": "eng_Latn", "es": "spa_Latn", "zh": "zho_Hans"}
    assert ("en", "zh") in translator.pairs() and ("en", "en") not in translator.pairs()
    assert nllb_languages({"arb_Arab": 1, "fra_Latn": 2, "<s>": 3}) == {
        "ar": "arb_Arab",
        "fr": "fra_Latn",
    }


def test_an_unsupported_pair_fails_before_the_model_runs(
    ctranslate2: ModuleType, model_dir: Path
) -> None:
    translator = CTranslate2Translator.load(str(model_dir))
    with pytest.raises(UnsupportedLanguagePair, match=r"cannot translate en→de; it has: en→es"):
        translator.translate(["Hello"], "en", "de")
    assert ctranslate2.calls == []


def test_a_model_failure_is_a_translation_failure(ctranslate2: ModuleType, model_dir: Path) -> None:
    translator = CTranslate2Translator.load(str(model_dir))
    ctranslate2.state.failure = "CUDA failed with error out of memory"
    with pytest.raises(TranslationFailed, match="out of memory") as raised:
        translator.translate(["Hello"], "en", "es")
    assert not raised.value.permanent


def test_a_folder_without_a_model_is_named(ctranslate2: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(TranslatorUnavailable, match=re.escape(f"NMT_MODEL_DIR='{tmp_path}'")):
        CTranslate2Translator.load(str(tmp_path))


def test_the_registry_loads_the_engine_named(ctranslate2: ModuleType, model_dir: Path) -> None:
    settings = TranslationSettings(nmt_engine="ctranslate2", nmt_model_dir=str(model_dir))
    translator = load_translator(settings)
    assert isinstance(translator, CTranslate2Translator)
    assert translator.name == "ctranslate2" and translator.model == model_dir.name
    assert load_translator(TranslationSettings()).name == "apertium"


def test_the_registry_names_what_is_wrong() -> None:
    with pytest.raises(SettingsError, match="NMT_MODEL_DIR"):
        load_translator(TranslationSettings(nmt_engine="ctranslate2"))
    with pytest.raises(UnknownEngine, match=r"NMT_ENGINE='marian'.*apertium, ctranslate2"):
        load_translator(TranslationSettings(nmt_engine="marian"))


def test_the_translation_settings_are_documented_and_load() -> None:
    example = (Path(__file__).resolve().parents[2] / "config.env.example").read_text()
    for f in dataclasses.fields(TranslationSettings):
        assert re.search(rf"^{f.name.upper()}=", example, re.MULTILINE), f.name
    settings = load(
        TranslationSettings,
        {
            "NMT_ENGINE": "ctranslate2",
            "NMT_MODEL_DIR": "/opt/models/nllb",
            "NMT_TIMEOUT_SECONDS": "5",
        },
    )
    assert (settings.nmt_engine, settings.nmt_model_dir) == ("ctranslate2", "/opt/models/nllb")
    assert settings.nmt_timeout_seconds == 5.0 and settings.nmt_device == "cpu"
    with pytest.raises(SettingsError, match="NMT_TIMEOUT_SECONDS='soon'"):
        load(TranslationSettings, {"NMT_TIMEOUT_SECONDS": "soon"})
