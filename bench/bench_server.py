"""The server's overhead over its engine, and /health latency while it is saturated.

Builds one ~44 s English speech file from the committed samples (joined by short pauses),
starts the real server (``python -m fastapi_server``, uvicorn on 127.0.0.1, the engine from
the environment; locally ``MODEL=tiny.en`` on the CPU) and loads the same engine in this
process. Then, in one run on that file:

* **overhead**: in alternating rounds, the wall time of ``POST /v1/audio/transcriptions``
  (``response_format=json``: upload, multipart streaming to disk, decode, engine, answer)
  against the in-process ``engine.transcribe`` on the decoded samples with the same options.
  Their ratio is taken within each round, then the median over rounds. Target ≤ 1.05.
  The two processes run one after the other on a shared machine, so other load moves this
  ratio both ways; the line below it is immune to that: the same request's wall time over
  the decode + engine time the server measured inside it (its ``Server-Timing`` header).
* **health under saturation**: CONCURRENCY + 1 transcriptions of the file at once (every
  slot busy, one waiting) while ``GET /health`` is polled every 10 ms on one connection;
  p50 and p99 of the probes answered while every slot was taken. Target p99 ≤ 50 ms.

No AWS call is made (the OpenAI endpoint stores nothing), so no moto server is needed.

    .venv/bin/python bench/bench_server.py [--rounds 5] [--repeat 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.harness import (  # noqa: E402
    concat_wavs,
    new_key,
    server_env,
    start_server,
    wav_seconds,
)
from transcription.inference.audio import decode_audio  # noqa: E402
from transcription.inference.engines import TranscribeOptions, load_engine  # noqa: E402
from transcription.settings import EngineSettings, load  # noqa: E402

SAMPLES = sorted((ROOT / "tests" / "samples").glob("speech-*.wav"))
TARGET_RATIO = 1.05
TARGET_P99_MS = 50.0
PROBE_INTERVAL = 0.01
# A pause before each timed run, so the other process's engine threads (which may spin for
# a moment after their work) are idle when the next run starts.
SETTLE_SECONDS = 1.0
UNUSED_ENDPOINT = "http://127.0.0.1:9"  # the server builds an S3 client but never calls it here


@dataclasses.dataclass(frozen=True)
class HttpRun:
    wall: float  # seconds, as the client saw it
    inside: float  # seconds of decode + engine inside the server (its Server-Timing header)
    text: str


def transcribe_over_http(client: httpx.Client, audio: bytes) -> HttpRun:
    started = time.perf_counter()
    response = client.post(
        "/v1/audio/transcriptions",
        files={"file": ("speech.wav", audio, "audio/wav")},
        data={"model": "whisper-1", "response_format": "json"},
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    timing = re.search(r"transcribe;dur=([\d.]+)", response.headers.get("Server-Timing", ""))
    inside = float(timing.group(1)) / 1000 if timing else float("nan")
    return HttpRun(elapsed, inside, str(response.json()["text"]))


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--repeat", type=int, default=2, help="times the samples repeat in the file"
    )
    args = parser.parse_args()

    settings = load(EngineSettings)
    audio = concat_wavs(SAMPLES, repeat=args.repeat)
    audio_seconds = wav_seconds(audio)
    # What the endpoint passes for response_format=json (no word timings).
    options = TranscribeOptions(word_timestamps=False)

    engine = load_engine(settings)
    samples = decode_audio(audio).samples

    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        key = new_key()
        env = server_env(UNUSED_ENDPOINT, "bench-audio", key, rate_limit_per_minute=0)
        # The server's engine settings are this process's (server_env pins the local ones).
        for field in dataclasses.fields(EngineSettings):
            if field.name.upper() in os.environ:
                env[field.name.upper()] = os.environ[field.name.upper()]
        with (
            start_server(env, Path(tmp) / "server.log") as server,
            server.client(timeout=600) as client,
        ):
            capacity = int(client.get("/health").json()["capacity"])
            transcribe_over_http(client, audio)  # warm-up: first-call allocations
            engine.transcribe(samples, options)

            server_times: list[float] = []
            inside_times: list[float] = []
            engine_times: list[float] = []
            texts: dict[str, str] = {}
            for round_ in range(args.rounds):
                for name in ("server", "engine") if round_ % 2 == 0 else ("engine", "server"):
                    time.sleep(SETTLE_SECONDS)
                    if name == "server":
                        run = transcribe_over_http(client, audio)
                        seconds, texts["server"] = run.wall, run.text
                        server_times.append(seconds)
                        inside_times.append(run.inside)
                    else:
                        started = time.perf_counter()
                        texts["engine"] = engine.transcribe(samples, options).text
                        seconds = time.perf_counter() - started
                        engine_times.append(seconds)
                    print(f"round {round_ + 1} {name:<6} {seconds:6.2f} s", file=sys.stderr)

            latencies = saturated_health(server.url, client, audio, capacity)

    ratio = statistics.median(s / e for s, e in zip(server_times, engine_times, strict=True))
    own = statistics.median(s / i for s, i in zip(server_times, inside_times, strict=True))
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    ok = ratio <= TARGET_RATIO and p99 <= TARGET_P99_MS
    print(
        f"model {settings.model} on {settings.device}, CONCURRENCY={capacity}, {args.rounds} rounds"
    )
    print(f"load average             {os.getloadavg()[0]:8.2f}   (on {os.cpu_count()} cores)")
    print(f"audio seconds            {audio_seconds:8.1f}")
    print(f"engine in process  s     {statistics.median(engine_times):8.2f}   (median)")
    print(f"server over HTTP   s     {statistics.median(server_times):8.2f}   (median)")
    print(f"server / engine          {ratio:8.3f}   (target <= {TARGET_RATIO}; per-round ratio)")
    print(f"server / own engine      {own:8.3f}   (wall / the server's decode+engine, per request)")
    print(f"same text                {texts['server'] == texts['engine']}")
    worst = max(latencies) * 1000
    print(f"/health while saturated  p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    print(
        f"                         ({len(latencies)} probes; target p99 <= {TARGET_P99_MS:.0f} ms)"
    )
    print(f"verdict                  {'ok' if ok else 'BELOW TARGET'}")
    return 0


def saturated_health(url: str, client: httpx.Client, audio: bytes, capacity: int) -> list[float]:
    """/health probe times while every slot transcribes and one more request waits."""
    latencies: list[float] = []
    with ThreadPoolExecutor(capacity + 1) as pool, httpx.Client(base_url=url) as probe:
        load = [pool.submit(transcribe_over_http, client, audio) for _ in range(capacity + 1)]
        while not all(f.done() for f in load):
            started = time.perf_counter()
            state = probe.get("/health").json()
            elapsed = time.perf_counter() - started
            if state["in_flight"] >= capacity:
                latencies.append(elapsed)
            time.sleep(PROBE_INTERVAL)
        for future in load:
            future.result()
    return latencies


if __name__ == "__main__":
    sys.exit(main())
