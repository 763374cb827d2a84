"""Typed settings read from environment variables, one dataclass per concern.

Each field's environment variable is its name in upper case (``audio_bucket`` →
``AUDIO_BUCKET``). A field without a default is required; a missing one raises
:class:`SettingsError` naming the variable. A field marked ``secret`` refuses placeholder
values. Nested dataclass fields are read from the same environment, so a component's
settings can be built from the shared pieces here::

    @dataclass(frozen=True)
    class WorkerSettings:
        storage: StorageSettings
        engine: EngineSettings
        queue_url: str

    settings = load(WorkerSettings)

Every variable is documented in ``config.env.example``.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from transcription.exceptions import SettingsError

__all__ = [
    "AwsSettings",
    "EngineSettings",
    "StorageSettings",
    "TranslationSettings",
    "load",
    "secret",
]

T = TypeVar("T")

PLACEHOLDERS = frozenset(
    {"changeme", "change-me", "change_me", "replace-me", "secret", "xxx", "todo"}
)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def secret(default: Any = dataclasses.MISSING) -> Any:
    """A field whose value must not be a placeholder such as ``changeme``."""
    return field(default=default, metadata={"secret": True}, repr=False)


def load(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Build settings dataclass ``cls`` from ``environ`` (default: ``os.environ``)."""
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            values[f.name] = load(kind, env)  # type: ignore[arg-type]
            continue
        name = f.name.upper()
        raw = env.get(name)
        if raw is None or (raw == "" and not _is_optional(kind)):
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SettingsError(f"{name} is required (see config.env.example)")
            continue
        value = _convert(name, raw, kind)
        if f.metadata.get("secret"):
            _refuse_placeholder(name, value)
        values[f.name] = value
    return cls(**values)


def _is_optional(kind: Any) -> bool:
    return type(None) in typing.get_args(kind)


def _convert(name: str, raw: str, kind: Any) -> Any:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if raw == "":
            return None
        return _convert(name, raw, args[0])
    if origin is tuple:
        return tuple(
            _convert(name, part.strip(), args[0]) for part in raw.split(",") if part.strip()
        )
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(raw)
        if kind in (int, float):
            return kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    return raw


def _refuse_placeholder(name: str, value: Any) -> None:
    items = value if isinstance(value, tuple) else (value,)
    for item in items:
        if isinstance(item, str) and item.strip().lower() in PLACEHOLDERS:
            raise SettingsError(f"{name} holds a placeholder value; set a real secret")


@dataclass(frozen=True)
class AwsSettings:
    """Where AWS is. The region has no default in code: a missing one is an error."""

    aws_region: str | None = None
    aws_endpoint_url: str | None = None  # local only (moto's server)


@dataclass(frozen=True)
class StorageSettings:
    """The S3 key layout (ARCHITECTURE: "S3 key layout")."""

    audio_bucket: str
    transcript_bucket: str | None = None  # default: the audio bucket
    input_prefix: str = "audio/"
    output_prefix: str = "transcripts/"
    output_formats: tuple[str, ...] = ("json", "txt", "srt", "vtt")

    @property
    def output_bucket(self) -> str:
        return self.transcript_bucket or self.audio_bucket


@dataclass(frozen=True)
class EngineSettings:
    """Which engine runs, on what, with which limits."""

    engine: str = "faster-whisper"  # or "whisperx"
    model: str = "tiny.en"  # tiny.en and base resolve to the offline weights (engines/models.py)
    model_cache_dir: str | None = None  # where split weights are joined; default: user cache
    device: str = "cpu"  # or "cuda"
    compute_type: str | None = None  # default: int8 on cpu, float16 on cuda
    batch_size: int = 1  # > 1 uses the batched pipeline
    beam_size: int = 5
    cpu_threads: int = 0  # 0: let CTranslate2 decide
    concurrency: int = 1  # transcriptions that may run at once on one loaded model (per model)
    # Several models per process (transcription.inference.engines.pool): the names requests
    # may choose (default: MODEL only), per-model overrides of CONCURRENCY ("base=1,tiny.en=2"),
    # and how long a model other than MODEL may stay idle before it is unloaded (0: never).
    models: tuple[str, ...] = ()
    model_concurrency: tuple[str, ...] = ()
    model_idle_unload_seconds: float = 0.0
    max_audio_seconds: float = 3 * 60 * 60
    whisperx_align: bool = True
    whisperx_diarize: bool = False
    hf_token: str | None = secret(None)  # for whisperx diarization


@dataclass(frozen=True)
class TranslationSettings:
    """Which text translator (NMT) runs (transcription/translation/)."""

    nmt_engine: str = "apertium"  # or "ctranslate2" (the GPU image)
    nmt_model_dir: str | None = None  # ctranslate2: the converted NLLB model and tokenizer.json
    nmt_device: str = "cpu"  # ctranslate2: or "cuda"
    nmt_timeout_seconds: float = 120.0  # apertium: the most one call (all its texts) may take
