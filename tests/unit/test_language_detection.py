"""Where the detection windows go, how their votes are counted, when a file is mixed.

Plain numpy: no model here (``tests/integration/test_languages.py`` runs the real ones).
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from transcription.inference.engines.language_detection import pick_windows, tally
from transcription.transcript import LanguageVote, Transcript

RATE = 16_000


def noise(seconds: float, level: float = 0.1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, level, int(seconds * RATE)).astype(np.float32)


def seconds(spans: list[tuple[int, int]]) -> list[tuple[float, float]]:
    return [(a / RATE, b / RATE) for a, b in spans]


def test_a_short_file_is_one_window() -> None:
    assert seconds(pick_windows(noise(5))) == [(0.0, 5.0)]


def test_windows_spread_over_the_whole_file() -> None:
    spans = pick_windows(noise(300), window_seconds=8, max_windows=5)

    assert len(spans) == 5
    for index, (start, end) in enumerate(seconds(spans)):
        assert end - start == 8
        assert index * 60 <= start and end <= (index + 1) * 60  # one in each fifth


def test_a_file_of_two_windows_gets_two_different_ones() -> None:
    spans = pick_windows(noise(12), window_seconds=8, max_windows=5)
    assert len(spans) == 2 and spans[0] != spans[1]


def test_windows_pick_the_loud_part_of_their_slice_and_skip_silence() -> None:
    audio = np.zeros(100 * RATE, dtype=np.float32)
    audio[30 * RATE : 40 * RATE] = noise(10)  # speech only in 30-40 s of the first half

    spans = pick_windows(audio, window_seconds=8, max_windows=2)

    assert len(spans) == 1  # the second half is silent: no vote
    ((start, end),) = seconds(spans)
    assert start >= 30 and end <= 40


def test_silence_gives_no_window() -> None:
    assert pick_windows(np.zeros(20 * RATE, dtype=np.float32)) == []


SPANS = [(i * 8 * RATE, (i + 1) * 8 * RATE) for i in range(5)]


def test_the_winner_has_the_highest_mean_probability() -> None:
    detection = tally(
        SPANS,
        [{"es": 0.6, "pt": 0.4}, {"es": 0.9, "pt": 0.1}, {"es": 0.55, "pt": 0.45}]
        + [{"pt": 0.52, "es": 0.48}] * 2,
    )
    assert detection.language == "es"
    assert detection.probability == pytest.approx((0.6 + 0.9 + 0.55 + 0.48 * 2) / 5, abs=1e-4)
    assert [v.language for v in detection.votes] == ["es", "es", "es", "pt", "pt"]
    assert detection.votes[1] == LanguageVote(start=8.0, end=16.0, language="es", probability=0.9)
    assert len(detection.warnings) == 1  # 2 of 5 windows confidently say pt


def test_one_unsure_dissenting_window_is_not_mixed() -> None:
    detection = tally(SPANS, [{"en": 0.95, "cy": 0.05}] * 4 + [{"cy": 0.4, "en": 0.35}])
    assert detection.language == "en" and detection.warnings == ()


def test_strong_disagreement_is_a_mixed_language_warning() -> None:
    detection = tally(SPANS, [{"en": 0.97, "es": 0.03}] * 3 + [{"es": 0.98, "en": 0.02}] * 2)
    (warning,) = detection.warnings
    assert warning.startswith("mixed languages: of 5 windows, en in 3, es in 2")


def test_old_transcripts_still_parse_and_new_fields_round_trip() -> None:
    old = {"version": 1, "text": "hi", "language": "en", "duration": 1.0, "segments": []}
    transcript = Transcript.from_dict(old)
    assert transcript.language_probability is None and transcript.language_votes == ()

    votes = (LanguageVote(0.0, 8.0, "es", 0.97), LanguageVote(8.0, 16.0, "en", 0.91))
    new = Transcript.from_dict(
        {**old, "language_probability": 0.94, "language_votes": [asdict(v) for v in votes]}
    )
    assert new.language_votes == votes
    data = json.loads(new.to_json())
    assert data["language_votes"][0] == {
        "start": 0.0,
        "end": 8.0,
        "language": "es",
        "probability": 0.97,
    }
    assert Transcript.from_json(new.to_json()) == new
