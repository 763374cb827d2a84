"""Output writers. SRT and VTT are checked by parsing back what they wrote."""

from __future__ import annotations

import json

import pytest

from tests.support.subtitles import check_rules, parse_subtitles, words_of
from transcription.formats import FORMATS, MEDIA_TYPES, render
from transcription.transcript import Segment, Source, Timings, Transcript, Word

LONG_TEXT = (
    "When the server is busy the router puts the job on the queue and a batch worker "
    "finishes it later while the transcript is written next to the audio file so that "
    "every upload to the bucket is transcribed exactly once whichever path it took and "
    "nobody has to wait for a graphics card that is switched off at night"
)


def transcript(*segments: Segment) -> Transcript:
    return Transcript(
        text=" ".join(s.text for s in segments),
        language="en",
        duration=max((s.end for s in segments), default=0.0),
        segments=segments,
        engine="faster-whisper",
        model="tiny.en",
        device="cpu",
    )


def timed_words(text: str, start: float, seconds_per_word: float) -> tuple[Word, ...]:
    return tuple(
        Word(
            word=f" {w}",
            start=start + i * seconds_per_word,
            end=start + (i + 0.8) * seconds_per_word,
        )
        for i, w in enumerate(text.split())
    )


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_short_segments(fmt: str) -> None:
    t = transcript(
        Segment(0, 0.0, 2.5, "Please call the office."),
        Segment(1, 2.5, 5.25, "Ask for the weekly report."),
        Segment(2, 3725.5, 3727.0, "An hour later."),
    )
    cues = parse_subtitles(render(t, fmt), fmt)
    check_rules(cues)
    assert [(c.start, c.end, c.lines) for c in cues] == [
        (0.0, 2.5, ["Please call the office."]),
        (2.5, 5.25, ["Ask for the weekly report."]),
        (3725.5, 3727.0, ["An hour later."]),
    ]
    sep = "," if fmt == "srt" else "."
    assert f"01:02:05{sep}500 --> 01:02:07{sep}000" in render(t, fmt)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_long_segment_without_word_timings_is_split_in_proportion(fmt: str) -> None:
    segment = Segment(0, 10.0, 40.0, LONG_TEXT)
    cues = parse_subtitles(render(transcript(segment), fmt), fmt)

    check_rules(cues)
    assert len(cues) > 2
    assert words_of(cues) == LONG_TEXT.split()
    assert cues[0].start == 10.0 and cues[-1].end == pytest.approx(40.0, abs=0.002)
    assert all(len(c.lines) == 2 for c in cues[:-1])  # cues are filled before a new one starts
    # Each cue lasts in proportion to its characters (within a rounding millisecond or two).
    chars = [sum(len(w) for line in c.lines for w in line.split()) for c in cues]
    per_char = 30.0 / sum(chars)
    for cue, n in zip(cues, chars, strict=True):
        assert cue.end - cue.start == pytest.approx(n * per_char, abs=0.003)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_long_segment_with_word_timings_follows_the_words(fmt: str) -> None:
    words = timed_words(LONG_TEXT, start=5.0, seconds_per_word=0.4)
    segment = Segment(0, 5.0, words[-1].end, LONG_TEXT, words=words)
    cues = parse_subtitles(render(transcript(segment), fmt), fmt)

    check_rules(cues)
    assert words_of(cues) == LONG_TEXT.split()
    starts = {round(w.start, 3) for w in words}
    ends = {round(w.end, 3) for w in words}
    for cue in cues:  # every cue starts on a word's start and ends on a word's end
        assert round(cue.start, 3) in starts and round(cue.end, 3) in ends
    first_count = sum(len(line.split()) for line in cues[0].lines)
    assert cues[1].start == pytest.approx(words[first_count].start, abs=0.001)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_overlapping_segments_and_overlong_words_still_give_valid_cues(fmt: str) -> None:
    url = "https://example.com/" + "a" * 70
    t = transcript(
        Segment(0, 0.0, 3.0, "The first one runs long."),
        Segment(1, 2.0, 4.0, f"See {url} now."),  # starts before the first ends
        Segment(2, 4.0, 4.0, "Instant."),  # zero length
    )
    cues = parse_subtitles(render(t, fmt), fmt)
    check_rules(cues)
    assert "".join(words_of(cues)).count("a" * 22) >= 3  # the long word is kept, in pieces


def test_empty_transcript() -> None:
    t = transcript()
    assert render(t, "srt") == ""
    assert render(t, "vtt") == "WEBVTT\n"
    assert render(t, "txt") == ""
    assert render(t, "tsv") == "start\tend\ttext\n"


def test_txt_tsv_and_verbose_json() -> None:
    words = timed_words("Hello there.", 0.0, 0.5)
    t = transcript(
        Segment(0, 0.0, 1.0, "Hello there.", words=words),
        Segment(1, 1.25, 2.0, "Tab\there."),
    )
    assert render(t, "txt") == "Hello there.\nTab\there.\n"
    assert render(t, "tsv") == "start\tend\ttext\n0\t1000\tHello there.\n1250\t2000\tTab here.\n"
    body = json.loads(render(t, "verbose_json"))
    assert body["language"] == "english" and body["task"] == "transcribe"
    assert [s["text"] for s in body["segments"]] == ["Hello there.", "Tab\there."]
    assert body["words"] == [
        {"word": "Hello", "start": 0.0, "end": 0.4},
        {"word": "there.", "start": 0.5, "end": 0.9},
    ]


def test_json_round_trip() -> None:
    t = Transcript(
        text="Grüße aus Köln",
        language="de",
        duration=2.0,
        segments=(
            Segment(
                0,
                0.0,
                2.0,
                "Grüße aus Köln",
                words=timed_words("Grüße aus Köln", 0, 0.5),
                speaker="SPEAKER_00",
            ),
        ),
        engine="whisperx",
        model="large-v3",
        device="cuda",
        source=Source(bucket="b", key="audio/köln.mp3", etag="abc", size=12),
        route="batch",
        timings=Timings(audio_seconds=2.0, processing_seconds=0.1),
        warnings=("no alignment model for 'xx': no word timings",),
    )
    text = render(t, "json")
    assert json.loads(text)["version"] == 1
    assert Transcript.from_json(text) == t
    assert "Grüße" in text  # not escaped


def test_every_format_has_a_media_type_and_unknown_is_refused() -> None:
    assert set(FORMATS) == set(MEDIA_TYPES)
    with pytest.raises(ValueError, match="unknown format"):
        render(transcript(), "docx")
