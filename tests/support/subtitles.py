"""A strict SRT/VTT reader for tests, and the rules every cue must keep."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ParsedCue", "check_rules", "parse_subtitles", "words_of"]

MAX_LINE_CHARS = 42
SRT_TIME = re.compile(
    r"^(\d{2}):([0-5]\d):([0-5]\d),(\d{3}) --> (\d{2}):([0-5]\d):([0-5]\d),(\d{3})$"
)
VTT_TIME = re.compile(
    r"^(\d{2}):([0-5]\d):([0-5]\d)\.(\d{3}) --> (\d{2}):([0-5]\d):([0-5]\d)\.(\d{3})$"
)


@dataclass(frozen=True)
class ParsedCue:
    index: int
    start: float
    end: float
    lines: list[str]


def parse_subtitles(text: str, fmt: str) -> list[ParsedCue]:
    """A strict reader: raises AssertionError on anything a player could trip over."""
    assert text.endswith("\n")
    blocks = text.rstrip("\n").split("\n\n")
    if fmt == "vtt":
        assert blocks[0] == "WEBVTT"
        blocks = blocks[1:]
    pattern = VTT_TIME if fmt == "vtt" else SRT_TIME
    cues = []
    for block in blocks:
        index, timing, *lines = block.split("\n")
        match = pattern.match(timing)
        assert match, f"bad timing line {timing!r}"
        h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(g) for g in match.groups())
        start = h1 * 3600 + m1 * 60 + s1 + ms1 / 1000
        end = h2 * 3600 + m2 * 60 + s2 + ms2 / 1000
        cues.append(ParsedCue(int(index), start, end, lines))
    return cues


VOICE_TAG = re.compile(r"<v [^>]*>")


def check_rules(cues: list[ParsedCue]) -> None:
    assert [c.index for c in cues] == list(range(1, len(cues) + 1))
    previous_end = 0.0
    for cue in cues:
        assert cue.start < cue.end, cue
        assert cue.start >= previous_end, f"cue {cue.index} overlaps the one before"
        assert 1 <= len(cue.lines) <= 2, cue
        visible = [VOICE_TAG.sub("", line) for line in cue.lines]  # WebVTT <v …> is markup
        assert all(0 < len(line) <= MAX_LINE_CHARS for line in visible), cue
        assert all(line == line.strip() for line in cue.lines), cue
        previous_end = cue.end


def words_of(cues: list[ParsedCue]) -> list[str]:
    return [word for cue in cues for line in cue.lines for word in line.split()]
