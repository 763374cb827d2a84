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
from botocore.exceptions import ClientError

from fastapi_server.exceptions import BucketNotAllowed, InvalidRequest, NotReady
from fastapi_server.state import ServerState
from transcription.exceptions import SourceChanged, SourceMissing, TranscriptExists
from transcription.inference.engines import Engine, TranscribeOptions
from transcription.inference.service import download, publish, transcribe_audio
from transcription.layout import Layout, normalize_etag, parse_s3_uri
from transcription.logging import append_keys
from transcription.store import TranscriptStore, is_not_found
from transcription.transcript import Transcript

__all__ = [
    "S3Result",
    "S3Target",
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


def engine_of(state: ServerState) -> Engine:
    if state.engine is None:
        if state.status == "failed":
            raise NotReady("the model failed to load; see the server log", retry_after=60)
        raise NotReady()
    return state.engine


def resolve_target(
    layout: Layout,
    output_bucket: str,
    allowed: frozenset[str],
    s3_input_path: str,
    s3_output_path: str | None,
) -> S3Target:
    """Parse and check the paths of a /transcribe-s3 request (422 malformed, 403 not allowed)."""
    bucket, key = parse_s3_uri(s3_input_path)
    if s3_output_path:
        out_bucket, out_key = parse_s3_uri(s3_output_path)
    elif layout.is_input(key):
        out_bucket, out_key = output_bucket, layout.transcript_key(key)
    else:
        raise InvalidRequest(
            f"s3_output_path is required when the input key is not under {layout.input_prefix!r}"
        )
    if not out_key.endswith(".json"):
        raise InvalidRequest("s3_output_path must name a .json object")
    if layout.is_input(out_key):
        raise InvalidRequest(
            f"s3_output_path must not be under the input prefix {layout.input_prefix!r}: "
            "a transcript there would be transcribed in turn"
        )
    for name in {bucket, out_bucket}:
        if name not in allowed:
            raise BucketNotAllowed(f"bucket {name!r} is not in ALLOWED_BUCKETS")
    return S3Target(bucket, key, out_bucket, out_key)


async def transcribe_file(
    state: ServerState, path: Path, options: TranscribeOptions, queued_at: str
) -> Transcript:
    """Decode and transcribe an uploaded file in a slot (``route: "api"``, not stored)."""
    engine = engine_of(state)
    transcript = await state.slots.run(
        transcribe_audio, engine, path, options, state.settings.engine.max_audio_seconds
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
) -> tuple[S3Result, bool]:
    """Transcribe s3://bucket/key into the store; one run per output key at a time.

    Returns ``(result, joined)``; ``joined`` when this request shared a run in flight.
    """
    engine_of(state)
    append_keys(s3_key=target.key, output_key=target.output_key)

    async def run() -> S3Result:
        return await _transcribe_s3(state, target, options, queued_at, etag)

    # Keyed by audio version too: a re-upload must not join the run for the old content.
    version = f"#{normalize_etag(etag)}" if etag else ""
    run_key = f"{target.output_bucket}/{target.output_key}{version}"
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
) -> S3Result:
    store = TranscriptStore(state.s3, target.output_bucket, state.layout)
    current_etag = await anyio.to_thread.run_sync(_head_etag, state.s3, target.bucket, target.key)
    if etag and normalize_etag(etag) != current_etag:
        raise SourceChanged(f"s3://{target.bucket}/{target.key} no longer has ETag {etag}")
    existing = await anyio.to_thread.run_sync(store.read_current, target.output_key, current_etag)
    if existing is not None:
        log.info("a current transcript exists; the model does not run")
        return _done(state, S3Result(existing, "existing", target))

    transcript = await state.slots.run(
        _download_and_transcribe, state, target, current_etag, options
    )
    _count(state, "direct", transcript)
    transcript = transcript.with_context(
        route="direct", timings=replace(transcript.timings, queued_at=queued_at)
    )
    formats = state.settings.storage.output_formats
    try:
        outcome = await anyio.to_thread.run_sync(
            publish, store, transcript, target.output_key, formats
        )
    except TranscriptExists as exists:
        log.info("another writer stored the transcript first (%s); returning theirs", exists.reason)
        winner = await anyio.to_thread.run_sync(store.read, target.output_key)
        return _done(state, S3Result(winner or transcript, "lost_race", target))
    return _done(state, S3Result(transcript, outcome, target))


def _head_etag(s3: Any, bucket: str, key: str) -> str:
    try:
        response = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_not_found(error):
            raise SourceMissing(f"s3://{bucket}/{key} does not exist") from None
        raise
    return normalize_etag(response["ETag"])


def _download_and_transcribe(
    state: ServerState, target: S3Target, etag: str, options: TranscribeOptions
) -> Transcript:
    downloaded = download(state.s3, target.bucket, target.key, etag)
    try:
        transcript = transcribe_audio(
            engine_of(state), downloaded.path, options, state.settings.engine.max_audio_seconds
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
