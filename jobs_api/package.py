"""The jobs API's Lambda zip: one zip for its three functions (``python -m jobs_api.package``).

step-370 deploys it as ``$PROJECT_NAME-jobs-api`` (``jobs_api.handler.api_handler``),
``-jobs-tracker`` and ``-jobs-webhooks``. It holds:

- ``jobs_api/`` without the local-only modules: this builder and ``__main__`` (uvicorn);
  with the web console's JavaScript and CSS (``jobs_api/console/static/``);
- the light core (``transcription/`` without ``transcription.inference``), as in the router's;
- what ``jobs_api`` imports: fastapi (with starlette, pydantic and its compiled
  pydantic-core, anyio...), mangum, standardwebhooks, tenacity and boto3, every one at the
  version installed here (the one the tests ran against; their dependencies too, through a
  constraints file), as wheels for the Lambda runtime: ``--platform manylinux2014_x86_64
  --only-binary=:all: --python-version`` from ``LAMBDA_RUNTIME`` (3.12 by default). pip
  fetches those wheels from the package index, so the build needs to reach it. boto3 is
  vendored for the router's reason (the runtime's copy may be older than the tests' one),
  its service models trimmed to the services the functions call.

The zip is written by the router's one reproducible writer
(:func:`lambda_router.package.write_zip`): an unchanged tree gives the same bytes, so a
second deploy changes nothing. When the target Python is the one running the build, the
handlers are imported from the unpacked tree with nothing else on ``sys.path``, so a missing
module fails the build rather than the first request; for another Python (pydantic-core is
compiled per version) that check cannot run here, and the build says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lambda_router.package import (
    copy_light_core,
    files_under,
    install_dependencies,
    summary,
    trim_botocore,
    write_zip,
    zip_arguments,
)

__all__ = ["DEPENDENCIES", "build", "main"]

ROOT = Path(__file__).resolve().parents[1]
LOCAL_ONLY = frozenset({"package.py", "__main__.py"})
DEPENDENCIES = ("fastapi", "mangum", "standardwebhooks", "tenacity", "boto3")
BOTOCORE_SERVICES = frozenset({"dynamodb", "events", "s3", "sqs", "ssm", "sts"})
HEAVY = ("numpy", "av", "faster_whisper", "uvicorn")


def build(
    output: Path, *, python_version: str = "3.12", platform: str = "manylinux2014_x86_64"
) -> Path:
    """Build the zip at ``output``; returns its path."""
    with tempfile.TemporaryDirectory(prefix="jobs-api-zip-") as tmp:
        tree = Path(tmp)
        _copy_sources(tree)
        install_dependencies(tree, DEPENDENCIES, python_version, platform, pin_all=True)
        trim_botocore(tree, BOTOCORE_SERVICES)
        _check_imports(tree, python_version)
        write_zip(output, tree, files_under(tree))
    return output


def _copy_sources(tree: Path) -> None:
    package = ROOT / "jobs_api"
    shipped = [*files_under(package, "*.py"), *files_under(package / "console" / "static")]
    for source in sorted(shipped):
        relative = source.relative_to(package)
        if relative.as_posix() in LOCAL_ONLY:
            continue
        target = tree / "jobs_api" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    copy_light_core(tree)


def _check_imports(tree: Path, python_version: str) -> None:
    """Import the three handlers from the tree alone (no site-packages)."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if python_version != running:
        sys.stderr.write(
            f"not import-checked: the zip is for Python {python_version}, this is {running} "
            "(compiled wheels such as pydantic-core differ per version)\n"
        )
        return
    code = (
        "import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p]\n"
        "from jobs_api.handler import api_handler, tracker_handler, webhook_handler\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=tree,
        check=True,
        env={"PYTHONPATH": str(tree), "PATH": os.environ.get("PATH", "")},
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = zip_arguments("python -m jobs_api.package", __doc__, ROOT / "dist" / "jobs_api.zip")
    args = parser.parse_args(argv)
    output = build(args.output, python_version=args.python_version, platform=args.platform)
    sys.stdout.write(summary(output) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
