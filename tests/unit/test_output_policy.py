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
