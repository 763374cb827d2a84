"""What the routes call: transcribe an uploaded file, or an S3 object into the store.

Blocking work never runs on the event loop: decoding and the model run in a transcription
slot (:class:`~fastapi_server.concurrency.Slots`), S3 calls in the default thread pool.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio.to_thread

from fastapi_server.exceptions import NotReady
from fastapi_server.state import ServerState
from transcription.diarization import DiarizeOptions
from transcription.exceptions import SourceMissing, TranscriptExists
from transcription.inference.audio import Audio
from transcription.inference.engines import TranscribeOptions
from transcription.inference.engines.pool import ModelPool
from transcription.inference.service import download, publish, transcribe_audio
from transcription.layout import OutputPolicy, normalize_etag, parse_s3_uri
from transcription.logging import append_keys
from transcription.objects import S3Objects
from transcription.store import TranscriptStore
from transcription.transcript import Transcript

__all__ = [
    "OPENAI_DEFAULT_MODELS",
    "S3Result",
    "S3Target",
    "choose_model",
    "engine_of",
    "output_policy",
    "resolve_target",
    "server_timing",
    "transcribe_file",
    "transcribe_s3",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class S3Target:
    bucket: str
    key: str
    output_bucket: str
    output_key: str

    @property
    def output_uri(self) -> str:
        return f"s3://{self.output_bucket}/{self.output_key}"


@dataclass(frozen=True)
class S3Result:
    transcript: Transcript
    outcome: str  # created | replaced | existing | lost_race
    target: S3Target


# OpenAI clients send a model name of OpenAI's; it means "the server's default model".
OPENAI_DEFAULT_MODELS = frozenset({"whisper-1"})


def engine_of(state: ServerState) -> ModelPool:
    """The model pool, once the default model is loaded (503 ``not_ready`` until then)."""
    if state.engine is None:
        if state.status == "failed":
            raise NotReady("the model failed to load; see the server log", retry_after=60)
        raise NotReady()
    return state.pool


def choose_model(state: ServerState, requested: str | None, field: str = "model") -> str:
    """The pool's name for a request's ``model`` (422 ``unknown_model`` if not in MODELS)."""
    if requested in OPENAI_DEFAULT_MODELS:
        return state.pool.default
    return state.pool.resolve(requested, field)


def output_policy(state: ServerState) -> OutputPolicy:
    """Where /transcribe-s3 may read and write: ALLOWED_BUCKETS and the layout's keys."""
    settings = state.settings
    return OutputPolicy(state.layout, settings.storage.output_bucket, settings.buckets)


def resolve_target(
    policy: OutputPolicy, s3_input_path: str, s3_output_path: str | None
) -> S3Target:
    """Parse and check the paths of a /transcribe-s3 request (422 malformed, 403 not allowed).

    ``s3_output_path`` may only repeat the layout's place for the input (or its batch job's
    result key): no request can make one audio's transcript replace another's.
    """
    bucket, key = parse_s3_uri(s3_input_path)
    if s3_output_path:
        out_bucket, out_key = parse_s3_uri(s3_output_path)
    else:
        out_bucket, out_key = policy.default_output(bucket, key)
    policy.check(bucket, key, out_bucket, out_key)
    return S3Target(bucket, key, out_bucket, out_key)


async def transcribe_file(
    state: ServerState,
    path: Path | Audio,
    options: TranscribeOptions,
    queued_at: str,
    diarize: DiarizeOptions | None = None,
) -> Transcript:
    """Decode and transcribe an uploaded file in a slot of ``options.model`` (``route:
    "api"``, not stored), labelling the speakers with ``diarize``; ``path`` may also be audio
    decoded already."""
    pool = engine_of(state)
    model = choose_model(state, options.model)
    transcript = await state.slots[model].run(
        transcribe_audio,
        pool,
        path,
        replace(options, model=model),
        state.settings.engine.max_audio_seconds,
        diarize,
    )
    _count(state, "api", transcript)
    return transcript.with_context(
        route="api", timings=replace(transcript.timings, queued_at=queued_at)
    )


def server_timing(transcript: Transcript) -> dict[str, str]:
    """``Server-Timing: transcribe;dur=<ms>``: decode and engine time inside the server."""
    seconds = transcript.timings.processing_seconds or 0.0
    return {"Server-Timing": f"transcribe;dur={seconds * 1000:.1f}"}


