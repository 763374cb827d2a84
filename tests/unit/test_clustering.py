"""Speaker counts from window embeddings: estimated, bounded, and one voice kept whole."""

from __future__ import annotations

import numpy as np
import pytest

from transcription.inference.diarization.clustering import cluster_windows, smooth_labels


def voices(*runs: tuple[int, int], spread: float = 0.15, seed: int = 7) -> np.ndarray:
    """Embeddings in runs of (voice, windows): each voice a random direction plus noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 256))
    rows = [centres[v] + spread * np.linalg.norm(centres[v]) * rng.normal(size=(n, 256)) / 16
            for v, n in runs]  # fmt: skip
    points = np.concatenate(rows)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def test_the_count_is_estimated_and_bounds_are_kept() -> None:
    e = voices((0, 8), (1, 6), (2, 7), (0, 5), (1, 6), (2, 8))
    assert len(set(cluster_windows(e, 1, 8))) == 3
    assert len(set(cluster_windows(e, 1, 2))) == 2
    assert len(set(cluster_windows(e, 2, 2))) == 2


def test_one_voice_stays_one_speaker() -> None:
    e = voices((0, 40), spread=0.6)
    assert set(cluster_windows(e, 1, 8).tolist()) == {0}


@pytest.mark.parametrize("count", [0, 1, 2, 3])
def test_few_windows_do_not_break_the_estimate(count: int) -> None:
    e = voices((0, count), (1, count))[:count] if count else np.zeros((0, 256))
    assert len(cluster_windows(e, 1, 8)) == count
    assert len(cluster_windows(e, 3, 3)) == count


def test_smoothing_removes_one_window_flips_only() -> None:
    labels = np.array([0, 0, 1, 0, 0, 1, 1, 1, 0, 1])
    assert smooth_labels(labels).tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
