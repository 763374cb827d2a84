"""Audio decoding through PyAV: every supported format, made here from a committed sample.

Each file is the speech sample followed by a 1 kHz tone, encoded at the format's usual rate
and layout (44.1/48/22.05 kHz, mono or stereo). Decoding must give 16 kHz mono float32 of
the same length, with the speech where it was and the tone still at 1 kHz (a wrong sample
rate would move it).
"""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.support.media import ENCODINGS, NonSeekable, encode, lying_flac
from transcription.exceptions import AudioTooLong, EmptyAudio, NotAudio
from transcription.inference.audio import SAMPLE_RATE, decode_audio, probe_duration

TONE_HZ = 1000.0
TONE_SECONDS = 1.0
FRAME = SAMPLE_RATE // 50  # 20 ms


@pytest.fixture(scope="module")
def source(samples: dict[str, Path]) -> np.ndarray:
    speech = decode_audio(samples["one"]).samples
    t = np.arange(int(TONE_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    return np.concatenate([speech, tone])


def envelope(samples: np.ndarray) -> np.ndarray:
    frames = samples[: samples.size // FRAME * FRAME].reshape(-1, FRAME)
    return np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))


def envelope_match(decoded: np.ndarray, original: np.ndarray, max_lag: int = 10) -> float:
    """Best correlation of the two loudness envelopes, the decoded one shifted by 0..max_lag."""
    got, want = envelope(decoded), envelope(original)
    best = -1.0
    for lag in range(max_lag + 1):
        n = min(want.size, got.size - lag)
        best = max(best, float(np.corrcoef(got[lag : lag + n], want[:n])[0, 1]))
    return best


def peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / SAMPLE_RATE)[spectrum.argmax()])


@pytest.mark.parametrize("ext", sorted(ENCODINGS))
def test_decodes_every_format_to_16k_mono(ext: str, source: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / f"speech.{ext}"
    path.write_bytes(encode(source, ext))

    audio = decode_audio(path)

    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    expected = source.size / SAMPLE_RATE
    # Lossy codecs add a little padding (encoder delay), never seconds.
    assert expected - 0.03 <= audio.duration <= expected + 0.12
    assert audio.duration == pytest.approx(audio.samples.size / SAMPLE_RATE)
    # The tone at the end is still 1 kHz when read as 16 kHz samples: the rate is right.
    tail = audio.samples[-int(0.8 * SAMPLE_RATE) :]
    assert peak_hz(tail) == pytest.approx(TONE_HZ, abs=5)
    # The speech is where it was: loudness over time follows the source's (allowing for
    # the encoder delay of up to a few 20 ms frames).
    assert envelope_match(audio.samples, source) > 0.95


def test_declared_duration_is_reported_without_decoding(source: np.ndarray) -> None:
    declared = probe_duration(encode(source, "flac"))
    assert declared == pytest.approx(source.size / SAMPLE_RATE, abs=0.01)


def test_too_long_is_refused_from_the_declared_length() -> None:
    """The file declares three hours but holds one second: only the metadata says three hours.

    Decoding it would find one second and succeed, so the error (with the declared length)
    proves the check ran on the metadata, before and instead of decoding.
    """
    data = lying_flac(seconds_declared=3 * 3600, seconds_held=1.0)
    assert probe_duration(data) == pytest.approx(3 * 3600)

    with pytest.raises(AudioTooLong) as raised:
        decode_audio(data, max_seconds=3600)

    assert raised.value.seconds == pytest.approx(3 * 3600)
    assert raised.value.limit == 3600
    assert decode_audio(data).duration == pytest.approx(1.0, abs=0.05)


def test_too_long_without_declared_length_stops_decoding_early() -> None:
    """A stream that cannot seek declares no length; decoding stops just past the limit."""
    ten_minutes = encode(np.zeros(600 * SAMPLE_RATE, dtype=np.float32), "wav")
    stream = NonSeekable(ten_minutes)
    assert probe_duration(NonSeekable(ten_minutes)) is None

    with pytest.raises(AudioTooLong) as raised:
        decode_audio(stream, max_seconds=60)

    assert 60 < raised.value.seconds < 90
    assert stream.bytes_read < len(ten_minutes) / 4


def test_audio_under_the_limit_decodes(source: np.ndarray) -> None:
    limit = source.size / SAMPLE_RATE + 0.5
    assert decode_audio(encode(source, "mp3"), max_seconds=limit).duration < limit


def test_truncated_file_keeps_what_decoded(source: np.ndarray) -> None:
    data = encode(source, "mp3")
    audio = decode_audio(data[: len(data) // 2])
    assert 0.3 * source.size / SAMPLE_RATE < audio.duration < 0.7 * source.size / SAMPLE_RATE


@pytest.mark.parametrize(
    "content",
    [
        b"Please transcribe me. I am only text.\n" * 50,
        os.urandom(4096),
        b"RIFF\x00\x00\x00\x00WAVEjunk" + os.urandom(512),
    ],
    ids=["text", "random-bytes", "broken-wav-header"],
)
def test_not_audio(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_bytes(content)
    with pytest.raises(NotAudio):
        decode_audio(path)
    with pytest.raises(NotAudio):
        decode_audio(content)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(EmptyAudio, match="0 bytes"):
        decode_audio(path)
    with pytest.raises(EmptyAudio):
        decode_audio(b"")


def test_container_without_samples() -> None:
    header_only = io.BytesIO()
    with wave.open(header_only, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
    with pytest.raises(EmptyAudio, match="no audio samples"):
        decode_audio(header_only.getvalue())
