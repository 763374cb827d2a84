"""A stand-in for ``whisperx`` (which cannot be installed here): the same call signatures.

Each public function and method has the parameter names and defaults of whisperx 3.8
(``whisperx/asr.py``, ``alignment.py``, ``diarize.py``) and no ``**kwargs``, so a call with
a wrong or misspelt argument fails as it would against the real package. Every call is
recorded in :data:`calls` with its bound arguments. What the "model" hears is set by the
test through :data:`state`: the phrases, the detected language, the speaker turns.

It models the behaviour the adapter relies on, not the models themselves:

* ``load_model(...).transcribe(audio, batch_size=…)`` returns segments *without* words;
* ``load_align_model`` raises ``ValueError`` for a language with no default model;
* ``align`` gives each word ``start``/``end``/``score``, except words made of characters the
  alignment dictionary lacks (digits), which come without times, as in the real one;
* ``assign_word_speakers`` puts the speaker with the largest overlap on segments and words.

Put ``tests/stand_ins`` first on ``sys.path`` to import it as ``whisperx``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

SAMPLE_RATE = 16_000
# Languages with a default alignment model in whisperx (a subset is enough here).
DEFAULT_ALIGN_LANGUAGES = frozenset({"en", "fr", "de", "es", "it", "ja", "zh", "nl", "pt"})
ALIGN_DICTIONARY = {c: i for i, c in enumerate("|abcdefghijklmnopqrstuvwxyz'")}
# The keys load_model accepts in asr_options (it builds faster-whisper's TranscriptionOptions).
ASR_OPTIONS = frozenset(
    [
        "beam_size",
        "best_of",
        "patience",
        "length_penalty",
        "repetition_penalty",
        "no_repeat_ngram_size",
        "temperatures",
        "compression_ratio_threshold",
        "log_prob_threshold",
        "no_speech_threshold",
        "condition_on_previous_text",
        "prompt_reset_on_temperature",
        "initial_prompt",
        "prefix",
        "suppress_blank",
        "suppress_tokens",
        "without_timestamps",
        "max_initial_timestamp",
        "word_timestamps",
        "prepend_punctuations",
        "append_punctuations",
        "multilingual",
        "suppress_numerals",
        "max_new_tokens",
        "clip_timestamps",
        "hallucination_silence_threshold",
        "hotwords",
    ]
)


@dataclass
class State:
    """What the stand-in "hears": phrases as (start, end, text) and the spoken language."""

    phrases: list[tuple[float, float, str]] = field(
        default_factory=lambda: [
            (0.0, 2.0, " Please call the office tomorrow."),
            (2.5, 5.0, " Ask for report 42 by noon."),
        ]
    )
    detected_language: str = "en"
    # Speaker turns (start, end, label); None: two speakers, split at the middle of the audio.
    turns: list[tuple[float, float, str]] | None = None


state = State()
calls: list[tuple[str, dict[str, Any]]] = []


def reset() -> None:
    """Forget the recorded calls and restore the default script."""
    vars(state).update(vars(State()))
    calls.clear()


F = TypeVar("F", bound=Callable[..., Any])


def recorded(function: F) -> F:
    """Bind each call to ``function``'s signature (a wrong name raises TypeError), record it."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = {k: v for k, v in bound.arguments.items() if k != "self"}
        calls.append((function.__qualname__, arguments))
        return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def calls_to(name: str) -> list[dict[str, Any]]:
    """The bound arguments of every recorded call to ``name`` (a function's qualified name)."""
    return [arguments for qualname, arguments in calls if qualname == name]


def _check_audio(audio: Any) -> None:
    if not isinstance(audio, np.ndarray) or audio.dtype != np.float32 or audio.ndim != 1:
        raise TypeError("audio must be a 1-D float32 numpy array at 16 kHz")


# --- whisperx.asr ------------------------------------------------------------------------
class FasterWhisperPipeline:
    def __init__(self, language: str | None, task: str) -> None:
        self.preset_language = language
        self.task = task

    @recorded
    def transcribe(
        self,
        audio: str | np.ndarray,
        batch_size: int | None = None,
        num_workers: int = 0,
        language: str | None = None,
        task: str | None = None,
        chunk_size: int = 30,
        print_progress: bool = False,
        combined_progress: bool = False,
        verbose: bool = False,
        progress_callback: Callable[[float], None] | None = None,
    ) -> dict[str, Any]:
        _check_audio(audio)
        if task not in (None, "transcribe", "translate"):
            raise ValueError(f"task {task!r}")
        segments = [
            {"text": text, "start": start, "end": end, "avg_logprob": -0.25}
            for start, end, text in state.phrases
        ]
        detected = language or self.preset_language or state.detected_language
        return {"segments": segments, "language": detected}