async def transcribe_s3(
    state: ServerState,
    target: S3Target,
    options: TranscribeOptions,
    queued_at: str,
    etag: str | None = None,
    diarize: DiarizeOptions | None = None,
) -> tuple[S3Result, bool]:
    """Transcribe s3://bucket/key into the store; one run per output key at a time.

    Returns ``(result, joined)``; ``joined`` when this request shared a run in flight.
    """
    engine_of(state)
    options = replace(options, model=choose_model(state, options.model))
    append_keys(s3_key=target.key, output_key=target.output_key)

    async def run() -> S3Result:
        return await _transcribe_s3(state, target, options, queued_at, etag, diarize)

    # Keyed by audio version, model and diarization too: a re-upload (or another model)
    # must not join the run for the old content.
    version = f"#{normalize_etag(etag)}" if etag else ""
    speakers = f"+{diarize}" if diarize is not None else ""
    run_key = f"{target.output_bucket}/{target.output_key}{version}@{options.model}{speakers}"
    result, joined = await state.in_flight.run(run_key, run)
    if joined:
        state.metrics.dedupe_joins.inc()
    return result, joined


async def _transcribe_s3(
    state: ServerState,
    target: S3Target,
    options: TranscribeOptions,
    queued_at: str,
    etag: str | None,
    diarize: DiarizeOptions | None = None,
) -> S3Result:
    """At most 4 S3 requests plus one per sidecar: the transcript GET, the audio GET
    (conditional on the ETag), the transcript PUT (conditional on what the GET found), the
    sidecar PUTs and the error record DELETE. A request without ``etag`` adds an audio HEAD.

    The transcript is looked at before the audio is read: a transcript current for the
    requested ETag is returned as it is (its missing sidecars written), even if the audio
    has been replaced since; that version has its own event.
    """
    store = TranscriptStore(state.s3, target.output_bucket, state.layout)
    formats = state.settings.storage.output_formats
    if etag is None:
        etag = await anyio.to_thread.run_sync(_audio_etag, state.s3, target.bucket, target.key)
    found = await anyio.to_thread.run_sync(store.find, target.output_key)
    existing = found.current_for(etag) if found is not None else None
    if found is not None and existing is not None:
        log.info("a current transcript exists; the model does not run")
        await anyio.to_thread.run_sync(
            store.repair, target.output_key, found.stored, formats, existing
        )
        return _done(state, S3Result(existing, "existing", target))

    assert options.model is not None  # chosen by transcribe_s3
    transcript = await state.slots[options.model].run(
        _download_and_transcribe, state, target, etag, options, diarize
    )
    _count(state, "direct", transcript)
    transcript = transcript.with_context(
        route="direct", timings=replace(transcript.timings, queued_at=queued_at)
    )
    seen = found.stored if found is not None else None
    try:
        outcome = await anyio.to_thread.run_sync(
            publish, store, transcript, target.output_key, formats, seen
        )
    except TranscriptExists as exists:
        log.info("another writer stored the transcript first (%s); returning theirs", exists.reason)
        winner = await anyio.to_thread.run_sync(store.read, target.output_key)
        return _done(state, S3Result(winner or transcript, "lost_race", target))
    return _done(state, S3Result(transcript, outcome, target))


def _audio_etag(s3: Any, bucket: str, key: str) -> str:
    head = S3Objects(s3).head(bucket, key)
    if head is None:
        raise SourceMissing(f"s3://{bucket}/{key} does not exist")
    return head.etag


def _download_and_transcribe(
    state: ServerState,
    target: S3Target,
    etag: str,
    options: TranscribeOptions,
    diarize: DiarizeOptions | None = None,
) -> Transcript:
    downloaded = download(state.s3, target.bucket, target.key, etag)
    try:
        transcript = transcribe_audio(
            engine_of(state),
            downloaded.path,
            options,
            state.settings.engine.max_audio_seconds,
            diarize,
        )
    finally:
        downloaded.discard()
    return transcript.with_context(source=downloaded.source)


def _count(state: ServerState, route: str, transcript: Transcript) -> None:
    timings = transcript.timings
    state.metrics.transcribed(
        route, timings.audio_seconds or 0.0, timings.processing_seconds or 0.0
    )


def _done(state: ServerState, result: S3Result) -> S3Result:
    state.metrics.transcripts.labels(result.outcome).inc()
    return result
