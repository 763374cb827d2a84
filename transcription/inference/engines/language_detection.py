"""Language detection over the whole file, not only its first 30 seconds.

faster-whisper and WhisperX detect the language from the first 30 s: a file that opens with
music, silence or a jingle in another language is transcribed in the wrong one. Here a few
short windows are spread over the whole file (in each of ``max_windows`` equal slices, the
loudest ``window_seconds`` around the slice's middle; silent windows do not vote), all
encoded in one batch, and each window votes with Whisper's language distribution. The
winner is the language with the highest mean probability over the windows.

Cost: Whisper's encoder accepts fewer than its 3,000 mel frames (CTranslate2 slices the
positional embedding), and its cost grows faster than the input length (attention), so
five 8 s windows cost about as much as the one 30 s window of the usual detection
(``bench/bench_languages.py`` measures the ratio).

Windows that confidently (``probability >= CONFIDENT``) vote for another language than the
winner, in ``MIXED_SHARE`` of the windows or more, make a mixed-language warning.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from transcription.inference.audio import SAMPLE_RATE
from transcription.languages import from_whisper
from transcription.transcript import LanguageVote

__all__ = [
    "LanguageDetection",
    "LanguageDetector",
    "LazyLanguageDetector",
    "WindowedLanguageDetector",
    "pick_windows",
    "tally",
]

log = logging.getLogger(__name__)

WINDOW_SECONDS = 8.0
MAX_WINDOWS = 5
SILENCE_RMS = 1e-3  # about -60 dBFS: a window this quiet does not vote
CONFIDENT = 0.5
MIXED_SHARE = 0.25
_FRAMES_PER_SECOND = 100  # Whisper's mel hop is 10 ms
_ENERGY_STEP = SAMPLE_RATE // 10  # windows start on 100 ms steps


@dataclass(frozen=True)
class LanguageDetection:
    language: str  # ISO code (transcription.languages)
    probability: float  # the winner's mean probability over the windows
    votes: tuple[LanguageVote, ...]
    warnings: tuple[str, ...] = ()


def pick_windows(
    samples: np.ndarray,
    window_seconds: float = WINDOW_SECONDS,
    max_windows: int = MAX_WINDOWS,
) -> list[tuple[int, int]]:
    """``(start, end)`` sample indices of the windows that vote, in order.

    A file no longer than one window is one window. Otherwise the file is cut into
    ``min(max_windows, round(length / window))`` equal slices and each gets its loudest
    window: inside the slice, or, where the slice is shorter than a window, one that holds
    the slice's middle in its central half. Windows quieter than :data:`SILENCE_RMS` are
    dropped.
    """
    length = len(samples)
    window = int(window_seconds * SAMPLE_RATE)
    if length <= window:
        spans = [(0, length)]
    else:
        count = max(1, min(max_windows, round(length / window)))
        power = np.concatenate(([0.0], np.cumsum(samples.astype(np.float64) ** 2)))
        spans = []
        for index in range(count):
            slice_start, slice_end = index * length // count, (index + 1) * length // count
            first, last = slice_start, slice_end - window
            if last < first:  # slices shorter than a window: one around the slice's middle
                middle = (slice_start + slice_end) // 2
                first, last = middle - window * 3 // 4, middle - window // 4
            first, last = max(0, first), max(0, min(length - window, last))
            first = min(first, last)
            starts = np.arange(first, last + 1, _ENERGY_STEP)
            energy = power[starts + window] - power[starts]
            start = int(starts[int(np.argmax(energy))])
            spans.append((start, start + window))
    # Neighbouring slices of a loud passage may pick the same window: it votes once.
    return [(a, b) for a, b in dict.fromkeys(spans) if _rms(samples[a:b]) >= SILENCE_RMS]


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0


def tally(spans: list[tuple[int, int]], distributions: list[dict[str, float]]) -> LanguageDetection:
    """The winner of the windows' distributions (ISO codes → probability), and the warning."""
    languages = {code for distribution in distributions for code in distribution}
    mean = {
        code: sum(d.get(code, 0.0) for d in distributions) / len(distributions)
        for code in languages
    }
    winner = max(mean, key=lambda code: mean[code])
    votes = tuple(
        LanguageVote(
            start=round(a / SAMPLE_RATE, 3),
            end=round(b / SAMPLE_RATE, 3),
            language=(top := max(d, key=lambda code: d[code])),
            probability=round(d[top], 4),
        )
        for (a, b), d in zip(spans, distributions, strict=True)
    )
    return LanguageDetection(
        language=winner,
        probability=round(mean[winner], 4),
        votes=votes,
        warnings=_mixed_warning(votes, winner),
    )


def _mixed_warning(votes: tuple[LanguageVote, ...], winner: str) -> tuple[str, ...]:
    dissent = [v for v in votes if v.language != winner and v.probability >= CONFIDENT]
    if not dissent or len(dissent) < MIXED_SHARE * len(votes):
        return ()
    counts = Counter(v.language for v in votes)
    summary = ", ".join(f"{code} in {n}" for code, n in counts.most_common())
    return (
        f"mixed languages: of {len(votes)} windows, {summary}; transcribed as {winner!r} "
        "throughout (split the file, or give each part its language)",
    )


@dataclass
class WindowedLanguageDetector:
    """Detects the language with a multilingual faster-whisper ``WhisperModel``."""

    whisper: Any  # faster_whisper.WhisperModel (multilingual)
    window_seconds: float = WINDOW_SECONDS
    max_windows: int = MAX_WINDOWS

    def detect(self, samples: np.ndarray) -> LanguageDetection | None:
        """The detected language; ``None`` when every window is silent."""
        spans = pick_windows(samples, self.window_seconds, self.max_windows)
        if not spans:
            return None
        frames = int(self.window_seconds * _FRAMES_PER_SECOND)
        window = int(self.window_seconds * SAMPLE_RATE)
        features = np.stack(
            [
                self.whisper.feature_extractor(_pad(samples[a:b], window))[..., :frames]
                for a, b in spans
            ]
        )
        encoded = self.whisper.encode(features)
        results = self.whisper.model.detect_language(encoded)
        distributions = [
            {from_whisper(token[2:-2]): probability for token, probability in result}
            for result in results
        ]
        detection = tally(spans, distributions)
        log.info(
            "language %s (%.2f) from %d windows",
            detection.language,
            detection.probability,
            len(spans),
        )
        return detection


class LazyLanguageDetector:
    """A :class:`WindowedLanguageDetector` whose model loads on first use, once.

    An English-only model cannot detect a language; its engine keeps one of these over the
    multilingual ``base`` model and loads it only when a file does not sound like English.
    """

    def __init__(self, load_model: Callable[[], Any], name: str) -> None:
        self.name = name
        self._load_model = load_model
        self._detector: WindowedLanguageDetector | None = None
        self._lock = threading.Lock()

    def detect(self, samples: np.ndarray) -> LanguageDetection | None:
        with self._lock:
            if self._detector is None:
                log.info("loading %s to detect languages", self.name)
                self._detector = WindowedLanguageDetector(self._load_model())
        return self._detector.detect(samples)


LanguageDetector = WindowedLanguageDetector | LazyLanguageDetector


def _pad(samples: np.ndarray, length: int) -> np.ndarray:
    """Short audio padded with silence to one window (as Whisper pads to 30 s)."""
    if len(samples) >= length:
        return samples
    return np.pad(samples, (0, length - len(samples)))
