"""ISO 639 codes: accepted forms, what Whisper is told, and named errors for the rest."""

from __future__ import annotations

import pytest

from transcription.exceptions import UnknownLanguage, UnsupportedLanguage
from transcription.languages import (
    WHISPER_LANGUAGES,
    from_whisper,
    iso639_3,
    language_name,
    normalize_language,
    whisper_language,
)


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("es", "es"), ("ES", "es"), (" spa ", "es"),  # 639-1, 639-3
        ("de", "de"), ("deu", "de"), ("ger", "de"),  # 639-3 and 639-2/B
        ("zho", "zh"), ("chi", "zh"), ("cmn", "zh"),  # an individual language of zh
        ("en-US", "en"), ("pt_BR", "pt"), ("spa_Latn", "es"), ("zh-Hant", "zh"),
        ("Spanish", "es"), ("castilian", "es"),
        ("haw", "haw"), ("yue", "yue"),  # no 639-1 code: the 639-3 one
    ],
)  # fmt: skip
def test_codes_and_names_normalise(value: str, canonical: str) -> None:
    assert normalize_language(value) == canonical


@pytest.mark.parametrize("value", ["xx", "zz-ZZ", "", "english!", "e", "qqq", "en-"])
def test_unknown_values_are_named_errors(value: str) -> None:
    with pytest.raises(UnknownLanguage) as raised:
        normalize_language(value, field="tgt_lng")
    assert raised.value.value == value and raised.value.code == "unknown_language"
    assert f"tgt_lng={value!r}" in str(raised.value)


def test_whisper_codes() -> None:
    assert whisper_language("spa") == "es"
    assert whisper_language("jav") == "jw"  # Whisper's own spelling of Javanese
    assert from_whisper("jw") == "jv"
    assert whisper_language("nob") == "no"
    with pytest.raises(UnsupportedLanguage, match="Whisper cannot transcribe Sichuan Yi"):
        whisper_language("ii")


def test_every_whisper_language_is_in_the_table() -> None:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert {whisper_language(code) for code in WHISPER_LANGUAGES} == set(_LANGUAGE_CODES)


def test_639_3_and_names() -> None:
    assert iso639_3("es") == "spa" and iso639_3("en-GB") == "eng" and iso639_3("yue") == "yue"
    assert language_name("deu") == "German"
