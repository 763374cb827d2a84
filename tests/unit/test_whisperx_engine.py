"""Contract test of the WhisperX adapter against a stand-in with WhisperX's call signatures.

whisperx cannot be installed here (it pins a CUDA torch), so ``tests/stand_ins/whisperx``
takes its place on ``sys.path``: same parameter names, strict binding, every call recorded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from transcription.exceptions import SettingsError
from transcription.inference.engines import TranscribeOptions, load_engine
from transcription.inference.engines.pool import ModelPool
from transcription.settings import EngineSettings
from transcription.transcript import Transcript

STAND_INS = Path(__file__).resolve().parents[1] / "stand_ins"
FIVE_SECONDS = np.zeros(5 * 16_000, dtype=np.float32)
GPU = {"engine": "whisperx", "model": "large-v3", "device": "cuda", "batch_size": 16}


def _forget_whisperx() -> None:
    for name in [n for n in sys.modules if n == "whisperx" or n.startswith("whisperx.")]:
        del sys.modules[name]


@pytest.fixture
def whisperx(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The stand-in, importable as ``whisperx`` for the duration of one test."""
    _forget_whisperx()
    monkeypatch.syspath_prepend(str(STAND_INS))
    import whisperx as stand_in

    stand_in.reset()
    yield stand_in
    _forget_whisperx()


def test_loading_needs_whisperx_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    _forget_whisperx()
    monkeypatch.setitem(sys.modules, "whisperx", None)  # as when it is not installed
    with pytest.raises(SettingsError, match=r"whisperx"):
        load_engine(EngineSettings(**GPU))


