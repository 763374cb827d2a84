"""Real transcription with the bundled tiny.en model: word error rate against the scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.media import encode
from tests.support.wer import wer
from transcription.inference.audio import decode_audio
from transcription.inference.engines import TranscribeOptions, load_engine
from transcription.inference.service import transcribe_audio
from transcription.settings import EngineSettings

MAX_WER = 0.15

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["one", "two", "three"])
def test_committed_samples_within_wer(
    name: str, engine: Any, samples: dict[str, Path], sample_scripts: dict[str, str]
) -> None:
    transcript = transcribe_audio(engine, samples[name], TranscribeOptions())

    assert wer(sample_scripts[name], transcript.text) <= MAX_WER, transcript.text
    assert (transcript.engine, transcript.model, transcript.device) == (
        "faster-whisper",
        "tiny.en",
        "cpu",
    )
    assert transcript.language == "en"
    duration = decode_audio(samples[name]).duration
    assert transcript.duration == pytest.approx(duration, abs=0.01)
    assert transcript.timings.audio_seconds == pytest.approx(duration, abs=0.01)
    assert transcript.timings.processing_seconds is not None
    assert transcript.timings.processing_seconds > 0
    words = [w for s in transcript.segments for w in s.words]
    assert words, "word timestamps are on by default"
    assert all(0 <= w.start <= w.end <= duration + 0.5 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_compressed_upload_within_wer(
    engine: Any, samples: dict[str, Path], sample_scripts: dict[str, str]
) -> None:
    """The whole path from an m4a (AAC at 48 kHz) the way a phone would upload it."""
    m4a = encode(decode_audio(samples["three"]).samples, "m4a")
    transcript = transcribe_audio(engine, m4a, TranscribeOptions(language="en"))
    assert wer(sample_scripts["three"], transcript.text) <= MAX_WER, transcript.text


def test_batched_pipeline_within_wer(
    samples: dict[str, Path], sample_scripts: dict[str, str]
) -> None:
    """BATCH_SIZE > 1 switches faster-whisper to its batched pipeline."""
    batched = load_engine(EngineSettings(batch_size=4))
    assert batched.pipeline is not None  # type: ignore[attr-defined]
    transcript = transcribe_audio(batched, samples["two"], TranscribeOptions())
    assert wer(sample_scripts["two"], transcript.text) <= MAX_WER, transcript.text
