"""Shared fixtures: moto's server over real HTTP, AWS clients pointed at it, the tiny model.

Each test gets fresh, uniquely named buckets and queues instead of a reset, so tests never
see each other's objects and the one moto server can serve the whole session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.iam_audit import (  # noqa: F401 - autouse fixtures: AWS calls vs IAM policies
    _calls_are_allowed_by_the_policies,
    _record_aws_calls,
)
from tests.support.processes import moto_server
from transcription.aws import make_client
from transcription.settings import AwsSettings

SAMPLES = Path(__file__).parent / "samples"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's fixed account


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with moto_server(log_path=log_path) as url:
        yield url


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for code under test (and subprocesses) that talks to moto's server."""
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def aws_settings(moto_url: str) -> AwsSettings:
    return AwsSettings(aws_region=REGION, aws_endpoint_url=moto_url)


@pytest.fixture
def aws_client(aws_env: dict[str, str], aws_settings: AwsSettings) -> Any:
    """``aws_client("s3")``: a fresh client pointed at moto's server."""
    return lambda service: make_client(service, aws_settings)


@pytest.fixture
def s3(aws_client: Any) -> Any:
    return aws_client("s3")


@pytest.fixture
def sqs(aws_client: Any) -> Any:
    return aws_client("sqs")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bucket(s3: Any) -> str:
    name = unique("audio")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def queue_url(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName=unique("jobs"))["QueueUrl"])


@pytest.fixture(scope="session")
def samples() -> dict[str, Path]:
    """The committed espeak-ng speech samples: ``{"one": Path(...wav), ...}``."""
    return {p.stem.removeprefix("speech-"): p for p in sorted(SAMPLES.glob("speech-*.wav"))}


@pytest.fixture(scope="session")
def sample_scripts() -> dict[str, str]:
    """What each sample says."""
    return {
        p.stem.removeprefix("speech-"): p.read_text().strip()
        for p in sorted(SAMPLES.glob("speech-*.txt"))
    }


@pytest.fixture(scope="session")
def engine() -> Any:
    """The real tiny.en model on the CPU, loaded once for the session."""
    from transcription.inference.engines import load_engine
    from transcription.settings import EngineSettings

    return load_engine(EngineSettings())