def test_adapter_module_imports_without_whisperx() -> None:
    code = (
        "import sys, transcription.inference.engines.whisperx as w;"
        "print(w.WhisperXEngine.__name__, 'whisperx' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["WhisperXEngine", "False", "False"]


def test_batched_transcription_without_alignment(whisperx: ModuleType) -> None:
    engine = load_engine(EngineSettings(**GPU, beam_size=3, whisperx_align=False))
    transcript = engine.transcribe(FIVE_SECONDS, TranscribeOptions())

    (loaded,) = whisperx.calls_to("load_model")
    assert (loaded["whisper_arch"], loaded["device"]) == ("large-v3", "cuda")
    assert loaded["compute_type"] == "float16"
    assert loaded["asr_options"] == {"beam_size": 3}
    (call,) = whisperx.calls_to("FasterWhisperPipeline.transcribe")
    assert call["batch_size"] == 16
    assert call["language"] is None and call["task"] == "transcribe"
    assert call["audio"] is FIVE_SECONDS
    assert not whisperx.calls_to("align")

    assert engine.name == "whisperx" and engine.model == "large-v3" and engine.device == "cuda"
    assert transcript.language == "en"
    assert transcript.duration == 5.0
    assert [s.text for s in transcript.segments] == [
        "Please call the office tomorrow.",
        "Ask for report 42 by noon.",
    ]
    assert transcript.text == "Please call the office tomorrow. Ask for report 42 by noon."
    assert [(s.start, s.end) for s in transcript.segments] == [(0.0, 2.0), (2.5, 5.0)]
    assert all(not s.words for s in transcript.segments)
    assert transcript.warnings == ()


def test_alignment_maps_words_and_fills_untimed_ones(whisperx: ModuleType) -> None:
    engine = load_engine(EngineSettings(**GPU))
    transcript = engine.transcribe(FIVE_SECONDS, TranscribeOptions(language="en"))

    (loaded,) = whisperx.calls_to("load_align_model")
    assert loaded["language_code"] == "en" and loaded["device"] == "cuda"
    (aligned,) = whisperx.calls_to("align")
    assert [s["text"] for s in aligned["transcript"]] == [p[2] for p in whisperx.state.phrases]
    assert aligned["audio"] is FIVE_SECONDS and aligned["device"] == "cuda"
    assert aligned["return_char_alignments"] is False

    first, second = transcript.segments
    assert [w.word for w in first.words] == ["Please", "call", "the", "office", "tomorrow."]
    assert first.words[0].start == 0.0 and first.words[0].probability == 0.875
    assert all(w.start <= w.end for s in transcript.segments for w in s.words)
    assert [w.start for w in first.words] == sorted(w.start for w in first.words)
    # "42" has no letters the alignment model knows: no times from whisperx. It gets the
    # gap between its neighbours, so subtitles still show it in the right place.
    words = {w.word: w for w in second.words}
    assert words["42"].start == words["report"].end
    assert words["42"].end == words["by"].start
    assert words["42"].probability is None
    assert transcript.warnings == ()
    Transcript.from_json(transcript.to_json())  # plain floats: the JSON round trip works

    engine.transcribe(FIVE_SECONDS, TranscribeOptions(language="en"))
    assert len(whisperx.calls_to("load_align_model")) == 1  # loaded once per language


def test_no_alignment_model_for_language_still_transcribes_with_warning(
    whisperx: ModuleType,
) -> None:
    whisperx.state.detected_language = "cy"  # Welsh: no default alignment model
    engine = load_engine(EngineSettings(**GPU))
    transcript = engine.transcribe(FIVE_SECONDS, TranscribeOptions())

    assert [c["language_code"] for c in whisperx.calls_to("load_align_model")] == ["cy"]
    assert not whisperx.calls_to("align")
    assert transcript.language == "cy"
    assert transcript.text.startswith("Please call the office")
    assert all(not s.words for s in transcript.segments)
    assert len(transcript.warnings) == 1
    assert "no alignment model" in transcript.warnings[0] and "'cy'" in transcript.warnings[0]
    assert json.loads(transcript.to_json())["warnings"] == list(transcript.warnings)


def test_translation_is_aligned_as_english(whisperx: ModuleType) -> None:
    whisperx.state.detected_language = "de"
    engine = load_engine(EngineSettings(**GPU))
    engine.transcribe(FIVE_SECONDS, TranscribeOptions(task="translate"))

    (call,) = whisperx.calls_to("FasterWhisperPipeline.transcribe")
    assert call["task"] == "translate"
    assert [c["language_code"] for c in whisperx.calls_to("load_align_model")] == ["en"]


def test_diarization_labels_segments_when_enabled_with_token(whisperx: ModuleType) -> None:
    token = "hf_0123456789abcdefABCDEF"
    whisperx.state.turns = [(0.0, 2.2, "SPEAKER_00"), (2.2, 5.0, "SPEAKER_01")]
    engine = load_engine(EngineSettings(**GPU, whisperx_diarize=True, hf_token=token))
    transcript = engine.transcribe(FIVE_SECONDS, TranscribeOptions())

    (created,) = whisperx.calls_to("DiarizationPipeline.__init__")
    assert created["token"] == token and created["device"] == "cuda"
    (diarized,) = whisperx.calls_to("DiarizationPipeline.__call__")
    assert diarized["audio"] is FIVE_SECONDS
    (assigned,) = whisperx.calls_to("assign_word_speakers")
    assert [s["text"] for s in assigned["transcript_result"]["segments"]] == [
        s.text for s in transcript.segments
    ]
    assert [s.speaker for s in transcript.segments] == ["SPEAKER_00", "SPEAKER_01"]
    assert transcript.segments[0].words  # aligned before diarization
    assert json.loads(transcript.to_json())["segments"][1]["speaker"] == "SPEAKER_01"


def test_diarization_off_leaves_speakers_empty(whisperx: ModuleType) -> None:
    engine = load_engine(EngineSettings(**GPU, hf_token="hf_0123456789abcdefABCDEF"))
    transcript = engine.transcribe(FIVE_SECONDS, TranscribeOptions())
    assert not whisperx.calls_to("DiarizationPipeline.__init__")
    assert all(s.speaker is None for s in transcript.segments)


def test_diarization_without_token_is_refused_at_load(whisperx: ModuleType) -> None:
    with pytest.raises(SettingsError, match="HF_TOKEN"):
        load_engine(EngineSettings(**GPU, whisperx_diarize=True))
    assert not whisperx.calls_to("load_model")


def test_stand_in_is_strict_about_argument_names(whisperx: ModuleType) -> None:
    """The contract test is only worth something if a misspelt argument fails."""
    with pytest.raises(TypeError):
        whisperx.load_align_model(language="en", device="cpu")
    pipeline = whisperx.load_model("large-v3", "cpu")
    with pytest.raises(TypeError):
        pipeline.transcribe(FIVE_SECONDS, batchsize=8)


def test_language_codes_are_normalised_and_unknown_ones_refused(whisperx: ModuleType) -> None:
    from transcription.exceptions import UnknownLanguage

    engine = load_engine(EngineSettings(**GPU, whisperx_align=False))
    engine.transcribe(FIVE_SECONDS, TranscribeOptions(language="spa"))
    assert whisperx.calls_to("FasterWhisperPipeline.transcribe")[-1]["language"] == "es"
    with pytest.raises(UnknownLanguage, match="'xx'"):
        engine.transcribe(FIVE_SECONDS, TranscribeOptions(language="xx"))


def test_the_model_pool_unloads_an_idle_whisperx_model_and_closes_it(
    whisperx: ModuleType,
) -> None:
    now = [0.0]
    settings = replace(EngineSettings(**GPU), models=("medium",), model_idle_unload_seconds=60)
    pool = ModelPool(settings, clock=lambda: now[0])
    pool.preload()
    transcript = pool.transcribe(FIVE_SECONDS, TranscribeOptions(model="medium", language="en"))
    assert transcript.model == "medium"
    with pool.use("medium") as medium:
        pass
    now[0] += 61
    assert pool.unload_idle() == ["medium"]
    assert medium.pipeline is None  # type: ignore[attr-defined]  # closed: weights dropped
    assert pool.loaded("large-v3") is not None  # the default stays