@recorded
def load_model(
    whisper_arch: str,
    device: str,
    device_index: int = 0,
    compute_type: str = "default",
    asr_options: dict[str, Any] | None = None,
    language: str | None = None,
    vad_model: Any = None,
    vad_method: str | None = "pyannote",
    vad_options: dict[str, Any] | None = None,
    model: Any = None,
    task: str = "transcribe",
    download_root: str | None = None,
    local_files_only: bool = False,
    threads: int = 4,
    use_auth_token: str | bool | None = None,
) -> FasterWhisperPipeline:
    unknown = set(asr_options or {}) - ASR_OPTIONS
    if unknown:
        raise TypeError(f"TranscriptionOptions got unexpected arguments {sorted(unknown)}")
    if compute_type not in {"default", "float16", "float32", "int8", "int8_float16", "bfloat16"}:
        raise ValueError(f"compute type {compute_type!r}")
    if whisper_arch.endswith(".en"):
        language = "en"
    return FasterWhisperPipeline(language, task)


# --- whisperx.alignment ------------------------------------------------------------------
@dataclass(frozen=True)
class AlignModel:
    language: str
    device: str


@recorded
def load_align_model(
    language_code: str,
    device: str,
    model_name: str | None = None,
    model_dir: str | None = None,
    model_cache_only: bool = False,
) -> tuple[AlignModel, dict[str, Any]]:
    if model_name is None and language_code not in DEFAULT_ALIGN_LANGUAGES:
        raise ValueError(f"No default align-model for language: {language_code}")
    metadata = {"language": language_code, "dictionary": ALIGN_DICTIONARY, "type": "torchaudio"}
    return AlignModel(language_code, device), metadata


@recorded
def align(
    transcript: list[dict[str, Any]],
    model: Any,
    align_model_metadata: dict[str, Any],
    audio: str | np.ndarray,
    device: str,
    interpolate_method: str = "nearest",
    return_char_alignments: bool = False,
    print_progress: bool = False,
    combined_progress: bool = False,
    progress_callback: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    _check_audio(audio)
    if not isinstance(model, AlignModel) or model.language != align_model_metadata["language"]:
        raise TypeError("model and metadata must come from one load_align_model call")
    dictionary = align_model_metadata["dictionary"]
    segments = []
    for segment in transcript:
        words = segment["text"].split()
        step = (segment["end"] - segment["start"]) / max(len(words), 1)
        aligned_words: list[dict[str, Any]] = []
        for i, word in enumerate(words):
            item: dict[str, Any] = {"word": word}
            if any(c.lower() in dictionary for c in word):
                start = segment["start"] + i * step
                item.update(start=round(start, 3), end=round(start + step * 0.8, 3), score=0.875)
            aligned_words.append(item)
        segments.append(
            {
                "start": segment["start"],
                "end": segment["end"],
                "text": segment["text"].strip(),
                "words": aligned_words,
            }
        )
    word_segments = [w for s in segments for w in s["words"]]
    return {"segments": segments, "word_segments": word_segments}


# --- whisperx.diarize (assign_word_speakers is also exported at the top level) -----------
@recorded
def assign_word_speakers(
    diarize_df: Any,
    transcript_result: dict[str, Any],
    speaker_embeddings: dict[str, list[float]] | None = None,
    fill_nearest: bool = False,
) -> dict[str, Any]:
    turns = [(row["start"], row["end"], row["speaker"]) for row in diarize_df.to_dict("records")]

    def speaker(start: float, end: float) -> str | None:
        overlaps = {label: min(end, e) - max(start, s) for s, e, label in turns}
        best = max(overlaps.items(), key=lambda item: item[1], default=(None, 0.0))
        return best[0] if best[1] > 0 else None

    for segment in transcript_result.get("segments", []):
        label = speaker(segment["start"], segment["end"])
        if label is not None:
            segment["speaker"] = label
        for word in segment.get("words", []):
            if "start" in word:
                label = speaker(word["start"], word.get("end", word["start"]))
                if label is not None:
                    word["speaker"] = label
    return transcript_result
