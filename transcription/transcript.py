"""The transcript: dataclasses and the version-1 JSON shape (ARCHITECTURE: "Transcript JSON").

Light on purpose (standard library only): the router and the store read transcripts too.

A transcript translated to another language (an ``asr+nmt`` job) carries the translation
beside the original, in one extra key that older readers ignore (``from_dict`` reads the keys
it knows), absent when there is none::

    "translation": {"language": "es", "source_language": "en", "engine": "apertium",
                    "text": "Hola mundo. ...",
                    "segments": [{"id": 0, "start": 0.0, "end": 2.1, "text": "Hola mundo."}, ...]}

One translated segment per segment, same ``id`` and times: the translation is done segment by
segment so the subtitles of the translation keep the original timing
(:meth:`Transcript.translated` is the transcript as if spoken in the target language; word
timings belong to the spoken words, so it has none).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "TRANSCRIPT_VERSION",
    "LanguageVote",
    "Segment",
    "Source",
    "Timings",
    "Transcript",
    "TranslatedSegment",
    "Translation",
    "Word",
    "utc_now",
]

TRANSCRIPT_VERSION = 1


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``: ``2026-11-21T10:49:22.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    probability: float | None = None


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str | None = None


@dataclass(frozen=True)
class LanguageVote:
    """What one window of the audio sounded like, when the language was detected."""

    start: float
    end: float
    language: str
    probability: float


@dataclass(frozen=True)
class Source:
    bucket: str
    key: str
    etag: str
    size: int


@dataclass(frozen=True)
class Timings:
    queued_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    audio_seconds: float | None = None
    processing_seconds: float | None = None


@dataclass(frozen=True)
class TranslatedSegment:
    """The translation of the segment with the same ``id``, at the same times."""

    id: int
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Translation:
    language: str  # the target language (ISO code)
    source_language: str  # what was translated from
    engine: str  # apertium | ctranslate2, or "none" when the speech was already in it
    text: str
    segments: tuple[TranslatedSegment, ...]


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None
    duration: float
    segments: tuple[Segment, ...]
    engine: str
    model: str
    device: str
    source: Source | None = None
    route: str | None = None  # direct | batch | api
    timings: Timings = field(default_factory=Timings)
    created_at: str = field(default_factory=utc_now)
    warnings: tuple[str, ...] = ()  # e.g. "no alignment model for 'xx': no word timings"
    # Set when the language was detected (none was given): the winner's mean probability
    # over the windows, and each window's vote. Absent from transcripts of older versions.
    language_probability: float | None = None
    language_votes: tuple[LanguageVote, ...] = ()
    translation: Translation | None = None  # an asr+nmt job's translation; see the module doc
    version: int = TRANSCRIPT_VERSION

    def with_context(self, **changes: Any) -> Transcript:
        """A copy with ``source``, ``route``, ``timings``… set by whoever ran the engine."""
        return replace(self, **changes)

    def translated(self) -> Transcript:
        """The translation as a transcript of its own: translated text, original timing.

        What the translated sidecars (``.es.srt``…) are rendered from, by the same writers.
        Raises ``ValueError`` when there is no translation.
        """
        if self.translation is None:
            raise ValueError("the transcript has no translation")
        tr = self.translation
        speakers = {s.id: s.speaker for s in self.segments}
        segments = tuple(
            Segment(id=t.id, start=t.start, end=t.end, text=t.text, speaker=speakers.get(t.id))
            for t in tr.segments
        )
        return replace(
            self, text=tr.text, language=tr.language, segments=segments, translation=None
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["translation"] is None:
            del data["translation"]  # transcripts without one keep the shape they always had
        ordered = {"version": data.pop("version")}
        ordered.update(data)
        return ordered

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        segments = tuple(
            Segment(
                id=s["id"],
                start=s["start"],
                end=s["end"],
                text=s["text"],
                words=tuple(Word(**w) for w in s.get("words") or ()),
                speaker=s.get("speaker"),
            )
            for s in data.get("segments") or ()
        )
        source = data.get("source")
        return cls(
            version=data.get("version", TRANSCRIPT_VERSION),
            text=data["text"],
            language=data.get("language"),
            duration=data.get("duration", 0.0),
            segments=segments,
            engine=data.get("engine", ""),
            model=data.get("model", ""),
            device=data.get("device", ""),
            source=Source(**source) if source else None,
            route=data.get("route"),
            timings=Timings(**(data.get("timings") or {})),
            created_at=data.get("created_at") or utc_now(),
            warnings=tuple(data.get("warnings") or ()),
            language_probability=data.get("language_probability"),
            language_votes=tuple(LanguageVote(**v) for v in data.get("language_votes") or ()),
            translation=_translation(data.get("translation")),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Transcript:
        return cls.from_dict(json.loads(text))


def _translation(data: dict[str, Any] | None) -> Translation | None:
    if not data:
        return None
    return Translation(
        language=data["language"],
        source_language=data.get("source_language", ""),
        engine=data.get("engine", ""),
        text=data.get("text", ""),
        segments=tuple(TranslatedSegment(**s) for s in data.get("segments") or ()),
    )
