"""``make lambda-zip``: the zip holds only the router, the light core and their dependencies,
and the router runs from it alone (no site-packages) against moto's server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lambda_router.package import CORE, build, files_under, light_core

pytestmark = pytest.mark.slow

ALLOWED_TOP = {
    "lambda_router", "transcription", "boto3", "botocore", "s3transfer", "jmespath",
    "dateutil", "urllib3", "tenacity", "six.py",
}  # fmt: skip


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("zip")
    archive = build(out / "lambda_router.zip")
    tree = out / "tree"
    with zipfile.ZipFile(archive) as z:
        z.extractall(tree)
    return archive, tree


def test_zip_holds_only_the_light_parts(unpacked: tuple[Path, Path]) -> None:
    archive, tree = unpacked
    top = {p.name for p in tree.iterdir() if not p.name.endswith(".dist-info")}
    assert top == ALLOWED_TOP
    packed = sorted(p.relative_to(tree) for p in files_under(tree / "transcription"))
    assert packed == sorted(Path("transcription") / p.relative_to(CORE) for p in light_core())
    assert (tree / "transcription" / "diarization" / "turns.py").exists()  # subpackages too
    assert not (tree / "transcription" / "inference").exists()
    assert not (tree / "lambda_router" / "pump.py").exists()
    services = sorted(p.name for p in (tree / "botocore" / "data").iterdir() if p.is_dir())
    assert services == ["s3", "sqs", "ssm", "sts"]
    assert archive.stat().st_size < 5_000_000


def test_the_router_runs_from_the_zip_alone(
    unpacked: tuple[Path, Path],
    aws_env: dict[str, str],
    bucket: str,
    queue_url: str,
    s3: Any,
    sqs: Any,
) -> None:
    _, tree = unpacked
    s3.put_object(Bucket=bucket, Key="audio/from-zip.wav", Body=b"not really audio")
    code = (
        "import json, sys\n"
        "from lambda_router.handler import lambda_handler\n"
        "result = lambda_handler(json.loads(sys.argv[1]), None)\n"
        "print(json.dumps({'result': result, 'boto3': sys.modules['boto3'].__file__}))\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        **aws_env,
        "PYTHONPATH": str(tree),
        "AUDIO_BUCKET": bucket,
        "QUEUE_URL": queue_url,
        "SERVER_URL": "http://127.0.0.1:9",  # nothing listens: the batch path
    }
    event = json.dumps({"bucket": bucket, "key": "audio/from-zip.wav"})
    done = subprocess.run(
        [sys.executable, "-S", "-c", code, event],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout.splitlines()[-1])
    assert output["boto3"].startswith(str(tree))
    [result] = output["result"]
    assert (result["route"], result["reason"]) == ("queued", "server_down")
    [message] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    assert json.loads(message["Body"])["key"] == "audio/from-zip.wav"
