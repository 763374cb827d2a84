"""Whole-file language detection against first-30 s detection, and base against tiny.en.

Makes a 5-minute English speech file with espeak-ng (in a temp folder), loads the
multilingual ``base`` and the English-only ``tiny.en`` engines the way the services do
(``load_engine(EngineSettings(model=…))``, CPU int8 here), then prints two ratios, each
measured side by side in one run:

* **detection**: the engine's whole-file detection (``WindowedLanguageDetector.detect``:
  five 8 s windows spread over the file, one batch) ÷ faster-whisper's own detection from
  the first 30 s (``WhisperModel.detect_language``), both with base on the decoded samples;
  strictly alternating rounds, the ratio taken within each round, median over the rounds.
  Target ≤ 1.3.
* **realtime factor**: base's realtime factor ÷ tiny.en's (audio seconds ÷ processing
  seconds of ``engine.transcribe`` with the default options: detection, VAD, word
  timestamps), alternating, median over the rounds. Informational: what moving a box
  from tiny.en to base costs.

    .venv/bin/python bench/bench_languages.py [--rounds 5] [--rtf-rounds 1] [--seconds 300]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from transcription.inference.audio import SAMPLE_RATE, decode_audio
from transcription.inference.engines import TranscribeOptions, load_engine
from transcription.inference.engines.faster_whisper import FasterWhisperEngine
from transcription.inference.engines.language_detection import WindowedLanguageDetector
from transcription.settings import EngineSettings, load

TARGET_DETECTION_RATIO = 1.3
TEXT = (
    "Good morning. Today we will talk about the weather in the city. Tomorrow it will rain "
    "in the afternoon, and it will be cold at night, so bring a warm coat. On Thursday the "
    "sun comes back, and the weekend will be dry and bright. Please call the office before "
    "noon if you want to book a table for the team dinner on Friday. Every upload is "
    "transcribed exactly once, and the transcript is written next to the audio. When the "
    "server is busy, the router puts the job on the queue, and the batch worker finishes it "
    "later. "
)


def build_speech(folder: Path, seconds: float) -> np.ndarray:
    """English speech from espeak-ng, repeated with one-second pauses up to ``seconds``."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng is not installed (apt-get install espeak-ng)")
    path = folder / "speech.wav"
    subprocess.run([espeak, "-v", "en", "-w", str(path), TEXT], check=True, timeout=60)
    piece = np.concatenate([decode_audio(path).samples, np.zeros(SAMPLE_RATE, np.float32)])
    repeats = int(np.ceil(seconds * SAMPLE_RATE / piece.size))
    return np.tile(piece, repeats)[: int(seconds * SAMPLE_RATE)]


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def engine_for(model: str) -> FasterWhisperEngine:
    settings = load(EngineSettings)
    engine = load_engine(EngineSettings(**{**vars(settings), "model": model}))
    if not isinstance(engine, FasterWhisperEngine):
        sys.exit(f"this benchmark needs ENGINE=faster-whisper, not {settings.engine}")
    return engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="detection rounds")
    parser.add_argument("--rtf-rounds", type=int, default=1, help="transcription rounds")
    parser.add_argument("--seconds", type=float, default=300.0)
    args = parser.parse_args()

    base, tiny = engine_for("base"), engine_for("tiny.en")
    detector = WindowedLanguageDetector(base.whisper)
    with tempfile.TemporaryDirectory(prefix="bench-languages-") as tmp:
        audio = build_speech(Path(tmp), args.seconds)
    audio_seconds = audio.size / SAMPLE_RATE

    def whole_file() -> str:
        detection = detector.detect(audio)
        return detection.language if detection else "-"

    def first_30_seconds() -> str:
        language, _, _ = base.whisper.detect_language(audio)
        return str(language)

    for run in (whole_file, first_30_seconds):  # warm-up
        run()
    ratios, detected = [], {}
    for round_ in range(args.rounds):
        whole, detected["whole file"] = timed(whole_file)
        first, detected["first 30 s"] = timed(first_30_seconds)
        ratios.append(whole / first)
        print(f"round {round_ + 1} detection: whole {whole:.3f} s, first 30 s {first:.3f} s",
              file=sys.stderr)  # fmt: skip

    options = TranscribeOptions()
    transcribe_seconds: dict[str, list[float]] = {"base": [], "tiny.en": []}
    for round_ in range(args.rtf_rounds):
        for name, engine in (("base", base), ("tiny.en", tiny)):
            seconds, _ = timed(lambda engine=engine: engine.transcribe(audio, options))
            transcribe_seconds[name].append(seconds)
            print(f"round {round_ + 1} transcribe {name}: {seconds:.1f} s", file=sys.stderr)
    rtf = {n: audio_seconds / statistics.median(t) for n, t in transcribe_seconds.items()}

    ratio = statistics.median(ratios)
    verdict = "ok" if ratio <= TARGET_DETECTION_RATIO else "ABOVE TARGET"
    print(f"audio seconds               {audio_seconds:8.1f}   (espeak-ng English)")
    print(f"load average                {os.getloadavg()[0]:8.2f}   (on {os.cpu_count()} cores)")
    print(f"detected                    {detected['whole file']} (whole file), "
          f"{detected['first 30 s']} (first 30 s)")  # fmt: skip
    print(f"whole-file / first-30 s     {ratio:8.3f}   (target <= {TARGET_DETECTION_RATIO}; "
          f"median of {args.rounds} per-round ratios)")  # fmt: skip
    print(f"base realtime x             {rtf['base']:8.1f}")
    print(f"tiny.en realtime x          {rtf['tiny.en']:8.1f}")
    print(f"base / tiny.en realtime     {rtf['base'] / rtf['tiny.en']:8.3f}")
    print(f"verdict                     {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
