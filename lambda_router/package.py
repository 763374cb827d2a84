"""The Lambda zips, byte-for-byte reproducible (one writer: :func:`write_zip`).

``python -m lambda_router.package --sources PACKAGE... --output ZIP`` zips only the Python
sources of the named packages (no dependencies).

``make lambda-zip`` (or ``python -m lambda_router.package``) builds
``dist/lambda_router.zip``, which holds:

- ``lambda_router/`` without the local-only modules: this builder, the local event pump and
  the failure replay (an operator's tool);
- the light core: ``transcription/`` without its heavy subpackage ``transcription.inference``
  (audio, engines, service, CLI), so no numpy, PyAV or faster-whisper;
- boto3 and tenacity at the versions installed here (the ones the tests ran against),
  fetched by pip for the Lambda runtime's platform (``--platform manylinux2014_x86_64
  --only-binary=:all: --python-version 3.12``).

boto3 is vendored on purpose, although Lambda's Python runtime bundles one: the bundled
botocore is whatever AWS last put in the runtime, and versions older than 1.35 lack the
S3 conditional-write parameters ``transcription.store`` is built on. Vendoring pins the
SDK the tests used. To keep the zip small, botocore's service models are trimmed to the
services the router calls (S3, SQS, SSM; STS for credential providers): that cuts about
28 MB of JSON. ``--no-boto3`` leaves boto3 out and relies on the runtime's copy instead.

The build imports the handler from the unpacked tree with nothing else on ``sys.path``,
so a missing module fails the build rather than the first invocation.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "build",
    "build_sources",
    "copy_light_core",
    "files_under",
    "install_dependencies",
    "light_core",
    "main",
    "runtime_python",
    "summary",
    "trim_botocore",
    "write_zip",
    "zip_arguments",
]

ROOT = Path(__file__).resolve().parents[1]
# The light core is ``transcription`` without its heavy subpackage (and the CLI entry point).
HEAVY_PARTS = frozenset({"inference", "__main__.py"})
LOCAL_ONLY = frozenset({"package.py", "pump.py", "replay.py"})
BOTOCORE_SERVICES = frozenset({"s3", "sqs", "ssm", "sts"})
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same inputs give the same zip


def build(
    output: Path,
    *,
    python_version: str = "3.12",
    platform: str = "manylinux2014_x86_64",
    with_boto3: bool = True,
) -> Path:
    """Build the zip at ``output``; returns its path."""
    with tempfile.TemporaryDirectory(prefix="lambda-zip-") as tmp:
        tree = Path(tmp)
        _copy_sources(tree)
        names = ["tenacity"] + (["boto3"] if with_boto3 else [])
        install_dependencies(tree, names, python_version, platform)
        trim_botocore(tree, BOTOCORE_SERVICES)
        _check_imports(tree, with_boto3)
        write_zip(output, tree, files_under(tree))
    return output


def build_sources(output: Path, root: Path, packages: Sequence[str]) -> Path:
    """A zip of only the ``*.py`` files of ``packages`` under ``root`` (no dependencies)."""
    files = [path for package in packages for path in files_under(root / package, "*.py")]
    if not files:
        raise SystemExit(f"no Python files under {', '.join(packages)} in {root}")
    write_zip(output, root, files)
    return output


def write_zip(output: Path, root: Path, files: Sequence[Path]) -> None:
    """Zip ``files`` (named relative to ``root``) into ``output``, reproducibly.

    Sorted names, fixed timestamps and mode: the same inputs give the same bytes, so the
    same CodeSha256 and no change on a second deploy. Written beside ``output`` and renamed
    into place, so a failed build never leaves half a zip.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
                info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes(), compresslevel=9)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def files_under(directory: Path, pattern: str = "*") -> list[Path]:
    """The files under ``directory`` matching ``pattern``, without ``__pycache__``."""
    return [p for p in directory.rglob(pattern) if p.is_file() and "__pycache__" not in p.parts]


def _copy_sources(tree: Path) -> None:
    router = tree / "lambda_router"
    router.mkdir()
    for source in sorted((ROOT / "lambda_router").glob("*.py")):
        if source.name not in LOCAL_ONLY:
            shutil.copy2(source, router / source.name)
    copy_light_core(tree)


CORE = ROOT / "transcription"
CORE_FILES = ("*.py", "*.json")  # modules, and data the core reads (the planner's prices)


def light_core() -> list[Path]:
    """The light core's files: every module (and data file) of ``transcription/`` and its
    light subpackages (``diarization``, ``translation``, ``planner``…), but its heavy parts."""
    return sorted(
        path
        for pattern in CORE_FILES
        for path in files_under(CORE, pattern)
        if path.relative_to(CORE).parts[0] not in HEAVY_PARTS
    )


