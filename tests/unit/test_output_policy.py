"""Where a transcript may be written: one rule for the server and the worker."""

from __future__ import annotations

import pytest

from transcription.exceptions import BucketNotAllowed, OutputNotAllowed
from transcription.layout import Layout, OutputPolicy

POLICY = OutputPolicy(Layout(), "transcripts", frozenset({"audio", "transcripts"}))


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("audio/a/talk.mp3", ("transcripts/a/talk.mp3.json",)),
        (
            "audio/jobs/J1/item-7.wav",
            ("transcripts/jobs/J1/item-7.wav.json", "transcripts/jobs/J1/item-7.json"),
        ),
        ("audio/jobs/J1/deeper/item.wav", ("transcripts/jobs/J1/deeper/item.wav.json",)),
        ("audio/jobs/item.wav", ("transcripts/jobs/item.wav.json",)),
        ("elsewhere/a.wav", ()),
        ("audio/", ()),
    ],
)
def test_allowed_outputs_are_the_transcript_key_and_a_job_items_result_key(
    key: str, allowed: tuple[str, ...]
) -> None:
    assert Layout().allowed_outputs(key) == allowed


def test_the_layouts_place_is_accepted() -> None:
    POLICY.check("audio", "audio/a.wav", "transcripts", "transcripts/a.wav.json")
    POLICY.check("audio", "audio/jobs/J/i.wav", "transcripts", "transcripts/jobs/J/i.json")
    assert POLICY.default_output("audio", "audio/a.wav") == (
        "transcripts",
        "transcripts/a.wav.json",
    )


@pytest.mark.parametrize(
    ("bucket", "key", "output_bucket", "output_key", "error"),
    [
        ("audio", "audio/k001.wav", "transcripts", "transcripts/k002.wav.json", OutputNotAllowed),
        ("audio", "audio/k001.wav", "audio", "audio/k001.wav", OutputNotAllowed),
        ("audio", "audio/k001.wav", "audio", "transcripts/k001.wav.json", OutputNotAllowed),
        (
            "audio",
            "audio/jobs/J/i.wav",
            "transcripts",
            "transcripts/jobs/K/i.json",
            OutputNotAllowed,
        ),
        ("audio", "elsewhere/a.wav", "transcripts", "transcripts/a.wav.json", OutputNotAllowed),
        ("other", "audio/a.wav", "transcripts", "transcripts/a.wav.json", BucketNotAllowed),
        ("audio", "audio/a.wav", "other", "transcripts/a.wav.json", BucketNotAllowed),
    ],
)
def test_anything_else_is_refused_naming_why(
    bucket: str, key: str, output_bucket: str, output_key: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as refused:
        POLICY.check(bucket, key, output_bucket, output_key)
    if error is OutputNotAllowed and "elsewhere" not in key:
        assert f"s3://transcripts/{Layout().transcript_key(key)}" in str(refused.value)


def test_no_default_output_for_a_key_outside_the_input_prefix() -> None:
    with pytest.raises(OutputNotAllowed, match="not under the input prefix"):
        POLICY.default_output("audio", "elsewhere/a.wav")
    with pytest.raises(BucketNotAllowed):
        POLICY.default_output("other", "audio/a.wav")


# --- a batch job's task: its item results, audio from anywhere in an allowed bucket ----------
JOB = "0123456789abcdef0123456789abcdef"
OTHER_JOB = "fedcba9876543210fedcba9876543210"
RESULT = f"transcripts/jobs/{JOB}/item-7.json"


@pytest.mark.parametrize(
    ("key", "output_key"),
    [
        ("elsewhere/calls/2024/a.mp3", RESULT),  # an audio_url item: outside the input prefix
        ("audio/a/talk.WAV", RESULT),
        ("a.flac", f"transcripts/jobs/{JOB}/a.flac.json"),
        ("audio/jobs/x/i.wav", f"transcripts/jobs/{JOB}/i.v2_x-1.json"),
    ],
)
def test_a_job_task_may_write_its_jobs_item_result_for_any_audio(key: str, output_key: str) -> None:
    POLICY.check("audio", key, "transcripts", output_key, job_id=JOB)


FOLDER = f"transcripts/jobs/{JOB}/"
ANYWHERE = "elsewhere/a.wav"


@pytest.mark.parametrize(
    ("bucket", "key", "output_bucket", "output_key", "error"),
    [
        ("audio", ANYWHERE, "transcripts", RESULT.replace(JOB, OTHER_JOB), OutputNotAllowed),
        ("other", ANYWHERE, "transcripts", RESULT, BucketNotAllowed),
        ("audio", ANYWHERE, "other", RESULT, BucketNotAllowed),
        ("audio", ANYWHERE, "audio", RESULT, OutputNotAllowed),
        ("audio", ANYWHERE, "transcripts", RESULT.removesuffix(".json"), OutputNotAllowed),
        ("audio", ANYWHERE, "transcripts", RESULT.replace(".json", ".srt"), OutputNotAllowed),
        ("audio", ANYWHERE, "transcripts", f"{FOLDER}canceled", OutputNotAllowed),
        ("audio", ANYWHERE, "transcripts", f"{FOLDER}i.error.json", OutputNotAllowed),
        ("audio", ANYWHERE, "transcripts", f"{FOLDER}../{OTHER_JOB}/i.json", OutputNotAllowed),
        ("audio", ANYWHERE, "transcripts", f"{FOLDER}../i.json", OutputNotAllowed),
        ("audio", ANYWHERE, "transcripts", f"{FOLDER}sub/i.json", OutputNotAllowed),
        ("audio", ANYWHERE, "transcripts", f"{FOLDER}.json", OutputNotAllowed),
        ("audio", "elsewhere/notes.txt", "transcripts", RESULT, OutputNotAllowed),
        ("audio", "elsewhere/", "transcripts", RESULT, OutputNotAllowed),
    ],
    ids=[
        "other-job",
        "other-input-bucket",
        "other-output-bucket",
        "output-in-audio-bucket",
        "not-json",
        "a-sidecar",
        "cancel-marker",
        "error-record",
        "dotdot-other-job",
        "dotdot",
        "nested",
        "empty-item-id",
        "not-audio",
        "a-folder",
    ],
)
def test_a_job_task_may_write_nothing_else(
    bucket: str, key: str, output_bucket: str, output_key: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as refused:
        POLICY.check(bucket, key, output_bucket, output_key, job_id=JOB)
    if error is OutputNotAllowed and key.endswith(".wav"):
        assert f"s3://transcripts/transcripts/jobs/{JOB}/<item_id>.json" in str(refused.value)


def test_without_its_job_id_a_job_result_outside_the_input_prefix_is_refused() -> None:
    """What the worker dead-lettered before: the router's jobs and the server get no wider."""
    with pytest.raises(OutputNotAllowed, match="not under the input prefix"):
        POLICY.check("audio", "elsewhere/a.wav", "transcripts", RESULT)
    with pytest.raises(OutputNotAllowed):
        POLICY.check("audio", "elsewhere/a.wav", "transcripts", RESULT, job_id="not-a-job-id")
