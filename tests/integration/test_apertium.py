"""The Apertium translator against the real program and the installed eng-spa pair.

``apertium`` and ``apertium-eng-spa`` are Debian packages that
scripts/dev/install-system-packages.sh installs (``make test`` runs it), so these run for real.
"""

from __future__ import annotations

import pytest

from transcription.exceptions import UnknownLanguage
from transcription.translation import (
    ApertiumTranslator,
    TranslationFailed,
    TranslatorUnavailable,
    UnsupportedLanguagePair,
)
from transcription.translation.apertium import modes_by_pair


@pytest.fixture(scope="module")
def apertium() -> ApertiumTranslator:
    return ApertiumTranslator.discover()


def test_the_installed_pairs_are_discovered(apertium: ApertiumTranslator) -> None:
    assert {("en", "es"), ("es", "en")} <= apertium.pairs()
    assert apertium.modes[("en", "es")] == "eng-spa"
    assert apertium.modes[("es", "en")] == "spa-eng"  # the plain mode, not spa-eng_US


def test_english_to_spanish(apertium: ApertiumTranslator) -> None:
    out = apertium.translate(["Hello world.", "The house is big.", "I have two cats."], "en", "es")
    assert out[0].lower() == "hola mundo."
    assert "casa" in out[1].lower() and "grande" in out[1].lower()
    assert "gatos" in out[2].lower() and "dos" in out[2].lower()


def test_spanish_to_english_with_639_3_codes(apertium: ApertiumTranslator) -> None:
    out = apertium.translate(["Hola mundo.", "La casa es grande."], "spa", "eng")
    assert out[0].lower() == "hello world."
    assert "house" in out[1].lower() and "big" in out[1].lower()


def test_segments_stay_apart_even_when_rules_would_reorder_across_them(
    apertium: ApertiumTranslator,
) -> None:
    """Adjective + noun are swapped in Spanish; over a plain newline Apertium swaps them
    across the two texts ("el coche / rojo"). Each text must keep its own words."""
    out = apertium.translate(["I saw the red", "car yesterday"], "en", "es")
    assert len(out) == 2
    assert "rojo" in out[0] and "ayer" in out[1]
    assert "rojo" not in out[1]


def test_count_order_and_special_characters_survive(apertium: ApertiumTranslator) -> None:
    texts = [
        "Call me at 5 * 3 # 2 @ home.",
        "",
        'She said "hello" <b>twice</b> & left.',
        "first line\nsecond line\n\nafter a blank line",
        "   ",
        "[x] {b} c\\d ^e$ f/g 50% ~h |i",
        "The dog.",
    ]
    out = apertium.translate(texts, "en", "es")
    assert len(out) == len(texts)
    assert out[1] == "" and out[4] == ""
    for kept in ("5", "*", "3", "#", "2", "@"):
        assert kept in out[0]
    assert '"hola"' in out[2] and "<b>" in out[2] and "&" in out[2]
    assert "\n" not in out[3] and "línea" in out[3]
    for kept in ("[x]", "{b}", "c\\d", "^e$", "/", "50%", "~h", "|i"):
        assert kept in out[5]
    assert out[6].lower() == "el perro."


def test_many_segments_in_one_call_keep_their_order(apertium: ApertiumTranslator) -> None:
    texts = [f"I have {n} dogs." for n in range(1, 121)]
    out = apertium.translate(texts, "en", "es")
    assert len(out) == 120
    assert all(f" {n} " in f" {text} " and "perros" in text for n, text in enumerate(out, 1))


def test_no_segment_at_all_runs_nothing(apertium: ApertiumTranslator) -> None:
    assert apertium.translate([], "en", "es") == []
    assert apertium.translate(["", " \n"], "en", "es") == ["", ""]


def test_an_unsupported_pair_names_it_and_the_pairs_there_are(
    apertium: ApertiumTranslator,
) -> None:
    with pytest.raises(UnsupportedLanguagePair, match=r"en→de.*en→es, es→en") as raised:
        apertium.translate(["Hello"], "eng", "deu")
    assert (raised.value.source, raised.value.target) == ("en", "de")
    assert raised.value.code == "unsupported_language_pair" and raised.value.permanent


def test_an_unknown_language_code_names_the_field(apertium: ApertiumTranslator) -> None:
    with pytest.raises(UnknownLanguage, match="tgt_lng='xx'"):
        apertium.translate(["Hello"], "en", "xx")


def test_a_missing_program_is_a_clear_error() -> None:
    with pytest.raises(TranslatorUnavailable, match=r"no 'apertium-not-here'.*apt|apertium-eng"):
        ApertiumTranslator.discover(program="apertium-not-here")


def test_a_failing_mode_is_a_translation_failure(apertium: ApertiumTranslator) -> None:
    """A mode listed but broken on disk (here: a name apertium does not know)."""
    broken = ApertiumTranslator(modes={("en", "es"): "eng-nowhere"}, program=apertium.program)
    with pytest.raises(TranslationFailed, match="eng-nowhere"):
        broken.translate(["Hello"], "en", "es")


def test_the_time_limit_is_kept(apertium: ApertiumTranslator) -> None:
    slow = ApertiumTranslator(modes=apertium.modes, program=apertium.program, timeout_seconds=0.001)
    with pytest.raises(TranslationFailed, match="longer than"):
        slow.translate(["Hello world."] * 50, "en", "es")


def test_modes_are_read_as_language_pairs() -> None:
    assert modes_by_pair(["spa-eng_US", "eng-spa", "spa-eng", "eng-spa-tagger", "xx-yy"]) == {
        ("en", "es"): "eng-spa",
        ("es", "en"): "spa-eng",
    }
    assert modes_by_pair(["spa-eng_US"]) == {("es", "en"): "spa-eng_US"}
