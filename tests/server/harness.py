"""Start the real server (``python -m fastapi_server``) against moto's server, and helpers the
server tests and ``bench/bench_server.py`` share: test audio, metrics parsing, HTTP calls.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import sys
import wave
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fastapi_server.settings import ServerSettings
from tests.support.processes import free_port, running
from transcription.aws import make_client
from transcription.settings import AwsSettings, EngineSettings, StorageSettings

REGION = "us-east-1"
AWS_ENV = {
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


@dataclass(frozen=True)
class Server:
    url: str
    key: str
    log_path: Path
    env: Mapping[str, str]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def client(self, key: str | None = None, timeout: float = 120.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()


def in_process_settings() -> ServerSettings:
    """Settings for an app built in this process (tests pass their own keys and S3 client)."""
    return ServerSettings(
        storage=StorageSettings(audio_bucket="audio"),
        engine=EngineSettings(),
        aws=AwsSettings(aws_region=REGION),
    )


def new_key() -> str:
    return secrets.token_urlsafe(24)


@contextlib.contextmanager
def moto_environment(moto_url: str) -> Iterator[None]:
    """This process's environment pointed at moto (for module-scoped fixtures and benches)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**AWS_ENV, "AWS_ENDPOINT_URL": moto_url}.items():
            patch.setenv(name, value)
        yield


def s3_client(moto_url: str) -> Any:
    """An S3 client for moto; call inside :func:`moto_environment` (it reads the keys)."""
    return make_client("s3", AwsSettings(aws_region=REGION, aws_endpoint_url=moto_url))


def server_env(
    moto_url: str, audio_bucket: str, key: str, **settings: str | int | float
) -> dict[str, str]:
    """The environment of a server process: moto, the bucket, one key, and ``settings``."""
    env = {
        **AWS_ENV,
        "AWS_ENDPOINT_URL": moto_url,
        "AUDIO_BUCKET": audio_bucket,
        "TRANSCRIPT_BUCKET": "",
        "ALLOWED_BUCKETS": "",
        "API_KEYS": key,
        "API_KEYS_PARAMETER": "",
        "ALLOW_ANONYMOUS": "false",
        "MODEL": "tiny.en",
        "ENGINE": "faster-whisper",
        "DEVICE": "cpu",
        "PYTHONUNBUFFERED": "1",
    }
    env.update({name.upper(): str(value) for name, value in settings.items()})
    return env


@contextlib.contextmanager
def start_server(
    env: Mapping[str, str], log_path: Path, ready_timeout: float = 90.0
) -> Iterator[Server]:
    """``python -m fastapi_server`` on 127.0.0.1:<free port>; yields once /health says ready."""
    port = free_port()
    full_env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "fastapi_server"]
    with running(
        args,
        ready_url=f"{url}/health",
        env=full_env,
        log_path=log_path,
        ready_timeout=ready_timeout,
    ):
        yield Server(
            url=url, key=full_env.get("API_KEYS", "").split(",")[0], log_path=log_path, env=full_env
        )


@contextlib.contextmanager
def server_with_bucket(
    moto_url: str, tmp_path_factory: pytest.TempPathFactory, **settings: str | int | float
) -> Iterator[Server]:
    """A server on a fresh audio bucket with one key, its own model cache and ``settings``."""
    with moto_environment(moto_url):
        bucket = f"audio-{secrets.token_hex(5)}"
        s3_client(moto_url).create_bucket(Bucket=bucket)
        env = server_env(
            moto_url,
            bucket,
            new_key(),
            model_cache_dir=str(tmp_path_factory.mktemp("model-cache")),
            **settings,
        )
        log_path = tmp_path_factory.mktemp("server") / "server.log"
        with start_server(env, log_path) as started:
            yield started


# --- audio -------------------------------------------------------------------------------
def concat_wavs(paths: list[Path], silence_seconds: float = 0.7, repeat: int = 1) -> bytes:
    """The 16 kHz mono wavs in ``paths`` (``repeat`` times over) joined by short silences."""
    frames: list[bytes] = []
    params = None
    for _ in range(repeat):
        for path in paths:
            with wave.open(str(path)) as w:
                params = params or w.getparams()
                frames.append(w.readframes(w.getnframes()))
                frames.append(b"\0" * int(w.getframerate() * silence_seconds) * w.getsampwidth())
    assert params is not None
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(params.nchannels)
        w.setsampwidth(params.sampwidth)
        w.setframerate(params.framerate)
        w.writeframes(b"".join(frames))
    return out.getvalue()


def silent_wav(seconds: float, rate: int = 8000) -> bytes:
    """A small silent wav (8 kHz, 8 bit): long in seconds, short in bytes."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(b"\x80" * int(rate * seconds))
    return out.getvalue()


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


# --- metrics and text ---------------------------------------------------------------------
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` in Prometheus text ``text`` that carry ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match["name"] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match["value"])
    return total


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def similar(said: str, heard: str, at_least: float = 0.7) -> bool:
    """True when most words of ``said`` appear in ``heard`` (the tiny model mishears a few)."""
    expected = words(said)
    got = set(words(heard))
    return sum(w in got for w in expected) >= at_least * len(expected)
