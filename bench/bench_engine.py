"""The CLI's code path against faster-whisper called directly, side by side in one run.

Builds a ~60 s English speech file from the committed samples (with short pauses between
them), loads the engine the way the CLI does (``load_engine(EngineSettings)`` from the
environment; locally ``MODEL=tiny.en`` on the CPU) and, separately, a plain
``faster_whisper.WhisperModel`` with the same model, device and compute type. Then, in
strictly alternating rounds, it times

* **cli**: ``transcription.inference.service.transcribe_audio`` (PyAV decode + engine) and
  ``formats.render``, exactly what ``transcription-router transcribe`` runs per file;
* **direct**: ``WhisperModel.transcribe(path, ...)`` with the same options, consuming
  every segment (faster-whisper decodes the file itself).

It prints the audio length, the realtime factor (audio seconds ÷ processing seconds, median
over the rounds) of each, and their ratio (cli RTF ÷ direct RTF, taken within each round,
median over the rounds). Targets on 2 CPU cores with tiny.en: cli ≥ 15× real time, and
cli ÷ direct ≥ 0.95.

``--json bench.json`` also writes the cli realtime factor in the shape ``transcription-router
plan --calibrate`` reads (transcription.planner.figures.write_bench_file), for the model and
``--accelerator`` (default on the CPU: ``cpu-<cores>vcpu``; on a GPU name it, e.g. A10G)::

    .venv/bin/python bench/bench_engine.py [--rounds 5] [--seconds 60]
                                           [--json bench.json] [--accelerator A10G]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from transcription.formats import render
from transcription.inference.audio import SAMPLE_RATE, decode_audio
from transcription.inference.engines import TranscribeOptions, load_engine
from transcription.inference.engines.faster_whisper import FasterWhisperEngine, default_compute_type
from transcription.inference.engines.models import resolve_model
from transcription.inference.service import transcribe_audio
from transcription.planner.figures import BenchRecord, write_bench_file
from transcription.settings import EngineSettings, load

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "tests" / "samples").glob("speech-*.wav"))
PAUSE_SECONDS = 0.6
TARGET_RTF = 15.0
TARGET_RATIO = 0.95


def build_speech_file(path: Path, seconds: float) -> float:
    """Concatenate the samples, with pauses, until ``seconds``; write 16 kHz 16-bit wav."""
    pieces = [decode_audio(p).samples for p in SAMPLES]
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), dtype=np.float32)
    chunks: list[np.ndarray] = []
    total = 0
    while total < seconds * SAMPLE_RATE:
        piece = pieces[len(chunks) // 2 % len(pieces)]
        for chunk in (piece, pause):
            chunks.append(chunk)
            total += chunk.size
    samples = np.concatenate(chunks)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return samples.size / SAMPLE_RATE


def timed(run: Callable[[Path], str], path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    text = run(path)
    return time.perf_counter() - started, text


def default_accelerator(device: str) -> str | None:
    """The planner's name for this machine's CPU (``cpu-2vcpu``); a GPU must be named."""
    return f"cpu-{os.cpu_count()}vcpu" if device == "cpu" else None


def cli_speed(model: str, path: Path, audio_seconds: float, rounds: int) -> float:
    """Realtime factor of the CLI's code path for ``model`` (median of ``rounds``, warm)."""
    settings = dataclasses.replace(load(EngineSettings), model=model)
    engine = load_engine(settings)
    options = TranscribeOptions()

    def cli(audio: Path) -> str:
        return render(transcribe_audio(engine, audio, options, settings.max_audio_seconds), "txt")

    cli(SAMPLES[0])  # warm-up
    return audio_seconds / statistics.median(timed(cli, path)[0] for _ in range(rounds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path, default=None, help="write a bench file for plan")
    parser.add_argument("--accelerator", default=None, help="planner name: cpu-2vcpu, A10G…")
    args = parser.parse_args()

    settings = load(EngineSettings)
    if settings.engine != "faster-whisper":
        sys.exit(f"this benchmark compares against faster-whisper; ENGINE={settings.engine}")
    accelerator = args.accelerator or default_accelerator(settings.device)
    if args.json and accelerator is None:
        sys.exit("--json on a GPU needs --accelerator (the planner's name: T4, A10G, L4, L40S)")
    from faster_whisper import WhisperModel

    engine = load_engine(settings)
    assert isinstance(engine, FasterWhisperEngine)
    direct_model = WhisperModel(
        resolve_model(settings.model),
        device=settings.device,
        compute_type=settings.compute_type or default_compute_type(settings.device),
        cpu_threads=settings.cpu_threads,
    )
    options = TranscribeOptions()  # what the CLI passes by default

    def cli(path: Path) -> str:
        transcript = transcribe_audio(engine, path, options, settings.max_audio_seconds)
        return render(transcript, "txt")

    def direct(path: Path) -> str:
        segments, _ = direct_model.transcribe(
            str(path),
            language=options.language,
            task=options.task,
            beam_size=settings.beam_size,
            word_timestamps=options.word_timestamps,
            vad_filter=True,
            initial_prompt=options.prompt,
        )
        return "\n".join(s.text.strip() for s in segments) + "\n"

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        path = Path(tmp) / "speech-60s.wav"
        audio_seconds = build_speech_file(path, args.seconds)
        for run in (cli, direct):  # warm-up: first-call allocations, page cache
            run(SAMPLES[0])
        times: dict[str, list[float]] = {"cli": [], "direct": []}
        texts: dict[str, str] = {}
        # Strictly alternating, so every timed run follows a run of the other model: neither
        # finds its weights warm in the CPU caches from a run of its own just before.
        for round_ in range(args.rounds):
            for name, run in (("cli", cli), ("direct", direct)):
                seconds, texts[name] = timed(run, path)
                times[name].append(seconds)
                print(f"round {round_ + 1} {name:<6} {seconds:6.2f} s", file=sys.stderr)

    rtf = {name: audio_seconds / statistics.median(t) for name, t in times.items()}
    # The ratio is taken within each round (the two runs share the machine's load at the
    # time), then the median over rounds: steadier than a ratio of medians on busy cores.
    ratio = statistics.median(d / c for c, d in zip(times["cli"], times["direct"], strict=True))
    verdict = "ok" if rtf["cli"] >= TARGET_RTF and ratio >= TARGET_RATIO else "BELOW TARGET"
    print(f"model {settings.model} on {settings.device}, {args.rounds} rounds, median")
    print(f"load average         {os.getloadavg()[0]:8.2f}   (on {os.cpu_count()} cores)")
    print(f"audio seconds        {audio_seconds:8.1f}")
    print(f"cli    realtime x    {rtf['cli']:8.1f}   (target >= {TARGET_RTF:.0f})")
    print(f"direct realtime x    {rtf['direct']:8.1f}")
    print(f"cli / direct         {ratio:8.3f}   (target >= {TARGET_RATIO}; per-round ratio)")
    print(f"same text            {texts['cli'] == texts['direct']}")
    print(f"verdict              {verdict}")
    if args.json and accelerator:
        record = BenchRecord(settings.model, accelerator, rtf["cli"], audio_seconds, args.rounds)
        write_bench_file(args.json, [record])
        print(f"bench file           {args.json} ({settings.model} on {accelerator})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
