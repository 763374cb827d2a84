"""The converter of Transcribe's output document into our transcript.

``tests/stand_ins/transcribe/output-two-speakers.json`` stands in for a real Transcribe output
document (moto's Transcribe writes none): hand-written in AWS's published format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from transcription import formats
from transcription.managed.convert import from_transcribe
from transcription.transcript import Transcript

DOCUMENT = (
    Path(__file__).resolve().parents[1] / "stand_ins" / "transcribe" / "output-two-speakers.json"
)


@pytest.fixture
def document() -> dict[str, Any]:
    return dict(json.loads(DOCUMENT.read_text(encoding="utf-8")))


def test_words_carry_times_confidence_and_the_punctuation_after_them(
    document: dict[str, Any],
) -> None:
    transcript = from_transcribe(document)
    words = [w for s in transcript.segments for w in s.words]
    assert [w.word for w in words[:3]] == [" Hello,", " this", " is"]
    assert (words[0].start, words[0].end, words[0].probability) == (0.04, 0.45, 0.998)
    assert [w.word for w in words[-3:]] == [" can", " hear", " you."]
    assert len(words) == 15  # pronunciation items only; the 5 punctuation marks are attached
    assert all(w.speaker is None for w in words)  # speakers not asked for


def test_segments_end_at_sentence_punctuation(document: dict[str, Any]) -> None:
    transcript = from_transcribe(document)
    assert [s.text for s in transcript.segments] == [
        "Hello, this is the overflow test.",
        "Can you hear me?",
        "Yes, I can hear you.",
    ]
    assert [(s.id, s.start, s.end) for s in transcript.segments] == [
        (0, 0.04, 1.98),
        (1, 2.31, 3.3),
        (2, 3.9, 5.2),
    ]
    assert (
        transcript.text == "Hello, this is the overflow test. Can you hear me? Yes, I can hear you."
    )
    assert (transcript.language, transcript.duration) == ("en", 5.2)
    assert transcript.speakers is None
    assert transcript.engine == "aws-transcribe"


def test_speakers_are_named_in_order_of_first_appearance_with_talk_time(
    document: dict[str, Any],
) -> None:
    transcript = from_transcribe(document, speakers=True)
    assert [s.speaker for s in transcript.segments] == ["SPEAKER_00", "SPEAKER_00", "SPEAKER_01"]
    assert {w.speaker for w in transcript.segments[2].words} == {"SPEAKER_01"}
    # spk_0 0.04 → 3.30, spk_1 3.90 → 5.20
    assert transcript.speakers == {"SPEAKER_00": 3.26, "SPEAKER_01": 1.3}


def test_a_speaker_change_inside_a_sentence_splits_the_segment(document: dict[str, Any]) -> None:
    items = document["results"]["items"]
    for item in items:  # the newer layout: each item carries its own label
        if item["type"] == "pronunciation":
            late = float(item["start_time"]) >= 1.52
            item["speaker_label"] = "spk_7" if late else "spk_3"
    del document["results"]["speaker_labels"]
    transcript = from_transcribe(document, speakers=True)
    assert [s.text for s in transcript.segments][:2] == ["Hello, this is the overflow", "test."]
    assert [s.speaker for s in transcript.segments][:2] == ["SPEAKER_00", "SPEAKER_01"]
    assert transcript.speakers == {}  # no speaker label segments to time


def test_the_transcript_has_our_shape_and_renders_as_ours(document: dict[str, Any]) -> None:
    transcript = from_transcribe(document, speakers=True)
    data = json.loads(transcript.to_json())
    assert Transcript.from_dict(data) == transcript
    srt = formats.render(transcript, "srt")
    assert "00:00:00,040 --> 00:00:01,980" in srt and "Yes, I can hear you." in srt


def test_leading_punctuation_goes_to_the_first_word() -> None:
    document = {
        "results": {
            "transcripts": [{"transcript": "¿Hola?"}],
            "items": [
                {"type": "punctuation", "alternatives": [{"confidence": "0.0", "content": "¿"}]},
                {
                    "type": "pronunciation",
                    "start_time": "0.10",
                    "end_time": "0.50",
                    "alternatives": [{"confidence": "0.9", "content": "Hola"}],
                },
                {"type": "punctuation", "alternatives": [{"confidence": "0.0", "content": "?"}]},
            ],
            "language_code": "es-US",
        }
    }
    transcript = from_transcribe(document)
    assert [w.word for w in transcript.segments[0].words] == [" ¿Hola?"]
    assert transcript.language == "es"
