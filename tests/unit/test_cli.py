"""The CLI's argument and settings errors (no model is loaded for these)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from transcription import formats
from transcription.inference.cli import FORMAT_CHOICES, main


def test_format_choices_are_the_writers() -> None:
    assert FORMAT_CHOICES == formats.FORMATS


@pytest.mark.parametrize(
    "argv",
    [[], ["transcribe"], ["transcribe", "a.wav", "--format", "docx"], ["translate", "a.wav"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert "usage: transcription-router" in capsys.readouterr().err


def test_invalid_setting_is_one_line_naming_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "transcription", "transcribe", "a.wav"],
        env={**os.environ, "BATCH_SIZE": "eight"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "transcription-router: error: BATCH_SIZE='eight' is not a valid int\n"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("xx", "language='xx' is not a known language"),
        ("ii", "language='ii': Whisper cannot transcribe Sichuan Yi"),
    ],
)
def test_an_unknown_language_is_a_usage_error_naming_it(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["transcribe", "a.wav", "--language", value])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err
