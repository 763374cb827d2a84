"""The job spec the jobs API writes and the router reads (transcription.job_spec)."""

from __future__ import annotations

import pytest

from transcription.job_spec import ItemLanguages, JobSpec, task_id_of
from transcription.layout import Layout


def test_a_spec_survives_its_json() -> None:
    spec = JobSpec(
        job_id="a" * 32,
        job_type="asr+nmt",
        priority="low",
        src_lng="en",
        tgt_lng="es",
        model="base",
        diarize={"num_speakers": 2},
        formats=("json", "srt"),
        items={"x": ItemLanguages(src_lng="de")},
        deadline=600.0,
    )
    assert JobSpec.from_json(spec.to_json()) == spec
    assert "deadline" not in JobSpec(job_id="j").to_json()  # absent unless set


def test_item_languages_fall_back_to_the_jobs() -> None:
    spec = JobSpec(job_id="j", src_lng="en", tgt_lng="es", items={"x": ItemLanguages("de")})
    assert spec.languages("x") == ItemLanguages("de", "es")
    assert spec.languages("y") == ItemLanguages("en", "es")


@pytest.mark.parametrize(
    ("fields", "plain"),
    [
        ({}, True),
        ({"priority": "high"}, True),
        ({"priority": "low"}, False),
        ({"job_type": "asr+nmt"}, False),
        ({"model": "base"}, False),
        ({"diarize": {}}, False),
        ({"formats": ("json",)}, False),
        ({"src_lng": "en"}, False),
        ({"items": {"x": ItemLanguages("de")}}, False),
    ],
)
def test_only_a_plain_transcription_may_go_direct(fields: dict, plain: bool) -> None:
    assert JobSpec(job_id="j", **fields).plain is plain


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        '{"priority": "high"}',
        '{"job_id": "j", "priority": "urgent"}',
        "{oops",
        '{"job_id": "j", "deadline": 0}',
        '{"job_id": "j", "deadline": "soon"}',
    ],
)
def test_what_is_not_a_spec_is_refused(body: str) -> None:
    with pytest.raises(ValueError):
        JobSpec.from_json(body)


def test_keys_and_task_ids() -> None:
    assert Layout().job_spec_key("j1") == "transcripts/jobs/j1/spec"
    assert task_id_of("j1", "a") == task_id_of("j1", "a") != task_id_of("j1", "b")
