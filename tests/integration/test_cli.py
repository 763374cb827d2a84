"""The real console command in a subprocess, with the real tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.media import encode
from tests.support.subtitles import check_rules, parse_subtitles, words_of
from tests.support.wer import wer
from transcription.inference.audio import decode_audio
from transcription.transcript import Transcript

pytestmark = pytest.mark.slow

COMMAND = Path(sys.executable).with_name("transcription-router")  # the installed console script
MAX_WER = 0.15


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=180)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("transcription-router:")]


def test_bad_file_is_named_and_the_others_are_still_done(
    tmp_path: Path, samples: dict[str, Path], sample_scripts: dict[str, str]
) -> None:
    assert COMMAND.exists(), f"console script missing: {COMMAND} (pip install -e .)"
    not_audio = tmp_path / "notes.mp3"
    not_audio.write_text("Meeting notes: call the office tomorrow.\n" * 20)
    mp3 = tmp_path / "speech two.mp3"
    mp3.write_bytes(encode(decode_audio(samples["two"]).samples, "mp3"))
    out = tmp_path / "out"

    result = run(
        [str(COMMAND), "transcribe", str(samples["one"]), str(not_audio), str(mp3),
         "--output-dir", str(out), "--format", "srt"],
        cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 1, result.stderr
    (line,) = error_lines(result.stderr)
    assert str(not_audio) in line and "not a readable audio file" in line
    assert sorted(p.name for p in out.iterdir()) == ["speech two.mp3.srt", "speech-one.wav.srt"]
    for name, written in (("one", out / "speech-one.wav.srt"), ("two", out / "speech two.mp3.srt")):
        cues = parse_subtitles(written.read_text(encoding="utf-8"), "srt")
        check_rules(cues)
        assert wer(sample_scripts[name], " ".join(words_of(cues))) <= MAX_WER


def test_one_file_goes_to_stdout(
    tmp_path: Path, samples: dict[str, Path], sample_scripts: dict[str, str]
) -> None:
    result = run(
        [sys.executable, "-m", "transcription", "transcribe", str(samples["three"]),
         "--format", "json", "--language", "en", "--model", "tiny.en"],
        cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert error_lines(result.stderr) == []
    transcript = Transcript.from_json(result.stdout)
    assert json.loads(result.stdout)["version"] == 1
    assert transcript.model == "tiny.en" and transcript.language == "en"
    assert wer(sample_scripts["three"], transcript.text) <= MAX_WER
    assert list(tmp_path.iterdir()) == []  # nothing written next to it
