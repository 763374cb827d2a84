"""/asr and /detect-language as Bazarr's Whisper provider calls them, on a real server (base).

Bazarr (``subliminal_patch/providers/whisperai.py``) uses a ``requests.Session`` whose only
header of its own is ``User-Agent``; it decodes the video's audio with ffmpeg into raw
16 kHz mono s16le PCM and posts it as the multipart part ``audio_file`` (bytes, so the part's
file name is the field name), with ``encode=false`` and ``video_file`` (a set holding the
video path, or ``None``) in the query. It reads ``/asr``'s body as the SRT file and
``/detect-language``'s ``language_code`` (then ``detected_language`` as a fallback). The
key goes in the endpoint URL it is given, ``http://bazarr:<key>@host:port``, which requests
sends as HTTP Basic. The requests here are made the same way, with requests itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests

from tests.server.harness import Server, server_with_bucket, similar
from tests.support.speech import SCRIPTS, speak
from tests.support.subtitles import parse_subtitles, words_of
from transcription.inference.audio import decode_audio

pytestmark = pytest.mark.slow

TIMEOUTS = (5, 300)  # Bazarr's (response, transcription) timeouts


@pytest.fixture(scope="module")
def server(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A multilingual server, as a Bazarr user runs it: MODEL=base."""
    with server_with_bucket(
        moto_url, tmp_path_factory, model="base", rate_limit_per_minute=0
    ) as started:
        yield started


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("speech")
    return {language: speak(language, folder / f"{language}.wav") for language in ("es", "de")}


def pcm(path: Path) -> bytes:
    """What Bazarr's ffmpeg call makes: ``-f s16le -acodec pcm_s16le -ac 1 -ar 16000``."""
    samples = decode_audio(path).samples
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def endpoint(server: Server, key: str | None = None) -> str:
    """Bazarr's "Whisper endpoint" setting: the key as the password of the URL."""
    parts = urlsplit(server.url)
    return f"{parts.scheme}://bazarr:{key or server.key}@{parts.netloc}"


def bazarr_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "Subliminal/2.1.0"
    return session


def bazarr_asr(
    base: str, audio: bytes, task: str, language: str, video: str | None = None
) -> requests.Response:
    with bazarr_session() as session:
        return session.post(
            f"{base}/asr",
            params={
                "task": task,
                "language": language,
                "output": "srt",
                "encode": "false",
                "video_file": {video},
            },
            files={"audio_file": audio},
            timeout=TIMEOUTS,
        )


def bazarr_detect(base: str, audio: bytes, video: str | None = None) -> requests.Response:
    with bazarr_session() as session:
        return session.post(
            f"{base}/detect-language",
            params={"encode": "false", "video_file": {video}},
            files={"audio_file": audio},
            timeout=TIMEOUTS,
        )


def test_bazarr_transcribe_request_returns_the_srt_it_saves(
    server: Server, samples: dict[str, Path], sample_scripts: dict[str, str]
) -> None:
    answer = bazarr_asr(endpoint(server), pcm(samples["two"]), "transcribe", "en")
    assert answer.status_code == 200, answer.text
    text = answer.content.decode("utf-8")
    cues = parse_subtitles(text, "srt")
    assert cues and cues[0].start < 1.0
    assert similar(sample_scripts["two"], " ".join(words_of(cues)))


def test_bazarr_transcribes_spanish_with_the_video_name_passed(
    server: Server, speech: dict[str, Path]
) -> None:
    answer = bazarr_asr(
        endpoint(server), pcm(speech["es"]), "transcribe", "es", video="/tv/Show/S01E01.mkv"
    )
    assert answer.status_code == 200, answer.text
    cues = parse_subtitles(answer.content.decode("utf-8"), "srt")
    assert similar(SCRIPTS["es"], " ".join(words_of(cues)), at_least=0.5)


@pytest.mark.parametrize(("language", "name"), [("es", "spanish"), ("de", "german")])
def test_bazarr_detect_language_request_returns_the_code_it_reads(
    server: Server, speech: dict[str, Path], language: str, name: str
) -> None:
    answer = bazarr_detect(endpoint(server), pcm(speech[language]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["language_code"] == language
    assert body["detected_language"] == name
    assert 0.0 < body["confidence"] <= 1.0


def test_a_media_file_is_decoded_with_encode_true(
    server: Server, samples: dict[str, Path], sample_scripts: dict[str, str]
) -> None:
    """whisper-asr-webservice's default and its curl example: a file, encode left out."""
    with bazarr_session() as session:
        answer = session.post(
            f"{endpoint(server)}/asr",
            params={"output": "txt", "language": "en"},
            files={"audio_file": ("one.wav", samples["one"].read_bytes(), "audio/wav")},
            timeout=TIMEOUTS,
        )
        detected = session.post(
            f"{endpoint(server)}/detect-language",
            files={"audio_file": ("one.wav", samples["one"].read_bytes(), "audio/wav")},
            timeout=TIMEOUTS,
        )
    assert answer.status_code == 200, answer.text
    assert similar(sample_scripts["one"], answer.text)
    assert 'filename="one.wav.txt"' in answer.headers["Content-Disposition"]
    assert detected.json()["language_code"] == "en"


def test_the_key_is_required_as_basic_password_or_bearer(
    server: Server, samples: dict[str, Path]
) -> None:
    audio = pcm(samples["one"])
    assert bazarr_detect(server.url, audio).status_code == 401  # no key in the endpoint
    assert bazarr_detect(endpoint(server, key="not-the-key-0123"), audio).status_code == 401
    with requests.post(
        f"{server.url}/detect-language",
        params={"encode": "false"},
        files={"audio_file": audio},
        headers={"Authorization": f"Bearer {server.key}"},
        timeout=TIMEOUTS,
    ) as bearer:
        assert bearer.status_code == 200
        assert bearer.json()["language_code"] == "en"


def test_bad_raw_pcm_and_silence_get_clear_errors(server: Server) -> None:
    odd = bazarr_detect(endpoint(server), b"\x00\x01\x02")
    assert odd.status_code == 415
    assert odd.json()["error"]["code"] == "invalid_pcm"
    assert "odd" in odd.json()["error"]["message"]
    silent = bazarr_detect(endpoint(server), b"\x00\x00" * 16000 * 3)
    assert silent.status_code == 422
    assert silent.json()["error"]["code"] == "no_speech"