def copy_light_core(tree: Path) -> None:
    """The light core into ``tree/transcription``, subpackages kept as they are."""
    for source in light_core():
        target = tree / "transcription" / source.relative_to(CORE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def install_dependencies(
    tree: Path,
    names: Sequence[str],
    python_version: str,
    platform: str,
    *,
    pin_all: bool = False,
) -> None:
    """pip installs ``names`` into ``tree`` at the versions installed here, as wheels for the
    Lambda runtime's Python and platform (compiled ones, such as pydantic-core, included).

    ``pin_all``: their dependencies too are held at the versions installed here (a
    constraints file of every installed distribution), not whatever pip would pick today.
    """
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in names]
    with tempfile.TemporaryDirectory(prefix="lambda-pins-") as tmp:
        constraints: list[str] = []
        if pin_all:
            path = Path(tmp) / "constraints.txt"
            path.write_text("".join(f"{n}=={v}\n" for n, v in sorted(_installed().items())))
            constraints = ["--constraint", str(path)]
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
                "--disable-pip-version-check", "--target", str(tree),
                "--platform", platform, "--implementation", "cp",
                "--python-version", python_version, "--only-binary=:all:", *constraints, *pins,
            ],
            check=True,
        )  # fmt: skip
    shutil.rmtree(tree / "bin", ignore_errors=True)


def _installed() -> dict[str, str]:
    """Every distribution installed here with a plain release version (name → version)."""
    found = {}
    for dist in importlib.metadata.distributions():
        name, version = dist.metadata["Name"], dist.version
        if name and version and "+" not in version and not dist.read_text("direct_url.json"):
            found[name.lower()] = version
    return found


def trim_botocore(tree: Path, services: frozenset[str]) -> None:
    """Drop botocore's service models (and examples) of every service but ``services``."""
    data = tree / "botocore" / "data"
    if not data.is_dir():
        return
    for entry in data.iterdir():
        if entry.is_dir() and entry.name not in services:
            shutil.rmtree(entry)
        elif entry.is_dir():
            for examples in entry.rglob("examples-1.json"):
                examples.unlink()


def _check_imports(tree: Path, with_boto3: bool) -> None:
    """Import the handler from the tree alone (``-S``: no site-packages, cwd = the tree)."""
    code = (
        "import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p]\n"
        "import lambda_router.handler, lambda_router.router\n"
        "from transcription.aws import make_client\n"
        "from transcription.settings import AwsSettings\n"
        "aws = AwsSettings(aws_region='us-east-1', aws_endpoint_url='http://127.0.0.1:9')\n"
        "[make_client(s, aws) for s in ('s3', 'sqs', 'ssm')]\n"
        "heavy = [m for m in ('numpy', 'av', 'faster_whisper', 'fastapi') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    if not with_boto3:
        return  # the runtime's boto3 is not here to import against
    subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=tree,
        check=True,
        env={"PYTHONPATH": str(tree), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
    )


def zip_arguments(prog: str, doc: str, output: Path) -> argparse.ArgumentParser:
    """The options every zip builder takes: ``--output``, ``--python-version``, ``--platform``."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    parser.add_argument("--output", type=Path, default=output)
    parser.add_argument(
        "--python-version",
        default=runtime_python(),
        help="the Lambda runtime's Python (default: from LAMBDA_RUNTIME, else 3.12)",
    )
    parser.add_argument(
        "--platform", default="manylinux2014_x86_64", help="manylinux2014_aarch64 for arm64"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = zip_arguments(
        "python -m lambda_router.package", __doc__, ROOT / "dist" / "lambda_router.zip"
    )
    parser.add_argument("--no-boto3", action="store_true", help="use the runtime's bundled boto3")
    parser.add_argument(
        "--sources",
        nargs="+",
        metavar="PACKAGE",
        help="zip only these packages' Python sources (no dependencies)",
    )
    args = parser.parse_args(argv)
    if args.sources:
        output = build_sources(args.output, ROOT, args.sources)
    else:
        output = build(
            args.output,
            python_version=args.python_version,
            platform=args.platform,
            with_boto3=not args.no_boto3,
        )
    sys.stdout.write(summary(output) + "\n")
    return 0


def runtime_python() -> str:
    """The Lambda runtime's Python version, from LAMBDA_RUNTIME as the deploy steps use it."""
    return (os.environ.get("LAMBDA_RUNTIME") or "python3.12").removeprefix("python")


def summary(output: Path) -> str:
    """One line on a built zip: its size, files and unpacked size (Lambda's limits)."""
    with zipfile.ZipFile(output) as archive:
        unpacked = sum(i.file_size for i in archive.infolist())
        count = len(archive.infolist())
    size = output.stat().st_size
    return (
        f"{output}: {size / 1e6:.2f} MB ({size} bytes), {count} files, "
        f"{unpacked / 1e6:.1f} MB unpacked"
    )


if __name__ == "__main__":
    sys.exit(main())
