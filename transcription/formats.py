"""Output formats: json, txt, srt, vtt, tsv and verbose_json (OpenAI's shape).

Subtitles follow the usual broadcast rules: cues numbered from 1, never overlapping, lines
of at most ``MAX_LINE_CHARS`` characters broken at word boundaries, at most ``MAX_LINES``
lines per cue. A long segment becomes several cues, timed from its word timestamps when it
has them, else in proportion to the characters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from transcription.transcript import Segment, Transcript

__all__ = ["FORMATS", "MEDIA_TYPES", "Cue", "cues", "render", "render_translation"]

MAX_LINE_CHARS = 42
MAX_LINES = 2
MIN_CUE_SECONDS = 0.001

MEDIA_TYPES = {
    "json": "application/json",
    "verbose_json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
}


@dataclass(frozen=True)
class Cue:
    index: int  # from 1
    start: float
    end: float
    lines: tuple[str, ...]


@dataclass(frozen=True)
class _Token:
    text: str
    start: float
    end: float


def render(transcript: Transcript, fmt: str) -> str:
    """``transcript`` as text in format ``fmt`` (one of :data:`FORMATS`)."""
    try:
        writer = _WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    return writer(transcript)


def render_translation(transcript: Transcript, fmt: str) -> str:
    """The translation of ``transcript`` in format ``fmt``, on the original segments' timing.

    The same writers as :func:`render`, given :meth:`Transcript.translated`; the translated
    segments have no word timings, so long ones are split in proportion to the characters.
    ``ValueError`` when the transcript has no translation.
    """
    return render(transcript.translated(), fmt)


def cues(transcript: Transcript) -> list[Cue]:
    """Subtitle cues: split long segments, fit lines, and remove overlaps."""
    out: list[Cue] = []
    previous_end = 0.0
    for segment in transcript.segments:
        for tokens in _cue_token_groups(_tokens(segment)):
            start = max(tokens[0].start, previous_end)
            end = max(tokens[-1].end, start + MIN_CUE_SECONDS)
            out.append(Cue(len(out) + 1, start, end, tuple(_fit_lines(tokens))))
            previous_end = end
    return out


def _tokens(segment: Segment) -> list[_Token]:
    """Words with times: the engine's word timestamps, else spread by character count."""
    if segment.words:
        return [_Token(w.word.strip(), w.start, w.end) for w in segment.words if w.word.strip()]
    words = segment.text.split()
    total = sum(len(w) for w in words) or 1
    span = max(segment.end - segment.start, 0.0)
    tokens, t = [], segment.start
    for word in words:
        step = span * len(word) / total
        tokens.append(_Token(word, t, t + step))
        t += step
    return tokens


def _split_long_word(token: _Token) -> list[_Token]:
    text = token.text
    if len(text) <= MAX_LINE_CHARS:
        return [token]
    parts = [text[i : i + MAX_LINE_CHARS] for i in range(0, len(text), MAX_LINE_CHARS)]
    step = (token.end - token.start) / len(parts)
    return [
        _Token(p, token.start + i * step, token.start + (i + 1) * step) for i, p in enumerate(parts)
    ]


def _lines(tokens: list[_Token]) -> Iterator[list[_Token]]:
    """Greedy fill: each line as many whole words as fit in MAX_LINE_CHARS."""
    line: list[_Token] = []
    width = 0
    for token in (part for t in tokens for part in _split_long_word(t)):
        extra = len(token.text) + (1 if line else 0)
        if line and width + extra > MAX_LINE_CHARS:
            yield line
            line, width = [], 0
            extra = len(token.text)
        line.append(token)
        width += extra
    if line:
        yield line


def _cue_token_groups(tokens: list[_Token]) -> Iterator[list[_Token]]:
    lines = list(_lines(tokens))
    for i in range(0, len(lines), MAX_LINES):
        yield [t for line in lines[i : i + MAX_LINES] for t in line]


def _fit_lines(tokens: list[_Token]) -> list[str]:
    return [" ".join(t.text for t in line) for line in _lines(tokens)]


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _srt(transcript: Transcript) -> str:
    blocks = [
        f"{c.index}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n" + "\n".join(c.lines)
        for c in cues(transcript)
    ]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _vtt(transcript: Transcript) -> str:
    blocks = ["WEBVTT"] + [
        f"{c.index}\n{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n" + "\n".join(c.lines)
        for c in cues(transcript)
    ]
    return "\n\n".join(blocks) + "\n"


def _txt(transcript: Transcript) -> str:
    lines = [s.text.strip() for s in transcript.segments if s.text.strip()]
    return "\n".join(lines) + "\n" if lines else ""


def _tsv(transcript: Transcript) -> str:
    rows = ["start\tend\ttext"] + [
        f"{round(s.start * 1000)}\t{round(s.end * 1000)}\t{s.text.strip().replace(chr(9), ' ')}"
        for s in transcript.segments
    ]
    return "\n".join(rows) + "\n"


def _json(transcript: Transcript) -> str:
    return transcript.to_json()


# OpenAI reports the language by name in verbose_json.
_LANGUAGE_NAMES = {
    "en": "english", "de": "german", "es": "spanish", "fr": "french", "it": "italian",
    "ja": "japanese", "nl": "dutch", "pt": "portuguese", "ru": "russian", "zh": "chinese",
}  # fmt: skip


def verbose_json(transcript: Transcript, *, words: bool = True, segments: bool = True) -> str:
    """OpenAI's ``verbose_json``: segments and, when asked, a flat list of words."""
    body: dict[str, object] = {
        "task": "transcribe",
        "language": _LANGUAGE_NAMES.get(transcript.language or "", transcript.language or ""),
        "duration": transcript.duration,
        "text": transcript.text,
    }
    if segments:
        body["segments"] = [
            {
                "id": s.id,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": 0.0,
                "compression_ratio": 0.0,
                "no_speech_prob": 0.0,
            }
            for s in transcript.segments
        ]
    if words:
        body["words"] = [
            {"word": w.word.strip(), "start": w.start, "end": w.end}
            for s in transcript.segments
            for w in s.words
        ]
    return json.dumps(body, ensure_ascii=False)


_WRITERS: dict[str, Callable[[Transcript], str]] = {
    "json": _json,
    "txt": _txt,
    "srt": _srt,
    "vtt": _vtt,
    "tsv": _tsv,
    "verbose_json": verbose_json,
}
FORMATS = tuple(_WRITERS)
