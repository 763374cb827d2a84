"""The batch worker's overhead over its engine and over SQS, side by side in one run.

Starts its own moto server on 127.0.0.1 (the AWS endpoint), loads the engine the way the
worker does (``EngineSettings`` from the environment; locally ``MODEL=tiny.en`` on the CPU)
and measures, in alternating rounds:

* **engine**: the sum of in-process ``transcribe_audio(engine, path)`` times (decode + engine)
  on N local files, cycling the committed samples: the floor for transcribing them;
* **worker**: the wall time of a :class:`~batch_worker.worker.Worker` draining N jobs for
  the same files from SQS and S3 (receive, transcript check, download, decode, transcribe,
  upload of json/txt/srt/vtt, delete), run with ``max_jobs=N`` so no idle wait is counted.
  Target: worker ÷ engine ≤ 1.05 (prefetch and the upload thread hide the I/O);
* **no-op worker**: jobs per second of the same worker with an engine that returns at once
  on M jobs of a 0.5 s file, against **raw SQS**: M messages received (10 at a time) and
  deleted one by one by a plain loop on the same endpoint, run just before and just after
  the worker. Their ratio says what the worker's S3 round trips and bookkeeping cost per job
  when the engine costs nothing (target ≥ 0.6); the AWS calls a job are printed by name.

    .venv/bin/python bench/bench_worker.py [--files 12] [--noop-jobs 200] [--rounds 3]
        [--prefetch 1] [--only engine|noop]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import wave
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batch_worker.prefetch import RunLimits  # noqa: E402
from batch_worker.settings import WorkerSettings  # noqa: E402
from batch_worker.worker import Worker  # noqa: E402
from local_stack.processes import moto_server  # noqa: E402
from tests.support.aws_calls import AwsCalls  # noqa: E402
from tests.support.jobs import enqueue, upload_job  # noqa: E402
from transcription.aws import make_client  # noqa: E402
from transcription.inference.audio import SAMPLE_RATE  # noqa: E402
from transcription.inference.engines import TranscribeOptions, load_engine  # noqa: E402
from transcription.inference.service import transcribe_audio  # noqa: E402
from transcription.settings import AwsSettings, EngineSettings, StorageSettings, load  # noqa: E402
from transcription.transcript import Transcript  # noqa: E402

SAMPLES = sorted((ROOT / "tests" / "samples").glob("speech-*.wav"))
TARGET_RATIO = 1.05
NOOP_TARGET_RATIO = 0.6


class NoopEngine:
    """Returns an empty transcript at once: what is left is the worker's own I/O."""

    name, model, device = "noop", "noop", "cpu"

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcript:
        duration = round(len(audio) / SAMPLE_RATE, 3)
        return Transcript("", "en", duration, (), self.name, self.model, self.device)


@dataclass(frozen=True)
class Drain:
    wall: float  # seconds from Worker.run to its return
    engine_inside: float  # the transcripts' processing_seconds, summed
    calls_per_job: dict[str, float]  # SQS and S3 API calls the worker made, per job, by name


class Endpoint:
    """moto's clients, and a fresh bucket and queue pair per measurement."""

    def __init__(self, url: str) -> None:
        self.aws = AwsSettings(aws_region="us-east-1", aws_endpoint_url=url)
        self.s3 = make_client("s3", self.aws)
        self.sqs = make_client("sqs", self.aws)

    def fresh(self) -> tuple[str, str, str]:
        tag = uuid.uuid4().hex[:10]
        bucket = f"bench-{tag}"
        self.s3.create_bucket(Bucket=bucket)
        queue = self.sqs.create_queue(QueueName=f"bench-{tag}")["QueueUrl"]
        dlq = self.sqs.create_queue(QueueName=f"bench-{tag}-dlq")["QueueUrl"]
        return bucket, queue, dlq

    def drain_with_worker(self, engine: Any, files: list[Path], prefetch: int) -> Drain:
        """A worker drains one job per file; its own clients count its AWS calls."""
        bucket, queue, dlq = self.fresh()
        for i, path in enumerate(files):
            enqueue(
                self.sqs, queue, upload_job(self.s3, bucket, f"audio/{i:04d}-{path.name}", path)
            )
        settings = WorkerSettings(
            aws=self.aws,
            engine=EngineSettings(),
            storage=StorageSettings(audio_bucket=bucket),
            queue_url=queue,
            dlq_url=dlq,
            wait_time_seconds=1,
            prefetch=prefetch,
        )
        calls = AwsCalls()
        sqs = calls.watch(make_client("sqs", self.aws))
        s3 = calls.watch(make_client("s3", self.aws))
        worker = Worker(settings, engine, sqs=sqs, s3=s3, dlq_url=dlq)
        started = time.perf_counter()
        summary = worker.run(RunLimits(max_jobs=len(files)))
        elapsed = time.perf_counter() - started
        if summary.outcomes != {"transcribed": len(files)}:
            raise SystemExit(f"the worker did not transcribe every job: {summary}")
        inside = 0.0
        for i, path in enumerate(files):
            key = f"transcripts/{i:04d}-{path.name}.json"
            body = json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            inside += body["timings"]["processing_seconds"]
        per_job = {name: n / len(files) for name, n in sorted(Counter(calls.names).items())}
        return Drain(elapsed, inside, per_job)

    def raw_receive_delete(self, count: int) -> float:
        """Seconds for a plain loop to receive (10 at a time) and delete ``count`` messages."""
        _, queue, _ = self.fresh()
        for start in range(0, count, 10):
            entries = [{"Id": str(i), "MessageBody": "{}"} for i in range(min(10, count - start))]
            self.sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        done = 0
        started = time.perf_counter()
        while done < count:
            messages = self.sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            for message in messages:
                self.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            done += len(messages)
        return time.perf_counter() - started


