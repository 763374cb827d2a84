"""Back-pressure, rate limits and key handling, each on a real server process of its own.

The module's server is as small as it gets: CONCURRENCY=1, MAX_PENDING=0 (a second
transcription is refused at once), a burst of 3 requests per key refilled at 1 a minute,
two keys from API_KEYS and one from an SSM SecureString parameter (moto).
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.harness import (
    REGION,
    Server,
    concat_wavs,
    metric,
    moto_environment,
    new_key,
    s3_client,
    server_env,
    start_server,
)
from tests.support.processes import ROOT
from transcription.aws import make_client
from transcription.settings import AwsSettings

pytestmark = pytest.mark.slow

BURST = 3


@dataclass(frozen=True)
class Limited:
    server: Server
    s3: Any
    bucket: str
    busy_key: str  # for the 503 test
    limit_key: str  # for the 429 test
    ssm_key: str  # read from the SSM parameter


@pytest.fixture(scope="module")
def limited(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    with moto_environment(moto_url):
        s3 = s3_client(moto_url)
        ssm = make_client("ssm", AwsSettings(aws_region=REGION, aws_endpoint_url=moto_url))
        suffix = uuid.uuid4().hex[:10]
        bucket = f"audio-{suffix}"
        s3.create_bucket(Bucket=bucket)
        busy_key, limit_key, ssm_key = new_key(), new_key(), new_key()
        parameter = f"/transcription-test/{suffix}/api-keys"
        ssm.put_parameter(Name=parameter, Type="SecureString", Value=ssm_key)
        env = server_env(
            moto_url,
            bucket,
            f"{busy_key},{limit_key}",
            api_keys_parameter=parameter,
            concurrency=1,
            max_pending=0,
            rate_limit_per_minute=1,
            rate_limit_burst=BURST,
        )
        log_path = tmp_path_factory.mktemp("limited") / "server.log"
        with start_server(env, log_path) as server:
            yield Limited(server, s3, bucket, busy_key, limit_key, ssm_key)


def health(server: Server) -> dict[str, Any]:
    return httpx.get(f"{server.url}/health").json()


def test_a_key_from_the_ssm_parameter_is_accepted(limited: Limited) -> None:
    with limited.server.client(limited.ssm_key) as client:
        assert client.get("/v1/models").status_code == 200
    with limited.server.client("not-" + limited.ssm_key) as client:
        assert client.get("/v1/models").status_code == 401


def test_a_saturated_server_answers_503_with_retry_after(
    limited: Limited, samples: dict[str, Path]
) -> None:
    long_wav = concat_wavs([samples["one"], samples["two"], samples["three"]])
    limited.s3.put_object(
        Bucket=limited.bucket, Key="audio/wait.wav", Body=samples["one"].read_bytes()
    )
    with limited.server.client(limited.busy_key) as client, ThreadPoolExecutor(1) as pool:
        running = pool.submit(client.post, "/transcribe", files={"file": ("long.wav", long_wav)})
        deadline = time.monotonic() + 30
        while health(limited.server)["in_flight"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        state = health(limited.server)
        assert (state["in_flight"], state["busy"]) == (1, True), (
            "the long transcription never started"
        )

        refused = [
            client.post("/transcribe", files={"file": ("one.wav", samples["one"].read_bytes())}),
            client.post(
                "/transcribe-s3", json={"s3_input_path": f"s3://{limited.bucket}/audio/wait.wav"}
            ),
        ]
        assert not running.done(), "the long transcription ended before the refusals were checked"
        for response in refused:
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "server_busy"
            assert int(response.headers["Retry-After"]) >= 1

        assert running.result().status_code == 200
    assert health(limited.server)["busy"] is False
    with limited.server.client() as client:
        counted = metric(
            client.get("/metrics").text,
            "transcription_server_rejections_total",
            reason="server_busy",
        )
    assert counted >= 2


def test_each_key_is_rate_limited_on_its_own(limited: Limited) -> None:
    with limited.server.client(limited.limit_key) as client:
        assert [client.get("/v1/models").status_code for _ in range(BURST)] == [200] * BURST
        refused = client.get("/v1/models")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    with limited.server.client(limited.ssm_key) as other:
        assert other.get("/v1/models").status_code == 200


def test_the_server_refuses_to_start_without_a_key(moto_url: str) -> None:
    env = server_env(moto_url, "some-bucket", "", port=1)  # port 1: it must not get that far
    result = subprocess.run(
        [sys.executable, "-m", "fastapi_server"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "API_KEYS" in result.stderr and "ALLOW_ANONYMOUS" in result.stderr


def test_anonymous_mode_must_be_explicit_and_warns(moto_url: str, tmp_path: Path) -> None:
    env = server_env(moto_url, "some-bucket", "", allow_anonymous="true")
    with start_server(env, tmp_path / "server.log") as server:
        assert httpx.get(f"{server.url}/v1/models").status_code == 200
        warnings = [
            line for line in server.log_lines() if '"WARNING"' in line and "ALLOW_ANONYMOUS" in line
        ]
    assert len(warnings) == 1
