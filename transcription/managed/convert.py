"""AWS Transcribe's output document → our transcript (ARCHITECTURE: "Transcript JSON").

The document (``results.transcripts``, ``results.items``, ``results.speaker_labels``,
``results.language_code``; numbers as strings) becomes the same :class:`Transcript` the
engines build, so users see one shape whichever path ran:

* each ``pronunciation`` item is a word (leading space, as faster-whisper writes them), its
  ``confidence`` the probability; a ``punctuation`` item is appended to the word before it
  (to the next one when nothing came before);
* segments end after a sentence's final punctuation (``.``, ``?``, ``!``) and where the
  speaker changes; a segment's text is its words joined, its times its first and last word's;
* with ``speakers``: each word's ``speaker_label`` (the item's own, else the speaker label
  segment whose item starts with it), renamed ``SPEAKER_00``, ``SPEAKER_01``… in order of first
  appearance as our diarization names them, and ``speakers`` the talk time of each label
  summed over the speaker label segments;
* ``language`` the ISO 639-1 part of ``language_code`` (``en-US`` → ``en``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from transcription.transcript import Segment, Timings, Transcript, Word

__all__ = ["ENGINE", "from_transcribe", "speaker_name"]

ENGINE = "aws-transcribe"
SENTENCE_END = frozenset({".", "?", "!"})


def speaker_name(index: int) -> str:
    return f"SPEAKER_{index:02d}"


def from_transcribe(document: Mapping[str, Any], *, speakers: bool = False) -> Transcript:
    """Our transcript of a Transcribe output document; ``speakers``: keep speaker labels."""
    results = document["results"]
    labels = _speaker_labels(results) if speakers else {}
    words = _words(results.get("items") or (), labels)
    names = _names(words)
    words = [replace(w, speaker=names.get(w.speaker or "")) for w in words]
    segments = tuple(_segment(i, part) for i, part in enumerate(_split(words, by_speaker=speakers)))
    text = " ".join(t.get("transcript", "") for t in results.get("transcripts") or ()).strip()
    duration = max((w.end for w in words), default=0.0)
    language = results.get("language_code") or document.get("language_code")
    return Transcript(
        text=text or " ".join(s.text for s in segments),
        language=language.split("-")[0].lower() if language else None,
        duration=round(duration, 3),
        segments=segments,
        engine=ENGINE,
        model="standard",
        device="managed",
        timings=Timings(audio_seconds=round(duration, 3)),
        speakers=_talk_time(results, names) if speakers else None,
    )


def _words(items: Sequence[Mapping[str, Any]], labels: Mapping[float, str]) -> list[Word]:
    words: list[Word] = []
    pending = ""  # punctuation before any word
    for item in items:
        content = _best(item)
        if item.get("type") == "punctuation":
            if words:
                words[-1] = replace(words[-1], word=words[-1].word + content)
            else:
                pending += content
            continue
        start, end = float(item["start_time"]), float(item["end_time"])
        confidence = _best_alternative(item).get("confidence")
        words.append(
            Word(
                word=f" {pending}{content}",
                start=round(start, 3),
                end=round(end, 3),
                probability=round(float(confidence), 4) if confidence is not None else None,
                speaker=item.get("speaker_label") or labels.get(round(start, 3)),
            )
        )
        pending = ""
    return words


def _best_alternative(item: Mapping[str, Any]) -> Mapping[str, Any]:
    alternatives = item.get("alternatives") or [{}]
    return dict(alternatives[0])


def _best(item: Mapping[str, Any]) -> str:
    return str(_best_alternative(item).get("content", ""))


def _speaker_labels(results: Mapping[str, Any]) -> dict[float, str]:
    """Start time of each labelled item → its speaker label (the older document layout)."""
    found: dict[float, str] = {}
    for segment in (results.get("speaker_labels") or {}).get("segments") or ():
        for item in segment.get("items") or ():
            found[round(float(item["start_time"]), 3)] = item["speaker_label"]
    return found


def _names(words: Sequence[Word]) -> dict[str, str]:
    names: dict[str, str] = {}
    for word in words:
        if word.speaker and word.speaker not in names:
            names[word.speaker] = speaker_name(len(names))
    return names


def _split(words: Sequence[Word], *, by_speaker: bool) -> list[list[Word]]:
    parts: list[list[Word]] = []
    current: list[Word] = []
    for word in words:
        if current and by_speaker and word.speaker != current[-1].speaker:
            parts.append(current)
            current = []
        current.append(word)
        if word.word[-1:] in SENTENCE_END:
            parts.append(current)
            current = []
    if current:
        parts.append(current)
    return parts


def _segment(index: int, words: list[Word]) -> Segment:
    return Segment(
        id=index,
        start=words[0].start,
        end=words[-1].end,
        text="".join(w.word for w in words).strip(),
        words=tuple(words),
        speaker=words[0].speaker,
    )


def _talk_time(results: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, float]:
    talk: dict[str, float] = defaultdict(float)
    for segment in (results.get("speaker_labels") or {}).get("segments") or ():
        label = segment.get("speaker_label")
        if label in names:
            talk[names[label]] += float(segment["end_time"]) - float(segment["start_time"])
    return {label: round(talk[label], 3) for label in sorted(talk)}
