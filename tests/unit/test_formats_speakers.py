"""Every format shows the speakers of a diarized transcript, and only then."""

from __future__ import annotations

import json

from tests.support.subtitles import check_rules, parse_subtitles
from tests.unit.test_formats import LONG_TEXT, timed_words, transcript
from transcription.diarization import Turn, assign_speakers
from transcription.formats import render
from transcription.transcript import Segment, Transcript


def diarized() -> Transcript:
    """Three segments, the middle one long, spoken by A, B and A again."""
    t = transcript(
        Segment(0, 0.0, 2.0, "Hello there.", timed_words("Hello there.", 0.0, 1.0)),
        Segment(1, 2.0, 20.0, LONG_TEXT, timed_words(LONG_TEXT, 2.0, 18.0 / 68)),
        Segment(2, 20.0, 22.0, "Thank you.", timed_words("Thank you.", 20.0, 1.0)),
    )
    turns = [Turn(0.0, 2.0, "a"), Turn(2.0, 20.0, "b"), Turn(20.0, 22.0, "a")]
    return assign_speakers(t, turns)


def test_txt_has_a_speaker_line_where_the_speaker_changes() -> None:
    lines = render(diarized(), "txt").splitlines()
    assert lines[:2] == ["SPEAKER_00:", "Hello there."]
    assert lines[2:5] == ["", "SPEAKER_01:", LONG_TEXT]
    assert lines[5:] == ["", "SPEAKER_00:", "Thank you."]


def test_srt_prefixes_every_cue_and_lines_still_fit() -> None:
    text = render(diarized(), "srt")
    cues = parse_subtitles(text, "srt")
    check_rules(cues)  # 42 characters a line, prefix included
    assert cues[0].lines[0] == "[SPEAKER_00] Hello there."
    middle = [c for c in cues if c.start >= 2.0 and c.end <= 20.0]
    assert len(middle) > 1 and all(c.lines[0].startswith("[SPEAKER_01] ") for c in middle)
    assert cues[-1].lines[0] == "[SPEAKER_00] Thank you."


def test_vtt_uses_voice_tags() -> None:
    text = render(diarized(), "vtt")
    cues = parse_subtitles(text, "vtt")
    assert cues[0].lines[0] == "<v SPEAKER_00>Hello there."
    assert sum(c.lines[0].startswith("<v SPEAKER_01>") for c in cues) > 1
    assert all(c.lines[0].startswith("<v SPEAKER_") for c in cues)


def test_tsv_gets_a_speaker_column_only_when_diarized() -> None:
    rows = render(diarized(), "tsv").splitlines()
    assert rows[0] == "start\tend\ttext\tspeaker"
    assert rows[1] == "0\t2000\tHello there.\tSPEAKER_00"
    assert [r.split("\t")[3] for r in rows[1:]] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00"]
    plain = transcript(Segment(0, 0.0, 1.0, "Hello."))
    assert render(plain, "tsv") == "start\tend\ttext\n0\t1000\tHello.\n"


def test_json_and_verbose_json_carry_speakers() -> None:
    t = diarized()
    body = json.loads(render(t, "json"))
    assert [s["speaker"] for s in body["segments"]] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00"]
    assert body["speakers"] == {"SPEAKER_00": 4.0, "SPEAKER_01": 18.0}
    verbose = json.loads(render(t, "verbose_json"))
    assert [s["speaker"] for s in verbose["segments"]] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00"]
    assert verbose["words"][0] == {
        "word": "Hello",
        "start": 0.0,
        "end": 0.8,
        "speaker": "SPEAKER_00",
    }
    assert verbose["speakers"] == body["speakers"]
    plain = json.loads(render(transcript(Segment(0, 0.0, 1.0, "Hello.")), "verbose_json"))
    assert "speaker" not in plain["segments"][0] and "speakers" not in plain
