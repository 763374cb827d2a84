"""``python -m jobs_api.package``: the jobs API's one zip for its three Lambdas, as step-370
builds it by default (LAMBDA_RUNTIME's Python, 3.12, on x86_64): only the shipped modules,
the light core and the dependencies, compiled ones for the runtime, reproducibly.

That it runs from the zip alone is tested in ``test_deploy_jobs_api.py`` (phase 4), on a zip
built for this interpreter's Python (a 3.12 pydantic-core cannot be imported by this 3.11).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from jobs_api.console.routes import assets
from jobs_api.package import build
from lambda_router.package import CORE, light_core

pytestmark = pytest.mark.slow

SHIPPED_TOP = {
    "jobs_api", "transcription", "fastapi", "starlette", "pydantic", "pydantic_core", "mangum",
    "standardwebhooks", "tenacity", "boto3", "botocore", "s3transfer",
}  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("jobs-zip")
    return build(out / "a.zip"), build(out / "b.zip")


def test_the_zip_holds_the_shipped_modules_and_runtime_wheels(built: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(built[0]) as archive:
        names = archive.namelist()
    top = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert top >= SHIPPED_TOP
    assert not {"uvicorn", "numpy", "av", "faster_whisper", "httpx", "pytest", "moto"} & top
    assert "jobs_api/handler.py" in names and "jobs_api/webhooks/sender.py" in names
    assert "jobs_api/package.py" not in names and "jobs_api/__main__.py" not in names
    static = sorted(n for n in names if n.startswith("jobs_api/console/static/"))
    assert static == sorted(f"jobs_api/console/static/{name}" for name in assets())
    core = sorted(n.removeprefix("transcription/") for n in names if n.startswith("transcription/"))
    assert core == sorted(p.relative_to(CORE).as_posix() for p in light_core())
    assert "diarization/turns.py" in core and not any(n.startswith("inference/") for n in core)
    compiled = [n for n in names if n.startswith("pydantic_core/") and n.endswith(".so")]
    assert compiled and all("cpython-312-x86_64-linux-gnu" in n for n in compiled), compiled
    services = {
        n.split("/")[2] for n in names if n.startswith("botocore/data/") and n.count("/") > 3
    }
    assert services == {"dynamodb", "events", "s3", "sqs", "ssm", "sts"}
    assert built[0].stat().st_size < 20_000_000


def test_the_same_tree_gives_the_same_bytes(built: tuple[Path, Path]) -> None:
    """So a second step-370 finds the same CodeSha256 and changes nothing."""
    assert built[0].read_bytes() == built[1].read_bytes()
