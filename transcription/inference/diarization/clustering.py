"""Speaker labels for window embeddings: how many speakers, and who spoke in each window.

Agglomerative clustering (average linkage on cosine distance) builds one tree; each speaker
count in the allowed range is a cut of it. Without a given count the cut with the best
silhouette wins (among cuts whose every cluster survives smoothing: windows that straddle
two speakers' turns make a cluster of their own, one window at a time), and a file is taken
as one speaker when no split scores ``MIN_SILHOUETTE`` or the best split into two leaves
clusters whose centroids are as alike as one voice's windows are (``SAME_VOICE``). A last
pass gives each window to its nearest centroid, then a mode filter removes one-window flips.

At most ``MAX_TREE_WINDOWS`` windows go into the tree (its distance matrix is quadratic):
beyond that an evenly spread subset builds it and every window is labelled by the nearest
centroid, so a one-hour file (4,800 windows) clusters in a few megabytes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cluster_windows", "smooth_labels"]

MAX_TREE_WINDOWS = 1500
# Cosine similarity of two speakers' centroids above which they are taken as one voice, and
# the silhouette below which a split into two is no better than chance.
SAME_VOICE = 0.80
MIN_SILHOUETTE = 0.25
SMOOTH_WINDOWS = 3  # the mode filter's width (odd)


def cluster_windows(embeddings: np.ndarray, low: int, high: int) -> np.ndarray:
    """A label 0..k-1 per row of ``embeddings`` (L2-normalized), k chosen in ``low..high``."""
    count = len(embeddings)
    if count == 0:
        return np.zeros(0, dtype=int)
    high = min(high, count)
    low = min(low, high)
    if high <= 1:
        return np.zeros(count, dtype=int)
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import silhouette_score

    sample = _spread(count, MAX_TREE_WINDOWS)
    points = embeddings[sample]
    tree = linkage(points, method="average", metric="cosine")
    raw = {k: fcluster(tree, k, criterion="maxclust") - 1 for k in range(max(low, 2), high + 1)}
    # A speaker holds two windows in a row somewhere; a cluster that smoothing wipes out is
    # made of windows that straddle two speakers' turns, not of a voice of its own.
    cuts = {k: c for k, c in raw.items() if len(set(smooth_labels(c).tolist())) == k}
    if not cuts and low >= 2:  # the caller's count stands, smoothing or not
        cuts = {low: raw[low]}
    if not cuts:
        return np.zeros(count, dtype=int)
    best = min(cuts)
    scorable = {k: c for k, c in cuts.items() if k < len(points)}  # silhouette needs k < n
    if len(cuts) > 1 or low <= 1:
        scores = {
            k: float(silhouette_score(points, c, metric="cosine")) for k, c in scorable.items()
        }
        if low <= 1 and _one_voice(points, cuts, scores):
            return np.zeros(count, dtype=int)
        best = max(scores, key=lambda k: scores[k], default=best)
    centroids = _centroids(points, cuts[best], best)
    return np.argmax(embeddings @ centroids.T, axis=1)


def smooth_labels(labels: np.ndarray) -> np.ndarray:
    """Mode filter of width SMOOTH_WINDOWS: a one-window flip takes its neighbours' label."""
    if len(labels) < SMOOTH_WINDOWS:
        return labels
    half = SMOOTH_WINDOWS // 2
    padded = np.pad(labels, half, mode="edge")
    out = labels.copy()
    for i in range(len(labels)):
        values, counts = np.unique(padded[i : i + SMOOTH_WINDOWS], return_counts=True)
        if counts.max() > 1:
            out[i] = values[np.argmax(counts)]
    return out


def _one_voice(points: np.ndarray, cuts: dict[int, np.ndarray], scores: dict[int, float]) -> bool:
    """True when no split is convincing: one speaker."""
    if max(scores.values(), default=0.0) < MIN_SILHOUETTE:
        return True
    k = min(cuts)
    centroids = _centroids(points, cuts[k], k)
    similarity = centroids @ centroids.T
    return bool(similarity[np.triu_indices(k, 1)].min() > SAME_VOICE)


def _centroids(points: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """The normalized mean of each cluster present (a cut may hold fewer than ``k``)."""
    centroids = np.stack(
        [points[labels == i].mean(axis=0) for i in range(k) if (labels == i).any()]
    )
    return centroids / np.linalg.norm(centroids, axis=1, keepdims=True)


def _spread(count: int, limit: int) -> np.ndarray:
    """At most ``limit`` indexes spread evenly over ``range(count)``."""
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(int))
