"""The light core stays light: the Lambda router imports it without numpy, PyAV or engines."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numpy", "av", "faster_whisper", "ctranslate2", "tqdm", "whisperx", "torch")


def heavy_modules_after_import(module: str) -> list[str]:
    """Import ``module`` in a fresh interpreter (this one has numpy loaded long ago)."""
    code = f"import sys, {module}\nprint(*(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.split()


@pytest.mark.parametrize(
    "module",
    [
        "transcription.layout",
        "transcription.store",
        "transcription.job",
        "transcription.settings",
        "transcription.aws",
        "transcription.transcript",
        "transcription.logging",
        "transcription.exceptions",
    ],
)
def test_importing_light_module_loads_nothing_heavy(module: str) -> None:
    heavy = heavy_modules_after_import(module)
    assert heavy == [], f"{module} imported {heavy}"


def test_the_check_sees_a_heavy_import() -> None:
    """The same probe on a heavy module reports it, so an empty answer above means something."""
    assert heavy_modules_after_import("transcription.audio") == ["numpy", "av"]
