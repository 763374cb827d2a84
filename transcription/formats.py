"""Output formats: json, txt, srt, vtt, tsv and verbose_json (OpenAI's shape).

Subtitles follow the usual broadcast rules: cues numbered from 1, never overlapping, lines
of at most ``MAX_LINE_CHARS`` characters broken at word boundaries, at most ``MAX_LINES``
lines per cue. A long segment becomes several cues, timed from its word timestamps when it
has them, else in proportion to the characters.

Diarized transcripts (segments with a ``speaker``) show the labels in every format: txt a
``SPEAKER_00:`` line where the speaker changes, srt a ``[SPEAKER_00]`` prefix on each cue,
vtt a WebVTT voice tag ``<v SPEAKER_00>``, tsv a fourth ``speaker`` column, json and
verbose_json a ``speaker`` on segments (and words). The tsv column is there only when the
transcript is diarized, so an undiarized tsv stays Whisper's three columns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from transcription.transcript import Segment, Transcript

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "TRANSLATABLE",
    "Cue",
    "cues",
    "media_type",
    "render",
    "render_translation",
    "translated_formats",
]

MAX_LINE_CHARS = 42
MAX_LINES = 2
MIN_CUE_SECONDS = 0.001
SRT_SPEAKER = "[{}] "  # shown: the line keeps room for it
VTT_SPEAKER = "<v {}>"  # a WebVTT voice tag: markup, not shown as text
TRANSLATABLE = ("txt", "srt", "vtt")  # the formats a translation gets sidecars in

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
    speaker: str | None = None


@dataclass(frozen=True)
class _Token:
    text: str
    start: float
    end: float


def render(transcript: Transcript, fmt: str) -> str:
    """``transcript`` as text in format ``fmt``: one of :data:`FORMATS`, or a translated one.

    ``<language>.<format>`` (``es.srt``) renders the transcript's translation to that
    language (:func:`render_translation`): the name of its sidecar, ``….es.srt``, so the store
    writes and repairs translated sidecars like any other.
    """
    language, translated, base = fmt.rpartition(".")
    if translated:
        if transcript.translation is None or transcript.translation.language != language:
            raise ValueError(f"format {fmt!r}: the transcript has no translation to {language!r}")
        return render_translation(transcript, base)
    try:
        writer = _WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    return writer(transcript)


def media_type(fmt: str) -> str:
    """The Content-Type of format ``fmt`` (``es.srt`` is an srt)."""
    return MEDIA_TYPES[fmt.rpartition(".")[2]]


def translated_formats(transcript: Transcript, wanted: tuple[str, ...]) -> tuple[str, ...]:
    """The translated sidecars of ``wanted`` for a transcript with a translation: the text and
    subtitle formats in its language (``es.txt``, ``es.srt``…); none without one."""
    if transcript.translation is None:
        return ()
    language = transcript.translation.language
    return tuple(f"{language}.{fmt}" for fmt in wanted if fmt in TRANSLATABLE)


def render_translation(transcript: Transcript, fmt: str) -> str:
    """The translation of ``transcript`` in format ``fmt``, on the original segments' timing.

    The same writers as :func:`render`, given :meth:`Transcript.translated`; the translated
    segments have no word timings, so long ones are split in proportion to the characters.
    ``ValueError`` when the transcript has no translation.
    """
    return render(transcript.translated(), fmt)


def cues(transcript: Transcript, speaker_mark: str = "") -> list[Cue]:
    """Subtitle cues: split long segments, fit lines, and remove overlaps.

    ``speaker_mark`` (such as ``"[{}] "``) is the text a writer puts before the first line
    of a diarized cue; room for it is kept on that line, so marked lines still fit.
    """
    out: list[Cue] = []
    previous_end = 0.0
    for segment in transcript.segments:
        reserve = len(speaker_mark.format(segment.speaker)) if segment.speaker else 0
        for tokens in _cue_token_groups(_tokens(segment), reserve):
            start = max(tokens[0].start, previous_end)
            end = max(tokens[-1].end, start + MIN_CUE_SECONDS)
            lines = tuple(_fit_lines(tokens, reserve))
            out.append(Cue(len(out) + 1, start, end, lines, segment.speaker))
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


def _split_long_word(token: _Token, width: int) -> list[_Token]:
    text = token.text
    if len(text) <= width:
        return [token]
    parts = [text[i : i + width] for i in range(0, len(text), width)]
    step = (token.end - token.start) / len(parts)
    return [
        _Token(p, token.start + i * step, token.start + (i + 1) * step) for i, p in enumerate(parts)
    ]


def _lines(tokens: list[_Token], reserve: int = 0) -> Iterator[list[_Token]]:
    """Greedy fill: each line as many whole words as fit in MAX_LINE_CHARS.

    The first line of each cue (every MAX_LINES-th) keeps ``reserve`` characters free for a
    speaker mark.
    """
    line: list[_Token] = []
    width, count = 0, 0
    parts = (part for t in tokens for part in _split_long_word(t, MAX_LINE_CHARS - reserve))
    for token in parts:
        limit = MAX_LINE_CHARS - (reserve if count % MAX_LINES == 0 else 0)
        extra = len(token.text) + (1 if line else 0)
        if line and width + extra > limit:
            yield line
            line, width, count = [], 0, count + 1
            extra = len(token.text)
        line.append(token)
        width += extra
    if line:
        yield line


def _cue_token_groups(tokens: list[_Token], reserve: int) -> Iterator[list[_Token]]:
    lines = list(_lines(tokens, reserve))
    for i in range(0, len(lines), MAX_LINES):
        yield [t for line in lines[i : i + MAX_LINES] for t in line]


def _fit_lines(tokens: list[_Token], reserve: int) -> list[str]:
    return [" ".join(t.text for t in line) for line in _lines(tokens, reserve)]


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _srt(transcript: Transcript) -> str:
    blocks = [
        f"{c.index}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n"
        + _cue_text(c, SRT_SPEAKER)
        for c in cues(transcript, SRT_SPEAKER)
    ]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _vtt(transcript: Transcript) -> str:
    blocks = ["WEBVTT"] + [
        f"{c.index}\n{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n"
        + _cue_text(c, VTT_SPEAKER)
        for c in cues(transcript)
    ]
    return "\n\n".join(blocks) + "\n"


def _cue_text(cue: Cue, speaker_mark: str) -> str:
    """The cue's lines, the first marked with its speaker (``speaker_mark`` holds ``{}``)."""
    text = "\n".join(cue.lines)
    return speaker_mark.format(cue.speaker) + text if cue.speaker else text


