"""End to end: the real processes of the local stack (`make up`), driven through S3 uploads.

moto's server, the deploy scripts, the FastAPI server with tiny.en, the event pump calling
the router, and the batch worker all run as processes on 127.0.0.1, started once for the
end-to-end tests exactly as `make up` starts them (the ``stack`` fixture: tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from local_stack.demo import router_results, wait_for_object
from local_stack.stack import Stack
from tests.support.processes import ROOT

pytestmark = pytest.mark.slow

TIMEOUT = 90.0


@pytest.fixture(scope="module")
def s3(stack: Stack) -> Any:
    return stack.client("s3")


class Uploads:
    """Upload into the stack's bucket and wait for what the product writes back."""

    def __init__(self, stack: Stack, s3: Any) -> None:
        self.stack, self.s3 = stack, s3
        self.bucket = stack.env["AUDIO_BUCKET"]

    def put(self, relative: str, body: bytes) -> str:
        etag = self.s3.put_object(Bucket=self.bucket, Key=f"audio/{relative}", Body=body)["ETag"]
        return str(etag).strip('"')

    def transcript(self, relative: str, etag: str | None = None) -> dict[str, Any]:
        """Wait for the transcript of ``relative`` (made from ``etag`` when given)."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            body = wait_for_object(self.s3, self.bucket, f"transcripts/{relative}.json", 1.0)
            if body is not None:
                transcript = json.loads(body)
                if etag is None or transcript["source"]["etag"] == etag:
                    return transcript
        pytest.fail(f"no transcript for {relative} (etag {etag}) in {TIMEOUT:.0f} s")

    def results(self, relative: str) -> list[dict[str, Any]]:
        key = f"audio/{relative}"
        pump_log = self.stack.log_path("pump")
        return [r for r in router_results(pump_log) if key in (r.get("s3_key"), r.get("key"))]

    def wait_results(self, relative: str, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            results = self.results(relative)
            if len(results) >= count:
                return results
            time.sleep(0.2)
        pytest.fail(f"the router handled {relative} fewer than {count} times in {TIMEOUT:.0f} s")

    def head(self, key: str) -> dict[str, Any]:
        return dict(self.s3.head_object(Bucket=self.bucket, Key=key))


@pytest.fixture(scope="module")
def uploads(stack: Stack, s3: Any) -> Uploads:
    return Uploads(stack, s3)


def audio(samples: dict[str, Path], name: str) -> bytes:
    return samples[name].read_bytes()


def test_upload_is_transcribed_through_the_direct_path(
    uploads: Uploads, samples: dict[str, Path]
) -> None:
    etag = uploads.put("e2e/direct.wav", audio(samples, "one"))
    transcript = uploads.transcript("e2e/direct.wav", etag)
    assert transcript["route"] == "direct"
    assert "office" in transcript["text"].lower()
    assert uploads.head("transcripts/e2e/direct.wav.txt")["ContentLength"] > 0


def test_same_upload_again_leaves_the_one_transcript_untouched(
    uploads: Uploads, samples: dict[str, Path]
) -> None:
    etag = uploads.put("e2e/again.wav", audio(samples, "two"))
    uploads.transcript("e2e/again.wav", etag)
    first = uploads.head("transcripts/e2e/again.wav.json")
    assert uploads.put("e2e/again.wav", audio(samples, "two")) == etag
    # The pump logs results as handlers finish, so the skip may be logged before the direct call.
    routes = sorted(r["route"] for r in uploads.wait_results("e2e/again.wav", 2))
    assert routes == ["direct", "skipped"]
    after = uploads.head("transcripts/e2e/again.wav.json")
    assert (after["ETag"], after["LastModified"]) == (first["ETag"], first["LastModified"])


def test_reupload_with_new_content_is_transcribed_again(
    uploads: Uploads, samples: dict[str, Path]
) -> None:
    first_etag = uploads.put("e2e/changed.wav", audio(samples, "one"))
    assert "office" in uploads.transcript("e2e/changed.wav", first_etag)["text"].lower()
    second_etag = uploads.put("e2e/changed.wav", audio(samples, "three"))
    assert second_etag != first_etag
    transcript = uploads.transcript("e2e/changed.wav", second_etag)
    assert "server" in transcript["text"].lower()


def test_non_audio_gets_an_error_record_and_the_stack_keeps_working(
    uploads: Uploads, samples: dict[str, Path]
) -> None:
    uploads.put("e2e/notes.wav", b"these are meeting notes, not audio\n" * 20)
    record = json.loads(
        wait_for_object(uploads.s3, uploads.bucket, "transcripts/e2e/notes.wav.error.json", TIMEOUT)
        or b"{}"
    )
    assert record["error"] in {"not_audio", "unsupported_media_type"}
    assert record["source"]["key"] == "audio/e2e/notes.wav"
    etag = uploads.put("e2e/after-error.wav", audio(samples, "one"))
    assert uploads.transcript("e2e/after-error.wav", etag)["route"] == "direct"


def test_server_stopped_means_the_batch_path(
    stack: Stack, uploads: Uploads, samples: dict[str, Path]
) -> None:
    stack.stop_service("server")
    try:
        etag = uploads.put("e2e/batch.wav", audio(samples, "two"))
        transcript = uploads.transcript("e2e/batch.wav", etag)
        assert transcript["route"] == "batch"
        assert uploads.results("e2e/batch.wav")[0]["route"] == "queued"
    finally:
        stack.start_service("server")
    # Once the server is back and the breaker's cool-down has passed, uploads go direct again.
    deadline = time.monotonic() + TIMEOUT
    for attempt in range(100):
        name = f"e2e/recovered-{attempt}.wav"
        if uploads.transcript(name, uploads.put(name, audio(samples, "one")))["route"] == "direct":
            break
        assert time.monotonic() < deadline, "uploads never went direct again after the restart"


def test_burst_of_thirty_uploads_loses_nothing(uploads: Uploads, samples: dict[str, Path]) -> None:
    names = [f"e2e/burst/{i:02d}.wav" for i in range(30)]
    sources = ["one", "two", "three"]
    etags = {
        name: uploads.put(name, audio(samples, sources[i % 3])) for i, name in enumerate(names)
    }
    routes = Counter(uploads.transcript(name, etag)["route"] for name, etag in etags.items())
    print(f"\nburst of 30 with CONCURRENCY=1: {dict(routes)}")
    assert sum(routes.values()) == 30
    assert set(routes) == {"direct", "batch"}, routes


def run_example(stack: Stack, *args: str) -> str:
    """Run a file from examples/ (the README quotes them) against the stack's server."""
    env = {**os.environ, "SERVER_URL": stack.server_url, "API_KEY": stack.api_key}
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl command is not installed")
def test_readme_curl_example_runs(stack: Stack, samples: dict[str, Path]) -> None:
    out = run_example(stack, "bash", "examples/curl.sh", str(samples["one"]))
    native, srt = out.split("\n", 1)
    assert json.loads(native)["route"] == "api"
    assert srt.startswith("1\n00:00:00,") and "office" in srt.lower()


def test_readme_openai_example_runs(stack: Stack, samples: dict[str, Path]) -> None:
    out = run_example(stack, sys.executable, "examples/openai_client.py", str(samples["one"]))
    text, *words = out.splitlines()
    assert "office" in text.lower()
    assert any(line.split()[-1].lower().startswith("office") for line in words)
