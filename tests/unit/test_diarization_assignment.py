"""Speakers onto transcripts: overlap, nearest turn, splitting, labels and the summary."""

from __future__ import annotations

import json

import pytest

from transcription.diarization import DiarizeOptions, Turn, assign_speakers
from transcription.diarization.exceptions import InvalidSpeakerCount
from transcription.transcript import Segment, Transcript, Word


def words(*spans: tuple[str, float, float]) -> tuple[Word, ...]:
    return tuple(Word(f" {text}", start, end) for text, start, end in spans)


def transcript(*segments: Segment) -> Transcript:
    return Transcript(
        text=" ".join(s.text for s in segments),
        language="en",
        duration=max(s.end for s in segments),
        segments=segments,
        engine="faster-whisper",
        model="tiny.en",
        device="cpu",
    )


def test_a_segment_is_split_where_the_speaker_changes() -> None:
    said = words(("Hello", 0.0, 0.5), ("there.", 0.5, 1.0), ("Hi", 1.2, 1.6), ("back.", 1.6, 2.0))
    t = transcript(Segment(0, 0.0, 2.0, "Hello there. Hi back.", said))
    # The engine's labels come in an order the assignment renames: B spoke first.
    out = assign_speakers(t, [Turn(0.0, 1.1, "B"), Turn(1.1, 2.0, "A")])
    assert [(s.id, s.start, s.end, s.text, s.speaker) for s in out.segments] == [
        (0, 0.0, 1.0, "Hello there.", "SPEAKER_00"),
        (1, 1.2, 2.0, "Hi back.", "SPEAKER_01"),
    ]
    assert [w.speaker for s in out.segments for w in s.words] == ["SPEAKER_00"] * 2 + [
        "SPEAKER_01"
    ] * 2
    assert out.speakers == {"SPEAKER_00": 1.1, "SPEAKER_01": 0.9}
    assert out.text == t.text  # the text is the same words, only cut


def test_a_short_flip_inside_a_segment_does_not_split_it() -> None:
    said = words(("one", 0.0, 0.6), ("two", 0.6, 1.2), ("uh", 1.2, 1.4), ("three", 1.4, 2.0))
    t = transcript(Segment(0, 0.0, 2.0, "one two uh three", said))
    out = assign_speakers(t, [Turn(0.0, 1.2, "x"), Turn(1.2, 1.4, "y"), Turn(1.4, 2.0, "x")])
    (segment,) = out.segments
    assert segment.speaker == "SPEAKER_00" and segment.text == "one two uh three"
    assert [w.speaker for w in segment.words] == [
        "SPEAKER_00",
        "SPEAKER_00",
        "SPEAKER_01",
        "SPEAKER_00",
    ]


def test_word_in_a_gap_takes_the_nearest_turn_and_ids_run_on() -> None:
    t = transcript(
        Segment(0, 0.0, 1.0, "Yes.", words(("Yes.", 0.0, 1.0))),
        Segment(1, 3.0, 4.0, "No.", words(("No.", 3.0, 4.0))),  # between turns, nearer b
        Segment(2, 5.0, 6.0, "Maybe.", words(("Maybe.", 5.0, 6.0))),
    )
    out = assign_speakers(t, [Turn(0.0, 1.0, "a"), Turn(4.5, 6.0, "b")])
    assert [(s.id, s.speaker) for s in out.segments] == [
        (0, "SPEAKER_00"),
        (1, "SPEAKER_01"),
        (2, "SPEAKER_01"),
    ]


def test_segments_without_words_take_the_largest_overlap() -> None:
    t = transcript(Segment(0, 0.0, 3.0, "no word timings"))
    out = assign_speakers(t, [Turn(0.0, 1.0, "a"), Turn(1.0, 3.0, "b")])
    assert [s.speaker for s in out.segments] == ["SPEAKER_00"]  # b, first heard in the text
    assert out.speakers == {"SPEAKER_00": 2.0, "SPEAKER_01": 1.0}  # a, heard only in turns


def test_no_turns_marks_the_transcript_diarized_with_no_speakers() -> None:
    t = transcript(Segment(0, 0.0, 1.0, "hm"))
    out = assign_speakers(t, [])
    assert out.speakers == {} and out.segments[0].speaker is None


def test_json_carries_speakers_and_reads_back() -> None:
    said = words(("Hello", 0.0, 0.5), ("you.", 1.5, 2.0))
    t = transcript(Segment(0, 0.0, 2.0, "Hello you.", said))
    out = assign_speakers(t, [Turn(0.0, 1.0, "a"), Turn(1.0, 2.0, "b")])
    body = json.loads(out.to_json())
    assert body["speakers"] == {"SPEAKER_00": 1.0, "SPEAKER_01": 1.0}
    assert [s["speaker"] for s in body["segments"]] == ["SPEAKER_00", "SPEAKER_01"]
    assert body["segments"][1]["words"][0]["speaker"] == "SPEAKER_01"
    assert Transcript.from_json(out.to_json()) == out
    assert json.loads(t.to_json())["speakers"] is None  # not diarized


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_speakers": 0}, "num_speakers"),
        ({"max_speakers": 21}, "max_speakers"),
        ({"min_speakers": 4, "max_speakers": 2}, "min_speakers"),
        ({"num_speakers": 5, "max_speakers": 3}, "num_speakers"),
    ],
)
def test_bad_speaker_counts_are_refused_naming_the_field(
    kwargs: dict[str, int], field: str
) -> None:
    with pytest.raises(InvalidSpeakerCount, match=field) as caught:
        DiarizeOptions(**kwargs)
    assert caught.value.field == field


def test_requested_follows_the_flag_the_default_and_the_counts() -> None:
    assert DiarizeOptions.requested(None) is None
    assert DiarizeOptions.requested(None, default=True) == DiarizeOptions()
    assert DiarizeOptions.requested(None, 3) == DiarizeOptions(num_speakers=3)
    assert DiarizeOptions.requested(False, default=True) is None
    with pytest.raises(InvalidSpeakerCount, match="max_speakers needs diarize=true"):
        DiarizeOptions.requested(False, max_speakers=2)
    assert DiarizeOptions(min_speakers=2).speaker_range() == (2, 8)
    assert DiarizeOptions(num_speakers=3).speaker_range() == (3, 3)