def engine_seconds(engine: Any, files: list[Path]) -> float:
    total = 0.0
    for path in files:
        started = time.perf_counter()
        transcribe_audio(engine, path, TranscribeOptions())
        total += time.perf_counter() - started
    return total


def compare_with_engine(endpoint: Endpoint, engine: Any, files: list[Path], args: Any) -> None:
    audio = sum(_wav_seconds(p) for p in files)
    print(
        f"engine comparison: {len(files)} files, {audio:.1f} s of audio, PREFETCH={args.prefetch}"
    )
    alone_ratios, inside_ratios = [], []
    for round_number in range(1, args.rounds + 1):
        # Alternate which runs first, so a change in the machine's load favours neither.
        if round_number % 2:
            alone = engine_seconds(engine, files)
            drain = endpoint.drain_with_worker(engine, files, args.prefetch)
        else:
            drain = endpoint.drain_with_worker(engine, files, args.prefetch)
            alone = engine_seconds(engine, files)
        alone_ratios.append(drain.wall / alone)
        inside_ratios.append(drain.wall / drain.engine_inside)
        print(
            f"  round {round_number}: engine alone {alone:6.2f} s, worker wall {drain.wall:6.2f} s"
            f" (engine inside it {drain.engine_inside:6.2f} s): wall ÷ engine alone"
            f" {alone_ratios[-1]:.3f}, wall ÷ engine inside {inside_ratios[-1]:.3f}"
        )
    ratio = statistics.median(alone_ratios)
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(
        f"worker wall ÷ in-process engine time: {ratio:.3f}"
        f" (median; target ≤ {TARGET_RATIO}: {verdict})"
    )
    print(
        "worker wall ÷ engine time inside the worker:"
        f" {statistics.median(inside_ratios):.3f} (median)"
    )


def compare_with_sqs(endpoint: Endpoint, short: Path, args: Any) -> None:
    print(f"no-op comparison: {args.noop_jobs} jobs of a 0.5 s file")
    n = args.noop_jobs
    ratios = []
    for round_number in range(1, args.rounds + 1):
        # Raw runs just before and just after the worker, so a change in the machine's load
        # during the round weighs on both sides.
        raw_seconds = endpoint.raw_receive_delete(n)
        drain = endpoint.drain_with_worker(NoopEngine(), [short] * n, args.prefetch)
        raw_seconds += endpoint.raw_receive_delete(n)
        raw = 2 * n / raw_seconds
        worker = n / drain.wall
        ratios.append(worker / raw)
        calls = sum(drain.calls_per_job.values())
        print(
            f"  round {round_number}: raw SQS receive+delete {raw:6.1f} msg/s,"
            f" no-op worker {worker:6.1f} jobs/s ({calls:.1f} AWS calls a job):"
            f" ratio {ratios[-1]:.3f}"
        )
    print(
        "  AWS calls a job (last round): "
        + ", ".join(f"{name} {count:.2f}" for name, count in drain.calls_per_job.items())
    )
    ratio = statistics.median(ratios)
    verdict = "meets" if ratio >= NOOP_TARGET_RATIO else "misses"
    print(
        f"no-op worker jobs/s ÷ raw SQS receive+delete rate: {ratio:.3f}"
        f" (median; target ≥ {NOOP_TARGET_RATIO}: {verdict})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=12, help="jobs in the engine comparison")
    parser.add_argument("--noop-jobs", type=int, default=200, help="jobs in the no-op comparison")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prefetch", type=int, default=1, help="the worker's PREFETCH")
    parser.add_argument(
        "--only",
        choices=("engine", "noop"),
        help="run one comparison (default: both); noop needs no model",
    )
    args = parser.parse_args()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")  # moto accepts any keys

    with tempfile.TemporaryDirectory() as tmp, moto_server(log_path=Path(tmp) / "moto.log") as url:
        endpoint = Endpoint(url)
        if args.only in (None, "engine"):
            engine = load_engine(load(EngineSettings))
            files = [SAMPLES[i % len(SAMPLES)] for i in range(args.files)]
            engine_seconds(engine, files[:1])  # warm up
            compare_with_engine(endpoint, engine, files, args)
        if args.only in (None, "noop"):
            short = Path(tmp) / "half-second.wav"
            _truncate_wav(SAMPLES[0], short, seconds=0.5)
            compare_with_sqs(endpoint, short, args)
    return 0


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as reader:
        return reader.getnframes() / reader.getframerate()


def _truncate_wav(source: Path, out: Path, seconds: float) -> None:
    with wave.open(str(source)) as reader:
        params = reader.getparams()
        frames = reader.readframes(int(seconds * reader.getframerate()))
    with wave.open(str(out), "wb") as writer:
        writer.setparams(params)
        writer.writeframes(frames)


if __name__ == "__main__":
    sys.exit(main())
