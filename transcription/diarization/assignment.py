"""Speakers onto a transcript: words by time overlap, segments by majority, split on change.

One code path for every engine: the Resemblyzer turns and WhisperX's pyannote turns both come
here as :class:`Turn` lists, so the labels, the splitting and the ``speakers`` summary are the
same whichever engine diarized.

* A word gets the speaker whose turns overlap it most; when none overlaps (a word in a gap
  between turns) the nearest turn's.
* A segment with word timings is split where the speaker changes, unless the change lasts
  less than ``MIN_RUN_SECONDS`` (one misheard word does not make a new segment); each part
  takes the speaker that holds most of its words' duration. A segment without word timings
  takes the speaker that overlaps it most.
* Labels become ``SPEAKER_00``, ``SPEAKER_01``… in order of first appearance in the
  transcript (speakers heard only where no word was transcribed come after, in time order).
* ``speakers`` on the transcript: each label's talk time in seconds, summed over its turns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace

from transcription.diarization.turns import Turn
from transcription.transcript import Segment, Transcript, Word

__all__ = ["MIN_RUN_SECONDS", "assign_speakers", "label_speakers", "speaker_at"]

# A change of speaker shorter than this inside a segment is folded into its neighbours.
MIN_RUN_SECONDS = 0.5


def assign_speakers(transcript: Transcript, turns: Sequence[Turn]) -> Transcript:
    """A copy of ``transcript`` with speakers on its words and segments, and a summary.

    With no turns (silence, or nothing said) the transcript comes back unchanged apart from an
    empty ``speakers`` summary, which says that diarization ran.
    """
    if not turns:
        return replace(transcript, speakers={})
    pieces: list[Segment] = []
    for segment in transcript.segments:
        pieces.extend(_split(segment, turns))
    names = label_speakers(pieces, turns)
    segments = tuple(
        replace(
            piece,
            id=i,
            speaker=names.get(piece.speaker or ""),
            words=tuple(replace(w, speaker=names.get(w.speaker or "")) for w in piece.words),
        )
        for i, piece in enumerate(pieces)
    )
    talk: dict[str, float] = defaultdict(float)
    for turn in turns:
        talk[names[turn.speaker]] += turn.duration
    speakers = {label: round(talk[label], 3) for label in sorted(talk)}
    return replace(transcript, segments=segments, speakers=speakers)


def speaker_at(start: float, end: float, turns: Sequence[Turn]) -> str:
    """The speaker with the largest overlap with ``start..end``; the nearest turn's if none."""
    overlap: dict[str, float] = defaultdict(float)
    for turn in turns:
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] += shared
    if overlap:
        return max(overlap, key=lambda label: overlap[label])
    nearest = min(turns, key=lambda t: max(t.start - end, start - t.end, 0.0))
    return nearest.speaker


def label_speakers(segments: Iterable[Segment], turns: Sequence[Turn]) -> dict[str, str]:
    """Engine label → ``SPEAKER_NN``, numbered in order of first appearance."""
    order: list[str] = []
    heard = [w.speaker for s in segments for w in (s.words or (s,))]
    for label in [*heard, *(t.speaker for t in sorted(turns, key=lambda t: t.start))]:
        if label is not None and label not in order:
            order.append(label)
    return {label: f"SPEAKER_{i:02d}" for i, label in enumerate(order)}


def _split(segment: Segment, turns: Sequence[Turn]) -> list[Segment]:
    """``segment`` with engine labels, cut into one part per run of one speaker."""
    if not segment.words:
        return [replace(segment, speaker=speaker_at(segment.start, segment.end, turns))]
    words = [replace(w, speaker=speaker_at(w.start, w.end, turns)) for w in segment.words]
    runs = _fold_short_runs(_runs(words))
    parts = []
    for i, run in enumerate(runs):
        start = segment.start if i == 0 else run[0].start
        end = segment.end if i == len(runs) - 1 else run[-1].end
        parts.append(
            replace(
                segment,
                start=start,
                end=max(end, start),
                text="".join(w.word for w in run).strip() if len(runs) > 1 else segment.text,
                words=tuple(run),
                speaker=_majority(run),
            )
        )
    return parts


def _runs(words: list[Word]) -> list[list[Word]]:
    runs: list[list[Word]] = []
    for word in words:
        if runs and runs[-1][-1].speaker == word.speaker:
            runs[-1].append(word)
        else:
            runs.append([word])
    return runs


def _fold_short_runs(runs: list[list[Word]]) -> list[list[Word]]:
    """Join a run shorter than MIN_RUN_SECONDS to the previous run (the first to the next)."""
    folded: list[list[Word]] = []
    for run in runs:
        short = _seconds(run) < MIN_RUN_SECONDS
        first_short = len(folded) == 1 and _seconds(folded[0]) < MIN_RUN_SECONDS
        if folded and (short or first_short):
            folded[-1].extend(run)
        else:
            folded.append(list(run))
    merged: list[list[Word]] = []
    for run in folded:  # neighbours that now share a majority speaker become one part
        if merged and _majority(merged[-1]) == _majority(run):
            merged[-1].extend(run)
        else:
            merged.append(run)
    return merged


def _seconds(words: Sequence[Word]) -> float:
    return sum(max(w.end - w.start, 0.0) for w in words)


def _majority(words: Sequence[Word]) -> str | None:
    """The speaker holding most of the words' duration (ties: the earliest of them)."""
    held: dict[str, float] = {}
    for word in words:
        if word.speaker is not None:
            held[word.speaker] = held.get(word.speaker, 0.0) + max(word.end - word.start, 1e-6)
    return max(held, key=lambda label: held[label]) if held else None