def _txt(transcript: Transcript) -> str:
    lines: list[str] = []
    speaker: str | None = None
    for segment in transcript.segments:
        if not segment.text.strip():
            continue
        if segment.speaker and segment.speaker != speaker:
            lines += ([""] if lines else []) + [f"{segment.speaker}:"]
            speaker = segment.speaker
        lines.append(segment.text.strip())
    return "\n".join(lines) + "\n" if lines else ""


def _diarized(transcript: Transcript) -> bool:
    return any(s.speaker for s in transcript.segments)


def _tsv(transcript: Transcript) -> str:
    speakers = _diarized(transcript)
    rows = ["start\tend\ttext" + ("\tspeaker" if speakers else "")]
    for s in transcript.segments:
        row = (
            f"{round(s.start * 1000)}\t{round(s.end * 1000)}\t{s.text.strip().replace(chr(9), ' ')}"
        )
        rows.append(row + (f"\t{s.speaker or ''}" if speakers else ""))
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
    speakers = _diarized(transcript)
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
                **({"speaker": s.speaker} if speakers else {}),
            }
            for s in transcript.segments
        ]
    if words:
        body["words"] = [
            {
                "word": w.word.strip(),
                "start": w.start,
                "end": w.end,
                **({"speaker": w.speaker} if speakers else {}),
            }
            for s in transcript.segments
            for w in s.words
        ]
    if speakers:
        body["speakers"] = transcript.speakers or {}
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
