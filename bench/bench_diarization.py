"""Diarization cost: time against transcription on a 2-minute file, memory on a 30-minute one.

Makes a two-speaker conversation with espeak-ng (tests/support/conversation.py, in a temp
folder), loads the engine the way the services do (``load_engine(EngineSettings)``: tiny.en,
CPU int8 here) and the Resemblyzer diarizer, then prints:

* **ratio**: diarization time ÷ transcription time on the same 2-minute samples
  (``diarizer.diarize`` against ``engine.transcribe`` with the default options), strictly
  alternating rounds after one warm-up of each, the ratio taken within each round, median
  over the rounds. Target ≤ 0.3 on CPU.
* **memory** on a 30-minute file (the conversation repeated): the peak of Python and numpy
  allocations during ``diarize`` (tracemalloc) and how far the process's resident-set
  high-water mark rose (``resource.getrusage``; it also sees torch's buffers). The audio
  itself (115 MB of float32) is allocated before either is measured.

    .venv/bin/python bench/bench_diarization.py [--rounds 3] [--long-minutes 30]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.conversation import converse, diarization_error_rate  # noqa: E402
from transcription.inference.audio import SAMPLE_RATE  # noqa: E402
from transcription.inference.diarization.resemblyzer_diarizer import (  # noqa: E402
    ResemblyzerDiarizer,
)
from transcription.inference.engines import TranscribeOptions, load_engine  # noqa: E402
from transcription.settings import EngineSettings, load  # noqa: E402

TARGET_RATIO = 0.3
SHORT_SECONDS = 120


def rss_high_water_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_memory(diarizer: ResemblyzerDiarizer, samples: np.ndarray) -> None:
    before = rss_high_water_mb()
    tracemalloc.start()
    started = time.perf_counter()
    turns = diarizer.diarize(samples)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = rss_high_water_mb()
    minutes = len(samples) / SAMPLE_RATE / 60
    print(
        f"memory   {minutes:.0f}-minute file: tracemalloc peak {peak / 2**20:.1f} MB during "
        f"diarize; RSS high-water {before:.0f} → {after:.0f} MB (+{after - before:.0f} MB); "
        f"{seconds:.1f} s under tracemalloc, {len({t.speaker for t in turns})} speakers, "
        f"{len(turns)} turns"
    )


def measure_ratio(diarizer: ResemblyzerDiarizer, samples: np.ndarray, rounds: int) -> None:
    engine = load_engine(load(EngineSettings))
    options = TranscribeOptions(language="en")
    engine.transcribe(samples, options)  # warm-up
    diarizer.diarize(samples)
    ratios, pairs = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        engine.transcribe(samples, options)
        transcribed = time.perf_counter() - started
        started = time.perf_counter()
        diarizer.diarize(samples)
        diarized = time.perf_counter() - started
        ratios.append(diarized / transcribed)
        pairs.append(f"{diarized:.1f}/{transcribed:.1f} s")
    ratio = statistics.median(ratios)
    verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
    print(
        f"ratio    diarization ÷ transcription ({engine.model}) on {SHORT_SECONDS} s: "
        f"{ratio:.3f} (target ≤ {TARGET_RATIO}: {verdict}; rounds {', '.join(pairs)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--long-minutes", type=float, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        talk = converse(Path(folder), speakers=2, turns=10)
    diarizer = ResemblyzerDiarizer.load()
    print(
        f"accuracy {talk.duration:.0f} s two-speaker conversation: "
        f"DER {diarization_error_rate(talk, diarizer.diarize(talk.samples)):.3f}"
    )
    repeats = int(np.ceil(args.long_minutes * 60 / talk.duration))
    measure_memory(
        diarizer, np.tile(talk.samples, repeats)[: int(args.long_minutes * 60 * SAMPLE_RATE)]
    )
    short = np.tile(talk.samples, int(np.ceil(SHORT_SECONDS / talk.duration)))
    measure_ratio(diarizer, short[: SHORT_SECONDS * SAMPLE_RATE], args.rounds)


if __name__ == "__main__":
    main()
