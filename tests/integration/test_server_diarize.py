"""Speaker labels through the server: /transcribe, the OpenAI endpoint and /transcribe-s3.

A real server (uvicorn, tiny.en) with the offline CPU diarizer (Resemblyzer), on a two-voice
espeak-ng conversation; moto's server over HTTP for /transcribe-s3.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.server.harness import Server, s3_client, server_with_bucket
from tests.support.conversation import converse
from tests.support.media import wav_bytes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with server_with_bucket(moto_url, tmp_path_factory, rate_limit_per_minute=0) as started:
        yield started


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return wav_bytes(converse(tmp_path_factory.mktemp("talk"), speakers=2, turns=4).samples)


def post(server: Server, path: str, talk: bytes, **fields: str) -> Any:
    with server.client() as http:
        return http.post(path, files={"file": ("talk.wav", talk, "audio/wav")}, data=fields)


def test_transcribe_labels_two_speakers_in_json_and_srt(server: Server, talk: bytes) -> None:
    answer = post(server, "/transcribe", talk, diarize="true")
    assert answer.status_code == 200, answer.text
    transcript = answer.json()
    assert sorted(transcript["speakers"]) == ["SPEAKER_00", "SPEAKER_01"]
    assert {s["speaker"] for s in transcript["segments"]} == {"SPEAKER_00", "SPEAKER_01"}
    srt = post(server, "/transcribe", talk, num_speakers="2", response_format="srt")
    assert "[SPEAKER_00]" in srt.text and "[SPEAKER_01]" in srt.text


def test_the_default_is_no_diarization(server: Server, talk: bytes) -> None:
    transcript = post(server, "/transcribe", talk).json()
    assert transcript["speakers"] is None
    assert {s["speaker"] for s in transcript["segments"]} == {None}


def test_the_openai_endpoint_takes_diarize_as_an_extra_field(server: Server, talk: bytes) -> None:
    vtt = post(server, "/v1/audio/transcriptions", talk, diarize="true", response_format="vtt")
    assert vtt.status_code == 200, vtt.text
    assert "<v SPEAKER_00>" in vtt.text and "<v SPEAKER_01>" in vtt.text


def test_transcribe_s3_stores_the_speakers(server: Server, talk: bytes, moto_url: str) -> None:
    bucket = server.env["AUDIO_BUCKET"]
    s3 = s3_client(moto_url)
    s3.put_object(Bucket=bucket, Key="audio/meeting.wav", Body=talk)
    with server.client() as http:
        answer = http.post(
            "/transcribe-s3",
            json={"s3_input_path": f"s3://{bucket}/audio/meeting.wav", "diarize": True},
        )
    assert answer.status_code == 200, answer.text
    stored = s3.get_object(Bucket=bucket, Key="transcripts/meeting.wav.srt")["Body"].read()
    assert b"[SPEAKER_01]" in stored


@pytest.mark.parametrize(
    "fields",
    [{"min_speakers": "3", "max_speakers": "2"}, {"diarize": "false", "num_speakers": "2"}],
)
def test_contradictory_speaker_counts_are_a_422_naming_the_field(
    server: Server, talk: bytes, fields: dict[str, str]
) -> None:
    answer = post(server, "/transcribe", talk, **fields)
    assert answer.status_code == 422
    assert next(iter(fields)) in answer.json()["error"]["message"]
