"""Audio files made in tests: encode 16 kHz mono samples to any supported format with PyAV.

Each format uses its own usual sample rate and channel layout, so decoding also exercises
resampling and down-mixing. ``lying_flac`` and ``NonSeekable`` help test the length limit.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import av
import numpy as np

__all__ = ["ENCODINGS", "Encoding", "NonSeekable", "encode", "lying_flac", "wav_bytes"]

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Encoding:
    container: str  # ffmpeg muxer
    codec: str
    rate: int
    layout: str
    experimental: bool = False


ENCODINGS = {
    "wav": Encoding("wav", "pcm_s16le", 16_000, "mono"),
    "mp3": Encoding("mp3", "libmp3lame", 44_100, "stereo"),
    "m4a": Encoding("ipod", "aac", 48_000, "mono"),
    "aac": Encoding("adts", "aac", 22_050, "mono"),
    "ogg": Encoding("ogg", "vorbis", 44_100, "stereo", experimental=True),
    "opus": Encoding("opus", "libopus", 48_000, "mono"),
    "webm": Encoding("webm", "libopus", 48_000, "stereo"),
    "flac": Encoding("flac", "flac", 22_050, "mono"),
}


def encode(samples: np.ndarray, ext: str) -> bytes:
    """``samples`` (16 kHz mono float32) as a file of type ``ext`` (a key of ENCODINGS)."""
    spec = ENCODINGS[ext]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=spec.container) as out:
        stream = out.add_stream(spec.codec, rate=spec.rate)
        stream.layout = spec.layout
        if spec.experimental:
            stream.codec_context.options = {"strict": "experimental"}
        resampler = av.AudioResampler(
            format=stream.codec_context.codec.audio_formats[0].name,
            layout=spec.layout,
            rate=spec.rate,
            frame_size=stream.codec_context.frame_size or None,
        )
        frames = []
        if samples.size:  # an empty frame upsets the resampler; no samples: no frames
            frame = av.AudioFrame.from_ndarray(
                samples.astype(np.float32).reshape(1, -1), format="flt", layout="mono"
            )
            frame.sample_rate = SAMPLE_RATE
            frames = [*resampler.resample(frame), *resampler.resample(None)]
        for converted in frames:
            out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def wav_bytes(samples: np.ndarray) -> bytes:
    return encode(samples, "wav")


def lying_flac(seconds_declared: float, seconds_held: float = 1.0) -> bytes:
    """A FLAC file whose STREAMINFO declares ``seconds_declared`` but holds ``seconds_held``.

    Decoding it yields only ``seconds_held``; only a check of the declared length can see
    the declared one. (STREAMINFO: after ``fLaC`` and a 4-byte block header, 10 bytes of
    block and frame sizes, then 20 bits rate, 3 channels, 5 bits per sample, 36 total samples.)
    """
    tone = 0.1 * np.sin(np.arange(int(seconds_held * SAMPLE_RATE)) * 0.05).astype(np.float32)
    data = bytearray(encode(tone, "flac"))
    if data[:4] != b"fLaC" or data[4] & 0x7F != 0:
        raise ValueError("unexpected FLAC header")
    (packed,) = struct.unpack_from(">Q", data, 18)
    rate = packed >> 44
    total = int(seconds_declared * rate)
    struct.pack_into(">Q", data, 18, (packed & ~((1 << 36) - 1)) | total)
    return bytes(data)


class NonSeekable(io.RawIOBase):
    """A read-only stream that cannot seek (like a pipe) and counts what was read."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = self._data.readinto(buffer)
        self.bytes_read += count
        return count
