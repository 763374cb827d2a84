"""The offline CPU diarizer: Resemblyzer's voice encoder over sliding windows, then clustering.

Resemblyzer (PyPI ``resemblyzer``, optional extra ``diarize``) ships its pretrained weights
inside the package, so nothing is downloaded. Steps, each in bounded memory:

1. voice activity per 30 ms frame (WebRTC VAD) → speech regions, short pauses bridged;
2. a 256-float embedding per 1.6 s speech window every 0.75 s, computed a chunk at a time
   (:mod:`.windows`): one hour of audio is 4,800 embeddings, 5 MB;
3. clustering with the speaker count given or estimated (:mod:`.clustering`), smoothed;
4. each speech region cut where the nearest window's speaker changes; turns shorter than
   ``MIN_TURN_SECONDS`` join a neighbour, and neighbours of one speaker merge.
"""

from __future__ import annotations

import itertools
import logging
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from transcription.diarization import DiarizeOptions, Turn
from transcription.diarization.exceptions import DiarizationFailed
from transcription.exceptions import SettingsError
from transcription.inference.diarization.clustering import cluster_windows, smooth_labels
from transcription.inference.diarization.windows import (
    SAMPLE_RATE,
    VAD_FRAME,
    WINDOW_SECONDS,
    MelFrames,
    speech_frames,
    speech_windows,
)

__all__ = ["ResemblyzerDiarizer"]

log = logging.getLogger(__name__)

MAX_PAUSE_SECONDS = 0.3  # a pause shorter than this stays inside a turn
MIN_REGION_SECONDS = 0.2  # speech shorter than this is a click, not a turn
MIN_TURN_SECONDS = 1.0
ENCODER_THREADS = 1


@dataclass
class ResemblyzerDiarizer:
    encoder: Any  # resemblyzer.VoiceEncoder on the CPU
    mel: MelFrames = field(default_factory=MelFrames)
    name: str = "resemblyzer"
    # The encoder is a torch module: one forward pass at a time keeps memory predictable.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls) -> ResemblyzerDiarizer:
        """Load the voice encoder from the weights inside the package (CPU, no download)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # webrtcvad imports the deprecated pkg_resources
                from resemblyzer import VoiceEncoder
        except ImportError as error:
            raise SettingsError(
                f"diarization needs the diarize extra (pip install '.[diarize]'): {error}"
            ) from None
        import torch

        # One intra-op thread: the encoder's LSTM over a chunk of 80 windows took 0.8 s on one
        # thread and 9 s on two when the two cores were shared with other work (OpenMP
        # threads waiting on each other); the transcription engine has the cores anyway.
        torch.set_num_threads(ENCODER_THREADS)
        return cls(encoder=VoiceEncoder("cpu", verbose=False))

    def diarize(
        self,
        audio: np.ndarray,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> list[Turn]:
        low, high = DiarizeOptions(num_speakers, min_speakers, max_speakers).speaker_range()
        speech = speech_frames(audio)
        regions = _regions(speech)
        if not regions:
            return []
        with self._lock:
            try:
                starts, embeddings = self._embed(audio, speech)
            except RuntimeError as error:  # torch's errors (out of memory among them)
                raise DiarizationFailed(f"resemblyzer diarization failed: {error}") from error
        if len(starts) == 0:  # speech, but too little for one window: one speaker
            return _merged([Turn(a, b, "0") for a, b in regions])
        labels = smooth_labels(cluster_windows(embeddings, low, high))
        centers = starts + WINDOW_SECONDS / 2
        log.info("diarization: %d windows, %d speakers", len(starts), len(set(labels.tolist())))
        return _merged(_cut(regions, centers, labels))

    def _embed(self, audio: np.ndarray, speech: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        starts: list[np.ndarray] = []
        embeddings: list[np.ndarray] = []
        with torch.no_grad():
            for chunk in speech_windows(audio, speech, self.mel):
                batch = torch.from_numpy(chunk.mels).to(self.encoder.device)
                embeddings.append(self.encoder(batch).cpu().numpy())
                starts.append(chunk.starts)
        if not starts:
            return np.zeros(0), np.zeros((0, 256), dtype=np.float32)
        return np.concatenate(starts), np.concatenate(embeddings)


def _regions(speech: np.ndarray) -> list[tuple[float, float]]:
    """Speech regions in seconds from VAD frames, pauses under MAX_PAUSE_SECONDS bridged."""
    frame = VAD_FRAME / SAMPLE_RATE
    edges = np.flatnonzero(np.diff(np.concatenate([[0], speech.astype(np.int8), [0]])))
    regions: list[tuple[float, float]] = []
    for start, end in zip(edges[::2] * frame, edges[1::2] * frame, strict=True):
        if regions and start - regions[-1][1] < MAX_PAUSE_SECONDS:
            regions[-1] = (regions[-1][0], float(end))
        else:
            regions.append((float(start), float(end)))
    return [(a, b) for a, b in regions if b - a >= MIN_REGION_SECONDS]


def _cut(regions: list[tuple[float, float]], centers: np.ndarray, labels: np.ndarray) -> list[Turn]:
    """Each region split where the speaker of the nearest window centre changes."""
    changes = np.flatnonzero(labels[1:] != labels[:-1])
    bounds = (centers[changes] + centers[changes + 1]) / 2  # where label i+1 takes over
    run_labels = np.concatenate([labels[:1], labels[changes + 1]])
    turns: list[Turn] = []
    for start, end in regions:
        first = int(np.searchsorted(bounds, start, side="right"))
        last = int(np.searchsorted(bounds, end, side="left"))
        cuts = [start, *bounds[first:last].tolist(), end]
        for i, (a, b) in enumerate(itertools.pairwise(cuts)):
            turns.append(Turn(round(a, 3), round(b, 3), str(run_labels[first + i])))
    return turns


def _merged(turns: list[Turn]) -> list[Turn]:
    """Short turns join their longer adjacent neighbour; one speaker's neighbours merge.

    Only a neighbour within MAX_PAUSE_SECONDS takes a short turn over (so each step joins
    two turns and the loop ends); a short turn alone between long pauses is kept.
    """
    turns = _join_same_speaker(turns)
    while True:
        takeovers: list[tuple[int, int]] = []
        for i, turn in enumerate(turns):
            into = _adjacent(turns, i) if turn.duration < MIN_TURN_SECONDS else None
            if into is not None:
                takeovers.append((i, into))
        if not takeovers:
            return turns
        i, into = min(takeovers, key=lambda pair: turns[pair[0]].duration)
        turns[i] = Turn(turns[i].start, turns[i].end, turns[into].speaker)
        turns = _join_same_speaker(turns)


def _adjacent(turns: list[Turn], i: int) -> int | None:
    """The longer neighbour of turn ``i`` that touches it (gap under MAX_PAUSE_SECONDS)."""
    near = [
        j
        for j in (i - 1, i + 1)
        if 0 <= j < len(turns)
        and max(turns[j].start - turns[i].end, turns[i].start - turns[j].end) < MAX_PAUSE_SECONDS
    ]
    return max(near, key=lambda j: turns[j].duration) if near else None


def _join_same_speaker(turns: list[Turn]) -> list[Turn]:
    out: list[Turn] = []
    for turn in turns:
        if out and out[-1].speaker == turn.speaker and turn.start - out[-1].end < MAX_PAUSE_SECONDS:
            out[-1] = Turn(out[-1].start, turn.end, turn.speaker)
        else:
            out.append(turn)
    return out
