"""Translating a transcript segment by segment, and where its translated sidecars go.

Segment by segment so that timestamps survive: each segment's text is translated on its own
(all of them in one engine call), and the translation keeps the segment's ``id``, ``start``
and ``end``. The original text and words stay as they were; the translation goes into the
transcript's ``translation`` key (see :mod:`transcription.transcript`).
"""

from __future__ import annotations

from transcription.languages import normalize_language
from transcription.transcript import Segment, Source, Transcript, TranslatedSegment, Translation
from transcription.translation.base import Translator, check_pair

__all__ = ["text_transcript", "translate_transcript", "translated_sidecar_key"]

TRANSCRIPT_SUFFIX = ".json"


def translate_transcript(
    transcript: Transcript, translator: Translator, target: str, source: str | None = None
) -> Transcript:
    """``transcript`` with its translation to ``target`` added.

    ``source`` defaults to the transcript's language (given or detected). A pair the
    translator lacks raises :class:`UnsupportedLanguagePair` before anything is translated;
    speech already in the target language is not sent to the engine: its translation is the
    text as it is (engine ``"none"``).
    """
    src_code = source or transcript.language or ""
    if normalize_language(src_code, "src_lng") == normalize_language(target, "tgt_lng"):
        src = tgt = normalize_language(target, "tgt_lng")
        texts, engine = [s.text for s in transcript.segments], "none"
    else:
        src, tgt = check_pair(translator, src_code, target)
        texts = translator.translate([s.text for s in transcript.segments], src, tgt)
        engine = translator.name
    segments = tuple(
        TranslatedSegment(id=s.id, start=s.start, end=s.end, text=text)
        for s, text in zip(transcript.segments, texts, strict=True)
    )
    translation = Translation(
        language=tgt,
        source_language=src,
        engine=engine,
        text=" ".join(s.text for s in segments if s.text),
        segments=segments,
    )
    return transcript.with_context(translation=translation)


def translated_sidecar_key(key: str, language: str, fmt: str) -> str:
    """Where a translated sidecar goes, beside the transcript at ``key``.

    ``transcripts/a/talk.mp3.json`` + ``es`` + ``srt`` → ``transcripts/a/talk.mp3.es.srt``; a
    batch job's result ``transcripts/jobs/J/item.json`` → ``transcripts/jobs/J/item.es.srt``.
    The language is written as its canonical ISO code (``spa`` → ``es``).
    """
    if not key.endswith(TRANSCRIPT_SUFFIX):
        raise ValueError(f"{key!r} is not a transcript key (it must end in {TRANSCRIPT_SUFFIX})")
    if not fmt or "/" in fmt or "." in fmt:
        raise ValueError(f"format {fmt!r} is not a file extension")
    stem = key[: -len(TRANSCRIPT_SUFFIX)]
    return f"{stem}.{normalize_language(language, 'tgt_lng')}.{fmt}"


def text_transcript(text: str, language: str, source: Source) -> Transcript:
    """An ``nmt`` item's text as a transcript with no audio: one segment per non-empty line
    (times 0), so :func:`translate_transcript` and the store treat it like any other."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    segments = tuple(Segment(id=i, start=0.0, end=0.0, text=line) for i, line in enumerate(lines))
    return Transcript(
        text="\n".join(lines),
        language=normalize_language(language, "src_lng"),
        duration=0.0,
        segments=segments,
        engine="text",
        model="none",
        device="cpu",
        source=source,
    )
