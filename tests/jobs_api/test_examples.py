"""The README's batch job commands (examples/jobs_curl.sh) run against the real app."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.jobs_api.conftest import ADMIN_KEY, Api
from tests.support.processes import ROOT


def json_values(text: str) -> list[Any]:
    """The JSON values printed one after another (jq's pretty output)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    return values


def test_the_curl_example_runs(api: Api, samples: dict[str, Path], s3: Any) -> None:
    result = subprocess.run(
        ["bash", "examples/jobs_curl.sh", str(samples["one"])],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "JOBS_API_URL": api.url, "JOBS_ADMIN_KEY": ADMIN_KEY},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outputs = json_values(result.stdout)
    assert outputs[0]["status"] == "queued"
    canceled = outputs[-1]
    assert canceled["status"] == "canceled" and canceled["progress"]["canceled"] == 1
    uploads = s3.list_objects_v2(Bucket=api.stack.bucket, Prefix="audio/jobs/")["Contents"]
    assert [o["Size"] for o in uploads] == [samples["one"].stat().st_size]
