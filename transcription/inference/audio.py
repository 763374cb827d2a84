"""Audio decoding through PyAV (it ships its own ffmpeg libraries).

Any supported container (wav, mp3, m4a/aac, ogg/vorbis, opus, webm, flac) becomes 16 kHz
mono float32 samples. The length limit is checked on the container's metadata before
decoding and again while decoding (for streams that do not declare a length), so a
three-hour file is refused without being decoded first.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from transcription.exceptions import AudioTooLong, EmptyAudio, InvalidPcm, NotAudio

__all__ = ["SAMPLE_RATE", "Audio", "decode_audio", "probe_duration"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
AudioSource = str | Path | bytes | BinaryIO


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # float32, mono, SAMPLE_RATE
    duration: float  # seconds

    @classmethod
    def from_samples(cls, samples: np.ndarray) -> Audio:
        return cls(samples.astype(np.float32, copy=False), len(samples) / SAMPLE_RATE)


def _open(source: AudioSource) -> av.container.InputContainer:
    if isinstance(source, bytes | bytearray):
        if not source:
            raise EmptyAudio("the file is empty (0 bytes)")
        source = io.BytesIO(source)
    elif isinstance(source, str | Path) and Path(source).stat().st_size == 0:
        raise EmptyAudio("the file is empty (0 bytes)")
    try:
        return av.open(source, mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise NotAudio(f"not a readable audio file: {error}") from None


def _declared_duration(container: av.container.InputContainer) -> float | None:
    stream = container.streams.audio[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def probe_duration(source: AudioSource) -> float | None:
    """The length the container declares, without decoding; ``None`` when it declares none."""
    with _open(source) as container:
        if not container.streams.audio:
            raise NotAudio("the file has no audio stream")
        return _declared_duration(container)


def decode_audio(source: AudioSource, max_seconds: float | None = None) -> Audio:
    """Decode ``source`` to 16 kHz mono float32.

    Raises :class:`NotAudio`, :class:`EmptyAudio` or :class:`AudioTooLong`.
    """
    with _open(source) as container:
        if not container.streams.audio:
            raise NotAudio("the file has no audio stream")
        declared = _declared_duration(container)
        if max_seconds is not None and declared is not None and declared > max_seconds:
            raise AudioTooLong(declared, max_seconds)
        samples = _decode_stream(container, max_seconds)
    if samples.size == 0:
        raise EmptyAudio("the file holds no audio samples")
    return Audio.from_samples(samples)


def _decode_stream(container: av.container.InputContainer, max_seconds: float | None) -> np.ndarray:
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    limit = None if max_seconds is None else int(max_seconds * SAMPLE_RATE) + SAMPLE_RATE
    chunks: list[np.ndarray] = []
    count = 0
    try:
        for frame in container.decode(stream):
            frame.pts = None  # the resampler retimes; odd pts in some files upset it
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(-1)
                chunks.append(chunk)
                count += chunk.size
            if limit is not None and count > limit:
                raise AudioTooLong(count / SAMPLE_RATE, max_seconds or 0)
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as error:
        if not chunks:
            raise NotAudio(f"the audio stream cannot be decoded: {error}") from None
        # A damaged tail: keep what decoded, as ffmpeg itself does.
        log.warning("audio decoding stopped early: %s", error)
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def decode_pcm(path: str | Path, max_seconds: float | None = None) -> Audio:
    """Raw 16 kHz mono signed 16-bit little-endian PCM (no header), as ffmpeg's ``-f s16le``
    writes it: what whisper-asr-webservice's clients send with ``encode=false``.

    Raises :class:`EmptyAudio`, :class:`InvalidPcm` (an odd byte count) or :class:`AudioTooLong`.
    """
    size = Path(path).stat().st_size
    if size == 0:
        raise EmptyAudio("the file is empty (0 bytes)")
    if size % 2:
        raise InvalidPcm("raw PCM (encode=false) must be 16-bit samples: the byte count is odd")
    seconds = size / 2 / SAMPLE_RATE
    if max_seconds is not None and seconds > max_seconds:
        raise AudioTooLong(seconds, max_seconds)
    samples = np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0
    return Audio.from_samples(samples)
