"""An asr+nmt transcript: translated segment by segment with Apertium, timing kept, sidecars.

The transcripts are built here (what Whisper would return); the translation is real Apertium.
"""

from __future__ import annotations

import json

import pytest

from tests.support.subtitles import check_rules, parse_subtitles
from transcription.exceptions import UnknownLanguage
from transcription.formats import render, render_translation
from transcription.transcript import Segment, Transcript, Word
from transcription.translation import (
    ApertiumTranslator,
    UnsupportedLanguagePair,
    translate_transcript,
    translated_sidecar_key,
)

ENGLISH = (
    (0.0, 2.2, "Hello world."),
    (2.5, 4.75, "The house is big."),
    (5.0, 5.0, ""),
    (5.1, 9.4, "I have two cats and the red car is in the garden next to the house."),
)


def transcript(phrases: tuple[tuple[float, float, str], ...], language: str | None) -> Transcript:
    segments = tuple(
        Segment(
            id=i,
            start=start,
            end=end,
            text=text,
            words=tuple(Word(w, start, end) for w in text.split()[:1]),
            speaker=f"SPEAKER_0{i % 2}",
        )
        for i, (start, end, text) in enumerate(phrases)
    )
    return Transcript(
        text=" ".join(t for _, _, t in phrases if t),
        language=language,
        duration=10.0,
        segments=segments,
        engine="faster-whisper",
        model="base",
        device="cpu",
    )


@pytest.fixture(scope="module")
def apertium() -> ApertiumTranslator:
    return ApertiumTranslator.discover()


def test_english_transcript_to_spanish_keeps_text_and_times(apertium: ApertiumTranslator) -> None:
    original = transcript(ENGLISH, "en")
    translated = translate_transcript(original, apertium, "es")

    assert translated.segments == original.segments  # the spoken text and its words stay
    assert translated.text == original.text and translated.language == "en"
    tr = translated.translation
    assert tr is not None
    assert (tr.language, tr.source_language, tr.engine) == ("es", "en", "apertium")
    assert [(s.id, s.start, s.end) for s in tr.segments] == [
        (s.id, s.start, s.end) for s in original.segments
    ]
    assert tr.segments[0].text.lower() == "hola mundo."
    assert "casa" in tr.segments[1].text and tr.segments[2].text == ""
    assert "gatos" in tr.segments[3].text and "jardín" in tr.segments[3].text
    assert tr.text == " ".join(s.text for s in tr.segments if s.text)


def test_spanish_transcript_to_english_with_a_639_3_target(apertium: ApertiumTranslator) -> None:
    spanish = transcript(((0.0, 1.5, "Hola mundo."), (1.5, 3.0, "La casa es grande.")), "es")
    tr = translate_transcript(spanish, apertium, "eng").translation
    assert tr is not None and tr.language == "en"
    assert tr.segments[0].text.lower() == "hello world."
    assert "house" in tr.segments[1].text


def test_an_unsupported_pair_fails_clearly(apertium: ApertiumTranslator) -> None:
    with pytest.raises(UnsupportedLanguagePair, match="en→de"):
        translate_transcript(transcript(ENGLISH, "en"), apertium, "de")


def test_the_source_language_may_be_given(apertium: ApertiumTranslator) -> None:
    undetected = transcript(((0.0, 1.0, "Hola mundo."),), None)
    tr = translate_transcript(undetected, apertium, "en", source="es").translation
    assert tr is not None and tr.segments[0].text.lower() == "hello world."
    with pytest.raises(UnknownLanguage, match="src_lng=''"):
        translate_transcript(undetected, apertium, "en")


def test_speech_already_in_the_target_language_is_not_translated(
    apertium: ApertiumTranslator,
) -> None:
    tr = translate_transcript(transcript(ENGLISH, "en"), apertium, "eng").translation
    assert tr is not None and tr.engine == "none"
    assert [s.text for s in tr.segments] == [t for _, _, t in ENGLISH]


def test_the_json_round_trips_and_old_transcripts_keep_their_shape(
    apertium: ApertiumTranslator,
) -> None:
    original = transcript(ENGLISH, "en")
    translated = translate_transcript(original, apertium, "es")
    data = json.loads(translated.to_json())
    assert data["translation"]["language"] == "es"
    assert data["translation"]["segments"][1] == {
        "id": 1,
        "start": 2.5,
        "end": 4.75,
        "text": translated.translation.segments[1].text,  # type: ignore[union-attr]
    }
    assert Transcript.from_json(translated.to_json()) == translated
    assert "translation" not in json.loads(original.to_json())
    assert Transcript.from_json(original.to_json()).translation is None


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_translated_subtitles_keep_the_original_timing(
    apertium: ApertiumTranslator, fmt: str
) -> None:
    translated = translate_transcript(transcript(ENGLISH, "en"), apertium, "es")
    cues = parse_subtitles(render_translation(translated, fmt), fmt)
    check_rules(cues)
    original = parse_subtitles(render(translated, fmt), fmt)
    assert cues[0].start == original[0].start == 0.0 and cues[0].end == 2.2
    assert cues[1].start == 2.5 and cues[1].end == 4.75
    assert cues[-1].end == pytest.approx(9.4)
    assert " ".join(cues[0].lines).lower() == "hola mundo."
    assert "Hello" not in render_translation(translated, fmt)


def test_translated_text_sidecar(apertium: ApertiumTranslator) -> None:
    translated = translate_transcript(transcript(ENGLISH, "en"), apertium, "es")
    lines = render_translation(translated, "txt").splitlines()
    assert len(lines) == 3 and lines[0].lower() == "hola mundo."
    view = translated.translated()
    assert view.language == "es" and view.translation is None
    assert [s.speaker for s in view.segments] == [s.speaker for s in translated.segments]
    assert all(s.words == () for s in view.segments)


def test_rendering_a_translation_needs_one() -> None:
    with pytest.raises(ValueError, match="no translation"):
        render_translation(transcript(ENGLISH, "en"), "srt")


def test_translated_sidecar_keys() -> None:
    key = "transcripts/a/talk.mp3.json"
    assert translated_sidecar_key(key, "es", "srt") == "transcripts/a/talk.mp3.es.srt"
    assert translated_sidecar_key(key, "spa", "vtt") == "transcripts/a/talk.mp3.es.vtt"
    assert translated_sidecar_key("transcripts/jobs/J/item.json", "en", "txt") == (
        "transcripts/jobs/J/item.en.txt"
    )
    with pytest.raises(ValueError, match="not a transcript key"):
        translated_sidecar_key("transcripts/a/talk.mp3.srt", "es", "srt")
    with pytest.raises(ValueError, match="not a file extension"):
        translated_sidecar_key(key, "es", "../x")
    with pytest.raises(UnknownLanguage, match="tgt_lng='zz'"):
        translated_sidecar_key(key, "zz", "srt")
