"""The light core is a package boundary: ``transcription`` minus ``transcription.inference``.

Every module of the light core, and every module the Lambda packages ship, imports without
numpy, PyAV, an engine or anything of ``transcription.inference``. The list of modules is
read from the tree, not kept by hand, so a new module is checked the day it is added.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "av", "faster_whisper", "ctranslate2", "tqdm", "whisperx", "torch")
# What the Lambda functions run: the router (less its local-only pump and zip builder) and
# the jobs API (every module but its zip builder and uvicorn entry point: its
# Lambdas serve the API, track and deliver). Their imports must stay on the light side.
LAMBDA_LOCAL_ONLY = {
    "lambda_router.pump",
    "lambda_router.package",
    "lambda_router.__main__",
    "jobs_api.package",
    "jobs_api.__main__",
}
LAMBDA_PACKAGES = ("lambda_router", "jobs_api")


def _modules(package: str, *, recursive: bool = False) -> list[str]:
    folder = ROOT / package.replace(".", "/")
    found = []
    for info in pkgutil.iter_modules([str(folder)]):
        name = f"{package}.{info.name}"
        found.append(name)
        if recursive and info.ispkg:
            found += _modules(name, recursive=True)
    return found


def light_core_modules() -> list[str]:
    """Every module of ``transcription`` and its subpackages except ``transcription.inference``."""
    return [
        m
        for m in _modules("transcription", recursive=True)
        if not m.startswith("transcription.inference") and m != "transcription.__main__"
    ]


def lambda_modules() -> list[str]:
    shipped = [
        m
        for package in LAMBDA_PACKAGES
        for m in _modules(package, recursive=True)
        if m not in LAMBDA_LOCAL_ONLY
    ]
    return shipped


def heavy_modules_after_import(module: str) -> list[str]:
    """Import ``module`` in a fresh interpreter (this one has numpy loaded long ago)."""
    probe = (*HEAVY, "transcription.inference")
    code = f"import sys, {module}\nprint(*(m for m in {probe!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return result.stdout.split()


def test_the_light_core_is_found_from_the_tree() -> None:
    modules = light_core_modules()
    assert {"transcription.store", "transcription.layout", "transcription.job"} <= set(modules)
    assert "transcription.translation.ctranslate2" in modules  # subpackages too
    assert not any(m.startswith("transcription.inference") for m in modules)


def test_the_lambda_modules_are_found_from_the_tree() -> None:
    modules = set(lambda_modules())
    assert {"lambda_router.router", "jobs_api.store", "jobs_api.api.routes.jobs"} <= modules


@pytest.mark.parametrize("module", [*light_core_modules(), *lambda_modules()])
def test_light_module_imports_nothing_heavy(module: str) -> None:
    heavy = heavy_modules_after_import(module)
    assert heavy == [], f"{module} imported {heavy}"


def test_the_check_sees_a_heavy_import() -> None:
    """The same probe on a heavy module reports it, so an empty answer above means something."""
    assert heavy_modules_after_import("transcription.inference.audio") == [
        "numpy",
        "av",
        "transcription.inference",
    ]
