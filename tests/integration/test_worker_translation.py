"""The batch worker runs ``asr+nmt``, ``nmt`` and diarized tasks of batch jobs.

Real models (multilingual ``base``, ``tiny.en``), real Apertium (eng↔spa), espeak-ng speech
and moto's server over HTTP. A pair Apertium lacks (en→de) fails the item with an error
record naming the pair, which the tracker turns into a failed task.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_worker import Run, queue_pair
from tests.support.conversation import converse
from tests.support.jobs import enqueue, queue_counts, upload_job
from tests.support.media import wav_bytes
from tests.support.speech import clip, speak
from transcription.inference.engines import load_engine
from transcription.layout import Layout
from transcription.settings import AwsSettings, EngineSettings

pytestmark = pytest.mark.slow

SPANISH = "Buenos días. Hoy vamos a hablar del tiempo en la ciudad."
ENGLISH = "Good morning. Today we will talk about the weather in the city."


def read(s3: Any, bucket: str, key: str) -> str:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def task(s3: Any, bucket: str, job_id: str, item: str, body: bytes | Path, **fields: Any) -> Any:
    """A batch job's task for audio outside the input prefix, as the jobs API makes it."""
    output_key = f"transcripts/jobs/{job_id}/{item}.json"
    job = upload_job(
        s3, bucket, f"library/{item}.wav", body, reason="job", output_key=output_key,
        formats=("json", "srt", "txt"),
    )  # fmt: skip
    return replace(job, job_id=job_id, task_id=uuid.uuid4().hex, priority="normal", **fields)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cache = tmp_path_factory.mktemp("models")
    return load_engine(EngineSettings(model="base", model_cache_dir=str(cache)))


def test_asr_nmt_translates_each_way_and_an_unsupported_pair_fails_the_item(
    aws_client: Any, aws_settings: AwsSettings, s3: Any, sqs: Any, bucket: str, base: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    queues = queue_pair(sqs, max_receive_count=2)
    job_id = uuid.uuid4().hex
    spanish = speak("es", tmp_path / "es.wav", SPANISH)
    english = speak("en", tmp_path / "en.wav", ENGLISH)
    tasks = {
        "es-en": task(s3, bucket, job_id, "es-en", spanish, job_type="asr+nmt", tgt_lng="en"),
        "en-es": task(s3, bucket, job_id, "en-es", english, job_type="asr+nmt", tgt_lng="es"),
        "en-de": task(s3, bucket, job_id, "en-de", english, job_type="asr+nmt", tgt_lng="de"),
    }
    for job in tasks.values():
        enqueue(sqs, queues["queue"], job)

    summary = Run(aws_client, aws_settings, queues, bucket)(base)

    assert summary.outcomes == {"transcribed": 2, "failed": 1}
    assert queue_counts(sqs, queues["dlq"]) == (0, 0)
    folder = f"transcripts/jobs/{job_id}/"
    to_english = json.loads(read(s3, bucket, f"{folder}es-en.json"))
    assert to_english["language"] == "es"
    assert to_english["translation"]["language"] == "en"
    assert to_english["translation"]["engine"] == "apertium"
    assert "morning" in to_english["translation"]["text"].lower()  # Apertium: "…of the time…"
    assert "city" in to_english["translation"]["text"].lower()
    assert len(to_english["translation"]["segments"]) == len(to_english["segments"])
    english_srt = read(s3, bucket, f"{folder}es-en.en.srt")
    assert "-->" in english_srt and "city" in english_srt.lower()
    assert "tiempo" in read(s3, bucket, f"{folder}es-en.srt").lower()  # the original stays
    to_spanish = json.loads(read(s3, bucket, f"{folder}en-es.json"))
    assert "ciudad" in to_spanish["translation"]["text"].lower()
    assert "ciudad" in read(s3, bucket, f"{folder}en-es.es.txt").lower()
    record = json.loads(read(s3, bucket, f"{folder}en-de.error.json"))
    assert record["error"] == "unsupported_language_pair"
    assert "de" in record["detail"]


def test_the_worker_detects_each_language(
    aws_client: Any, aws_settings: AwsSettings, s3: Any, sqs: Any, bucket: str, base: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    """No language given: the worker's transcript names the one spoken (en, es, de)."""
    queues = queue_pair(sqs, max_receive_count=2)
    jobs = {}
    for language in ("en", "es", "de"):
        wav = tmp_path / f"{language}.wav"
        wav.write_bytes(wav_bytes(clip(speak(language, tmp_path / f"full-{language}.wav"), 8)))
        jobs[language] = upload_job(s3, bucket, f"audio/languages/{language}.wav", wav)
        enqueue(sqs, queues["queue"], jobs[language])

    summary = Run(aws_client, aws_settings, queues, bucket)(base)

    assert summary.outcomes == {"transcribed": 3}
    for language, job in jobs.items():
        assert json.loads(read(s3, bucket, job.output_key))["language"] == language


def test_an_nmt_task_translates_its_text(
    aws_client: Any, aws_settings: AwsSettings, s3: Any, sqs: Any, bucket: str, engine: Any
) -> None:
    queues = queue_pair(sqs, max_receive_count=2)
    job_id = uuid.uuid4().hex
    text_key = Layout().job_text_key(job_id, "greeting")
    job = upload_job(
        s3, bucket, text_key, b"Hello world.\n\nThe house is big.", reason="job",
        output_key=f"transcripts/jobs/{job_id}/greeting.json", formats=("json", "txt"),
    )  # fmt: skip
    job = replace(
        job, job_id=job_id, task_id=uuid.uuid4().hex, priority="normal", job_type="nmt",
        src_lng="en", tgt_lng="es", text_key=text_key,
    )  # fmt: skip
    enqueue(sqs, queues["queue"], job)

    summary = Run(aws_client, aws_settings, queues, bucket)(engine)

    assert summary.outcomes == {"translated": 1}
    result = json.loads(read(s3, bucket, job.output_key))
    assert result["translation"]["language"] == "es"
    assert [s["text"].lower() for s in result["translation"]["segments"]] == [
        "hola mundo.", "la casa es grande.",
    ]  # fmt: skip
    assert read(s3, bucket, f"transcripts/jobs/{job_id}/greeting.es.txt").lower().split("\n")[
        :2
    ] == ["hola mundo.", "la casa es grande."]


def test_a_diarized_task_labels_its_speakers_in_every_format(
    aws_client: Any, aws_settings: AwsSettings, s3: Any, sqs: Any, bucket: str, engine: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    queues = queue_pair(sqs, max_receive_count=2)
    conversation = converse(tmp_path, speakers=2, turns=4)
    job_id = uuid.uuid4().hex
    job = task(s3, bucket, job_id, "talk", wav_bytes(conversation.samples), diarize=True)
    job = replace(job, options=replace(job.options, formats=("json", "srt", "vtt", "txt")))
    enqueue(sqs, queues["queue"], job)

    summary = Run(aws_client, aws_settings, queues, bucket)(engine)

    assert summary.outcomes == {"transcribed": 1}
    folder = f"transcripts/jobs/{job_id}/"
    result = json.loads(read(s3, bucket, f"{folder}talk.json"))
    assert sorted(result["speakers"]) == ["SPEAKER_00", "SPEAKER_01"]
    assert {s["speaker"] for s in result["segments"]} == {"SPEAKER_00", "SPEAKER_01"}
    assert "[SPEAKER_01]" in read(s3, bucket, f"{folder}talk.srt")
    assert "<v SPEAKER_00>" in read(s3, bucket, f"{folder}talk.vtt")
    assert "SPEAKER_01:" in read(s3, bucket, f"{folder}talk.txt")
