"""Speech windows of a long signal, streamed chunk by chunk in bounded memory.

The signal is cut into windows of ``WINDOW_SECONDS`` every ``HOP_SECONDS``. A window counts
as speech when most of its 30 ms frames are speech to WebRTC's voice activity detector (a
dependency of Resemblyzer). The log-free mel spectrogram Resemblyzer's encoder expects
(40 bands, 25 ms frames every 10 ms, the same numbers as ``resemblyzer.audio``) is computed
per chunk of ``CHUNK_SECONDS``, so memory holds one chunk's spectrogram at a time, never the
whole file's: a one-hour file costs the same working memory as a one-minute one.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = [
    "HOP_SECONDS",
    "WINDOW_SECONDS",
    "MelFrames",
    "SpeechWindows",
    "speech_frames",
    "speech_windows",
]

SAMPLE_RATE = 16_000
MEL_STEP = 160  # 10 ms
MEL_WINDOW = 400  # 25 ms
MEL_BANDS = 40
WINDOW_FRAMES = 160  # the encoder was trained on 1.6 s partial utterances
WINDOW_SECONDS = WINDOW_FRAMES * MEL_STEP / SAMPLE_RATE
HOP_FRAMES = 75
HOP_SECONDS = HOP_FRAMES * MEL_STEP / SAMPLE_RATE
CHUNK_WINDOWS = 80  # windows per chunk: 60 s of audio
VAD_FRAME = 480  # 30 ms, one of the lengths WebRTC's detector takes
VAD_MODE = 2  # 0 (lenient) … 3 (strict)
MIN_SPEECH_SHARE = 0.5  # of a window's VAD frames
TARGET_DBFS = -30.0  # the loudness Resemblyzer normalizes its training audio to


@dataclass(frozen=True)
class SpeechWindows:
    """One chunk's speech windows: their start times and their mel spectrograms."""

    starts: np.ndarray  # seconds, shape (n,)
    mels: np.ndarray  # float32, shape (n, WINDOW_FRAMES, MEL_BANDS)


class MelFrames:
    """Resemblyzer's mel spectrogram, in numpy (librosa's STFT, without its per-call set-up)."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # librosa's lazy loader warns on some numba builds
            from librosa.filters import mel

        self.bank = mel(sr=SAMPLE_RATE, n_fft=MEL_WINDOW, n_mels=MEL_BANDS).astype(np.float32)
        self.window = np.hanning(MEL_WINDOW + 1)[:-1].astype(np.float32)  # periodic Hann

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        """Frames of ``samples`` (centred, zero-padded like librosa), shape (frames, bands)."""
        padded = np.pad(samples, MEL_WINDOW // 2)
        count = 1 + (len(padded) - MEL_WINDOW) // MEL_STEP
        index = np.arange(MEL_WINDOW)[None, :] + MEL_STEP * np.arange(count)[:, None]
        power = np.abs(np.fft.rfft(padded[index] * self.window, axis=1)) ** 2
        return (power.astype(np.float32) @ self.bank.T).astype(np.float32)


def speech_frames(audio: np.ndarray) -> np.ndarray:
    """One boolean per 30 ms frame: speech or not (WebRTC VAD), computed in chunks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # webrtcvad imports the deprecated pkg_resources
        import webrtcvad

    vad = webrtcvad.Vad(VAD_MODE)
    count = len(audio) // VAD_FRAME
    flags = np.zeros(count, dtype=bool)
    step = VAD_FRAME * 2000  # one minute of frames at a time as int16
    for offset in range(0, count * VAD_FRAME, step):
        block = audio[offset : min(offset + step, count * VAD_FRAME)]
        pcm = (np.clip(block, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        first = offset // VAD_FRAME
        for i in range(len(block) // VAD_FRAME):
            frame = pcm[i * VAD_FRAME * 2 : (i + 1) * VAD_FRAME * 2]
            flags[first + i] = vad.is_speech(frame, SAMPLE_RATE)
    return flags


def speech_windows(
    audio: np.ndarray, speech: np.ndarray, mel: MelFrames
) -> Iterator[SpeechWindows]:
    """The speech windows of ``audio``, ``CHUNK_WINDOWS`` at a time, loudness-normalized."""
    total_frames = max(len(audio) - MEL_WINDOW, 0) // MEL_STEP + 1
    window_count = max(1, 1 + (total_frames - WINDOW_FRAMES) // HOP_FRAMES)
    for first in range(0, window_count, CHUNK_WINDOWS):
        indexes = np.arange(first, min(first + CHUNK_WINDOWS, window_count))
        starts = indexes * HOP_SECONDS
        keep = np.array([_is_speech(speech, s) for s in starts], dtype=bool)
        if not keep.any():
            continue
        begin = int(indexes[0] * HOP_FRAMES * MEL_STEP)
        end = int((indexes[-1] * HOP_FRAMES + WINDOW_FRAMES) * MEL_STEP)
        chunk = _normalized(audio[begin:end], speech, begin)
        frames = mel(chunk)
        frames = np.pad(frames, ((0, max(0, (end - begin) // MEL_STEP - len(frames))), (0, 0)))
        offsets = (indexes[keep] - indexes[0]) * HOP_FRAMES
        mels = np.stack([frames[o : o + WINDOW_FRAMES] for o in offsets])
        if mels.shape[1] < WINDOW_FRAMES:  # a file shorter than one window
            mels = np.pad(mels, ((0, 0), (0, WINDOW_FRAMES - mels.shape[1]), (0, 0)))
        yield SpeechWindows(starts=starts[keep], mels=mels)


def _is_speech(speech: np.ndarray, start: float) -> bool:
    first = int(start * SAMPLE_RATE) // VAD_FRAME
    last = int((start + WINDOW_SECONDS) * SAMPLE_RATE) // VAD_FRAME
    frames = speech[first:last]
    return bool(frames.size) and float(frames.mean()) >= MIN_SPEECH_SHARE


def _normalized(chunk: np.ndarray, speech: np.ndarray, begin: int) -> np.ndarray:
    """``chunk`` scaled so that its speech frames sit at TARGET_DBFS, as in training."""
    first = begin // VAD_FRAME
    flags = speech[first : first + len(chunk) // VAD_FRAME]
    frames = chunk[: len(flags) * VAD_FRAME].reshape(-1, VAD_FRAME)[flags]
    rms = float(np.sqrt(np.mean(frames.astype(np.float64) ** 2))) if frames.size else 0.0
    if rms <= 1e-6:
        return chunk
    gain = 10 ** (TARGET_DBFS / 20) / rms
    return (chunk * gain).astype(np.float32)
