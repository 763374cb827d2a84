"""Chaos: uploads and re-uploads while the server, pump and worker are killed with kill -9.

The real ``python -m local_stack up`` runs the whole stack (moto, the deploy scripts, the
server with tiny.en, the event pump, the batch worker) and supervises it: every service the
test kills is started again by the stack's own supervisor, never by this test, which only
waits to see the new process id in ``stack.json`` before it kills that service again.

When everything has settled (each key's transcript is current and the events and jobs queues
hold nothing, visible, in flight or delayed), every key is checked:

- lost: the latest audio version has no transcript at all;
- stale: the transcript's ``source.etag`` is not the audio's current ETag;
- duplicated: the bucket is versioned (turned on by this test, before the first upload), so
  every write of ``transcripts/<key>.json`` is kept as an S3 object version. Each write
  belongs to one transcription run, told apart by its ``route`` and ``timings`` (when that
  engine run started and finished; a write without a start time is a run of its own). A
  second run for the same ``source.etag`` is a duplicate: the same audio version transcribed
  twice into the final object. Writing one run's transcript again (e.g. a repair) is a write,
  not a duplicate. Every audio version of a key has different bytes (another sample, another
  length), so its ETag names it.

The report line is printed; 0 lost, 0 stale and 0 duplicated are required. Then `make down`
stops the supervised stack and `make up` exits 0.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
import wave
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from local_stack.settings import LocalSettings
from local_stack.stack import Stack, read_config
from tests.support.media import wav_bytes
from tests.support.processes import free_port, local_stack_up, spawn

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

KEYS = 40
ROUNDS = 9  # one kill per round, 1 s after the round's uploads: server, worker, pump, ...
NEW_KEYS_PER_ROUND = 5  # rounds 0..7 upload the 40 keys
# Re-uploads (new audio) of the first key of the round before (its first version is still
# in the works) and of the second key of three rounds before (usually transcribed already):
# 8 + 6 more versions.
REUPLOAD_ROUNDS_BACK = {1: 0, 3: 1}  # rounds back → which key of that round
VICTIMS = ("server", "worker", "pump")
START_TIMEOUT = 240.0
SETTLE_TIMEOUT = 200.0

# The stack's test configuration: what lets killed components' work come back quickly.
CHAOS_ENV = {
    # The worker receives with a 20 s visibility, renewed every 5 s: a killed worker's jobs
    # are received again within 20 s.
    "VISIBILITY_TIMEOUT": "20",
    "HEARTBEAT_SECONDS": "5",
    "RETRY_BACKOFF_SECONDS": "2",
    # The pump's stand-in Lambda has 20 s; it receives events with that + 30 s visibility,
    # so a killed pump's events are handed out again within 50 s.
    "LAMBDA_TIMEOUT_SECONDS": "20",
    "PUMP_WAIT_SECONDS": "2",
    # A direct call cut by a dying server is queued without the usual 60 s delay.
    "TIMEOUT_QUEUE_DELAY_SECONDS": "2",
    # The stack's own supervision restarts a dead service after 0.5 s (1 s, 2 s in a row).
    "RESTART_BACKOFF_SECONDS": "0.5",
    "RESTART_BACKOFF_MAX_SECONDS": "4",
}


@dataclass
class Audio:
    """Short, distinct sample audio: ``clip(n)`` differs in bytes for every ``n``."""

    samples: dict[str, Path]
    pcm: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, path in self.samples.items():
            with wave.open(io.BytesIO(path.read_bytes())) as w:
                frames = w.readframes(w.getnframes())
            self.pcm[name] = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768

    def clip(self, n: int) -> bytes:
        """Version ``n``: a sample (by turns), cut to 2 s + 20 ms·n, a little quieter each time."""
        names = sorted(self.pcm)
        pcm = self.pcm[names[n % len(names)]]
        length = int(16_000 * (2.0 + 0.02 * n))
        return wav_bytes(pcm[:length] * (0.9 - 0.002 * n))


@dataclass
class UpProcess:
    """``python -m local_stack up`` and what it leaves in its LOCAL_DIR."""

    stack: Stack  # paths and clients only: the process below runs it
    process: Any
    output: Path
    env: dict[str, str]

    def said(self) -> str:
        return self.output.read_text(errors="replace")

    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.stack.state_file.read_text()))

    def config(self) -> dict[str, str]:
        return read_config(self.stack.config_file)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    base = tmp_path_factory.mktemp("chaos")
    settings = LocalSettings(
        moto_port=free_port(),
        port=free_port(),
        jobs_api_port=free_port(),
        local_dir=str(base / "local"),
    )
    env = {
        **CHAOS_ENV,
        "MOTO_PORT": str(settings.moto_port),
        "PORT": str(settings.port),
        "JOBS_API_PORT": str(settings.jobs_api_port),
        "LOCAL_DIR": settings.local_dir,
    }
    output = base / "up.out"
    with local_stack_up(env, output, START_TIMEOUT) as process:
        yield UpProcess(Stack(settings, say=lambda _: None), process, output, env)


class Chaos:
    def __init__(self, up: UpProcess, audio: Audio) -> None:
        self.up = up
        self.audio = audio
        self.s3 = up.stack.client("s3")
        self.sqs = up.stack.client("sqs")
        config = up.config()
        self.bucket = config["AUDIO_BUCKET"]
        self.input_prefix = config.get("INPUT_PREFIX") or "audio/"
        self.output_prefix = config.get("OUTPUT_PREFIX") or "transcripts/"
        self.queues = [config["EVENTS_QUEUE_URL"], config["QUEUE_URL"]]
        self.etags: dict[str, list[str]] = {}  # relative key → ETag of each version uploaded
        self.kills: Counter[str] = Counter()
        self.killed_pids: dict[str, int] = {}
        self.versions = 0

    # --- doing ---------------------------------------------------------------------------
    def upload(self, relative: str) -> None:
        body = self.audio.clip(self.versions)
        self.versions += 1
        response = self.s3.put_object(
            Bucket=self.bucket, Key=self.input_prefix + relative, Body=body
        )
        self.etags.setdefault(relative, []).append(str(response["ETag"]).strip('"'))

    def kill(self, name: str) -> None:
        """kill -9 ``name`` once the stack has started it again after the previous kill."""
        deadline = time.monotonic() + 60
        while True:
            pid = int(self.up.state()["pids"][name])
            if pid != self.killed_pids.get(name) and alive(pid):
                break
            assert time.monotonic() < deadline, f"{name} was not restarted:\n{self.up.said()}"
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        self.killed_pids[name] = pid
        self.kills[name] += 1

    # --- checking ------------------------------------------------------------------------
    def transcript(self, relative: str) -> dict[str, Any] | None:
        key = f"{self.output_prefix}{relative}.json"
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        return dict(json.loads(body))

    def current(self, relative: str) -> bool:
        transcript = self.transcript(relative)
        return transcript is not None and transcript["source"]["etag"] == self.etags[relative][-1]

    def queued(self) -> int:
        """Messages in the events and jobs queues: visible, in flight or delayed."""
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        total = 0
        for url in self.queues:
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
            total += sum(int(attributes["Attributes"].get(n, 0)) for n in names)
        return total

    def settle(self, timeout: float) -> float:
        """Wait until every key is current and the queues are empty; returns the seconds."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            assert self.up.process.poll() is None, f"make up exited:\n{self.up.said()}"
            if self.queued() == 0 and all(self.current(relative) for relative in self.etags):
                return time.monotonic() - started
            time.sleep(2)
        return time.monotonic() - started

    def transcript_runs(self, relative: str) -> tuple[int, Counter[str]]:
        """Writes of the key's transcript object, and transcription runs per source ETag."""
        key = f"{self.output_prefix}{relative}.json"
        writes, runs = 0, set()
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
            for version in page.get("Versions", []):
                if version["Key"] != key:
                    continue
                body = self.s3.get_object(
                    Bucket=self.bucket, Key=key, VersionId=version["VersionId"]
                )["Body"].read()
                transcript = json.loads(body)
                writes += 1
                timings = transcript.get("timings") or {}
                # No start time to tell runs apart: every write counts as a run of its own.
                run = (
                    json.dumps([transcript.get("route"), timings])
                    if timings.get("started_at")
                    else version["VersionId"]
                )
                runs.add((transcript["source"]["etag"], run))
        return writes, Counter(etag for etag, _ in runs)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_kill_9_of_server_worker_and_pump_loses_nothing_then_make_down_stops_all(
    up: UpProcess, samples: dict[str, Path]
) -> None:
    chaos = Chaos(up, Audio(samples))
    chaos.s3.put_bucket_versioning(
        Bucket=chaos.bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    keys = [f"chaos/{i:02d}.wav" for i in range(KEYS)]
    started = time.monotonic()
    for round_ in range(ROUNDS):
        for relative in keys[round_ * NEW_KEYS_PER_ROUND : (round_ + 1) * NEW_KEYS_PER_ROUND]:
            chaos.upload(relative)
        for back, index in REUPLOAD_ROUNDS_BACK.items():
            if round_ >= back:
                chaos.upload(keys[(round_ - back) * NEW_KEYS_PER_ROUND + index])
        time.sleep(1.0)  # the uploads' events are with the pump, their work on its way
        chaos.kill(VICTIMS[round_ % len(VICTIMS)])
        time.sleep(4.0)
    chaos_seconds = time.monotonic() - started
    settle_seconds = chaos.settle(SETTLE_TIMEOUT)

    lost, stale, duplicated = [], [], []
    routes: Counter[str] = Counter()
    writes = 0
    for relative, etags in chaos.etags.items():
        assert len(set(etags)) == len(etags), "every version of a key must differ"
        transcript = chaos.transcript(relative)
        if transcript is None:
            lost.append(relative)
        elif transcript["source"]["etag"] != etags[-1]:
            stale.append(relative)
        else:
            routes[transcript["route"]] += 1
        key_writes, runs = chaos.transcript_runs(relative)
        writes += key_writes
        duplicated += [f"{relative}@{etag}" for etag, n in runs.items() if n > 1]
    restarts = up.state()["restarts"]
    print(
        f"\nchaos: keys={len(chaos.etags)} versions={chaos.versions} "
        f"kills={sum(chaos.kills.values())} ({dict(chaos.kills)}) "
        f"lost={len(lost)} stale={len(stale)} duplicated={len(duplicated)} | "
        f"transcript writes={writes} routes={dict(routes)} restarts={restarts} "
        f"chaos {chaos_seconds:.0f} s, settled in {settle_seconds:.0f} s"
    )
    assert chaos.versions >= 50 and len(chaos.etags) >= 40
    assert sum(chaos.kills.values()) >= 6 and set(chaos.kills) == set(VICTIMS)
    assert (lost, stale, duplicated) == ([], [], []), up.said()
    # Every kill was answered by the stack's own supervisor, once each.
    assert restarts == dict(chaos.kills), up.said()
    assert "status: moto up · server up" in up.said()

    # `make down` stops the supervised stack in order, and `make up` exits 0.
    pids = up.state()["pids"]
    down = spawn([sys.executable, "-m", "local_stack", "down"], env=up.env)
    assert down.wait(timeout=120) == 0
    assert up.process.wait(timeout=60) == 0, up.said()
    assert not up.stack.state_file.exists()
    assert not [name for name, pid in pids.items() if alive(pid)]
