"""Conversations spoken by espeak-ng in clearly different voices, with known turn boundaries.

Each turn is one sentence (3 to 8 s) in one voice; the turns alternate between the speakers
and follow each other with a short pause. The reference turns are built from the lengths of
the generated clips, so the truth is exact. Nothing is committed: a few seconds of CPU make
the audio in the test's temp folder (see :mod:`tests.support.speech` for the espeak-ng rule).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transcription.diarization import Turn
from transcription.inference.audio import SAMPLE_RATE, decode_audio

__all__ = [
    "SENTENCES",
    "VOICES",
    "Conversation",
    "converse",
    "diarization_error_rate",
    "speaker_at",
]

# Voice variant and pitch: a low male, a high female and a whispering voice.
VOICES = (("en+m3", 30), ("en+f4", 80), ("en+whisper", 50))
PAUSE_SECONDS = 0.4
SENTENCES = (
    "The weather tomorrow will be cold and wet, so bring a warm coat to the office.",
    "I think we should book the big table by the window for Friday evening.",
    "Please send me the report before noon, and call the team about the dinner, the one we "
    "planned for the end of the month in the old hotel by the river.",
    "The new library opens next month, with a reading room for the children.",
    "On Thursday the sun comes back, and the weekend will be dry and bright.",
    "Could you check the train times to the city for the morning meeting on Monday?",
    "We moved the budget review to the second week of March, because half of the team is "
    "away at the trade fair in the first week.",
    "That sounds fine to me, but please ask the others in the team first.",
    "The printer on the third floor is broken again, so use the one near the kitchen.",
    "Let us meet at the main station at half past eight, near the ticket office.",
)


@dataclass(frozen=True)
class Conversation:
    samples: np.ndarray  # 16 kHz mono float32
    turns: tuple[tuple[float, float, int], ...]  # (start, end, speaker index), the truth
    speakers: int

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def converse(folder: Path, speakers: int, turns: int, repeat: int = 1) -> Conversation:
    """``turns`` alternating turns among the first ``speakers`` of VOICES.

    ``repeat`` plays the same turns again that many times (a long file for the bench, made
    from a few clips).
    """
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), dtype=np.float32)
    clips: list[tuple[np.ndarray, int]] = []
    for i in range(turns):
        speaker = i % speakers
        voice, pitch = VOICES[speaker]
        path = folder / f"turn-{i}.wav"
        text = SENTENCES[i % len(SENTENCES)]
        subprocess.run(
            [espeak, "-v", voice, "-p", str(pitch), "-w", str(path), text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        clips.append((decode_audio(path).samples, speaker))
    parts: list[np.ndarray] = []
    truth: list[tuple[float, float, int]] = []
    t = 0.0
    for _ in range(repeat):
        for samples, speaker in clips:
            truth.append((round(t, 3), round(t + len(samples) / SAMPLE_RATE, 3), speaker))
            parts += [samples, pause]
            t += (len(samples) + len(pause)) / SAMPLE_RATE
    return Conversation(np.concatenate(parts), tuple(truth), speakers)


def diarization_error_rate(conversation: Conversation, turns: Sequence[Turn]) -> float:
    """pyannote.metrics' DER of ``turns`` against the truth (no collar, overlap scored)."""
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference, hypothesis = Annotation(), Annotation()
    for start, end, speaker in conversation.turns:
        reference[Segment(start, end)] = f"truth-{speaker}"
    for turn in turns:
        hypothesis[Segment(turn.start, turn.end)] = turn.speaker
    scored = Timeline([Segment(0.0, conversation.duration)])  # the whole file is scored
    return float(DiarizationErrorRate()(reference, hypothesis, uem=scored))


def speaker_at(conversation: Conversation, seconds: float) -> int | None:
    """Who the truth says speaks at ``seconds`` (None in a pause)."""
    return next((s for a, b, s in conversation.turns if a <= seconds < b), None)
