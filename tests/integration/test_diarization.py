"""The Resemblyzer diarizer on espeak-ng conversations with known turns, and its costs.

Real parts throughout: the voice encoder's shipped weights, scikit-learn's clustering, the
tiny Whisper model for the end-to-end transcript, and pyannote.metrics for the error rate.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.conversation import (
    Conversation,
    converse,
    diarization_error_rate,
    speaker_at,
)
from transcription.diarization import DiarizeOptions
from transcription.inference.audio import Audio
from transcription.inference.diarization.resemblyzer_diarizer import ResemblyzerDiarizer
from transcription.inference.diarization.windows import (
    CHUNK_WINDOWS,
    HOP_SECONDS,
    MelFrames,
    speech_frames,
    speech_windows,
)
from transcription.inference.engines import Engine, TranscribeOptions
from transcription.inference.service import transcribe_audio

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def diarizer() -> ResemblyzerDiarizer:
    return ResemblyzerDiarizer.load()


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Conversation:
    return converse(tmp_path_factory.mktemp("two"), speakers=2, turns=10)


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Conversation:
    return converse(tmp_path_factory.mktemp("three"), speakers=3, turns=12)


def labels(turns: list) -> set[str]:
    return {t.speaker for t in turns}


def test_two_speakers_counted_and_der_within_10_percent(
    diarizer: ResemblyzerDiarizer, two: Conversation
) -> None:
    turns = diarizer.diarize(two.samples)
    assert len(labels(turns)) == 2
    assert diarization_error_rate(two, turns) <= 0.10


def test_three_speakers_counted_and_der_within_20_percent(
    diarizer: ResemblyzerDiarizer, three: Conversation
) -> None:
    turns = diarizer.diarize(three.samples)
    assert len(labels(turns)) == 3
    assert diarization_error_rate(three, turns) <= 0.20


def test_one_voice_is_one_speaker(diarizer: ResemblyzerDiarizer, tmp_path: Path) -> None:
    alone = converse(tmp_path, speakers=1, turns=6)
    turns = diarizer.diarize(alone.samples)
    assert len(labels(turns)) == 1
    assert diarization_error_rate(alone, turns) <= 0.10


def test_a_given_count_is_kept(diarizer: ResemblyzerDiarizer, three: Conversation) -> None:
    # Bounds (min/max_speakers) are covered on synthetic embeddings in tests/unit.
    assert len(labels(diarizer.diarize(three.samples, num_speakers=2))) == 2


def test_silence_has_no_turns(diarizer: ResemblyzerDiarizer) -> None:
    assert diarizer.diarize(np.zeros(5 * 16_000, dtype=np.float32)) == []


def test_transcript_words_carry_the_right_speakers(
    diarizer: ResemblyzerDiarizer, two: Conversation, engine: Engine
) -> None:
    transcript = transcribe_audio(
        engine,
        Audio.from_samples(two.samples),
        TranscribeOptions(language="en"),
        diarize=DiarizeOptions(),
        diarizer=diarizer,
    )
    assert transcript.speakers is not None and set(transcript.speakers) == {
        "SPEAKER_00",
        "SPEAKER_01",
    }
    # SPEAKER_00 is whoever speaks first: the truth's speaker 0.
    truth = {"SPEAKER_00": 0, "SPEAKER_01": 1}
    scored = [
        (truth[w.speaker or ""], speaker_at(two, (w.start + w.end) / 2))
        for s in transcript.segments
        for w in s.words
    ]
    timed = [(got, want) for got, want in scored if want is not None]
    assert sum(got == want for got, want in timed) >= 0.9 * len(timed)
    # Segments were split at the changes: each holds one speaker's words.
    for segment in transcript.segments:
        assert segment.speaker in truth
    assert len(transcript.segments) >= len(two.turns)
    assert [s.id for s in transcript.segments] == list(range(len(transcript.segments)))
    assert sum(transcript.speakers.values()) == pytest.approx(two.duration, rel=0.2)


def test_windows_stream_in_bounded_chunks(three: Conversation) -> None:
    long = np.tile(three.samples, 3)  # about three minutes
    speech = speech_frames(long)
    chunks = list(speech_windows(long, speech, MelFrames()))
    assert len(chunks) > 1
    assert all(len(c.starts) <= CHUNK_WINDOWS for c in chunks)
    starts = np.concatenate([c.starts for c in chunks])
    assert np.all(np.diff(starts) > 0)
    assert len(starts) >= 0.6 * len(long) / 16_000 / HOP_SECONDS  # most windows are speech


PROBE = """
import sys
from transcription.diarization import DiarizeOptions
from transcription.inference.engines import TranscribeOptions, load_engine
from transcription.inference.service import transcribe_audio
from transcription.settings import EngineSettings
engine = load_engine(EngineSettings())
transcribe_audio(engine, sys.argv[1], TranscribeOptions(language="en"))
print("torch" in sys.modules, "resemblyzer" in sys.modules)
transcribe_audio(engine, sys.argv[1], TranscribeOptions(language="en"), diarize=DiarizeOptions())
print("torch" in sys.modules, "resemblyzer" in sys.modules)
"""


def test_diarize_false_imports_no_torch(samples: dict[str, Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(samples["one"])],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=240,
    )
    assert result.stdout.split() == ["False", "False", "True", "True"]
