"""``transcription-router transcribe --diarize``: the real command, model and diarizer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.conversation import Conversation, converse
from tests.support.media import wav_bytes
from tests.support.subtitles import parse_subtitles

pytestmark = pytest.mark.slow

SPEAKERS = {"SPEAKER_00", "SPEAKER_01"}


@pytest.fixture(scope="module")
def conversation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Conversation, Path]:
    folder = tmp_path_factory.mktemp("cli-diarize")
    talk = converse(folder, speakers=2, turns=6)
    wav = folder / "talk.wav"
    wav.write_bytes(wav_bytes(talk.samples))
    return talk, wav


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "transcription", "transcribe", *args, "--language", "en"]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_srt_to_stdout_carries_the_labels(
    conversation: tuple[Conversation, Path], tmp_path: Path
) -> None:
    _, wav = conversation
    result = run([str(wav), "--format", "srt", "--diarize"], tmp_path)
    assert result.returncode == 0, result.stderr
    cues = parse_subtitles(result.stdout, "srt")
    marks = [c.lines[0].split("] ")[0] + "]" for c in cues]
    assert set(marks) == {f"[{s}]" for s in SPEAKERS}
    assert marks[0] == "[SPEAKER_00]"
    assert f"{wav}: 2 speakers (SPEAKER_00 " in result.stderr


def test_every_format_written_with_a_fixed_count(
    conversation: tuple[Conversation, Path], tmp_path: Path
) -> None:
    _, wav = conversation
    out = tmp_path / "out"
    result = run(
        [str(wav), "--output-dir", str(out), "--format", "json", "--num-speakers", "2"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    body = json.loads((out / "talk.wav.json").read_text(encoding="utf-8"))
    assert set(body["speakers"]) == SPEAKERS
    assert {s["speaker"] for s in body["segments"]} == SPEAKERS
    assert {w["speaker"] for s in body["segments"] for w in s["words"]} == SPEAKERS


def test_without_the_flag_nothing_is_labelled(
    conversation: tuple[Conversation, Path], tmp_path: Path
) -> None:
    _, wav = conversation
    result = run([str(wav), "--format", "tsv"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "start\tend\ttext"
    assert "SPEAKER_" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-diarize", "--num-speakers", "2"], "num_speakers needs diarize=true"),
        (["--diarize", "--min-speakers", "3", "--max-speakers", "2"], "min_speakers=3 is more"),
        (["--num-speakers", "0"], "'0' is not a speaker count from 1 to 20"),
    ],
)
def test_bad_speaker_options_are_usage_errors(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = run(["a.wav", *args], tmp_path)  # refused before any model loads
    assert result.returncode == 2
    assert message in result.stderr
