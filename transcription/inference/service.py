"""The steps every transcribing component shares: download, transcribe, publish.

The server's ``/transcribe-s3``, the batch worker and the CLI call these in order (the worker
overlaps them across jobs). Each step raises the named errors of :mod:`.exceptions`.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from transcription.exceptions import SourceChanged, SourceMissing, StorageUnavailable
from transcription.inference.audio import Audio, AudioSource, decode_audio
from transcription.inference.engines.base import Engine, TranscribeOptions
from transcription.layout import normalize_etag
from transcription.store import TranscriptStore, is_not_found
from transcription.transcript import Source, Timings, Transcript, utc_now

__all__ = ["Downloaded", "download", "publish", "transcribe_audio"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Downloaded:
    path: Path  # a temp file of its own; the caller removes it (``discard``)
    source: Source

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def download(
    s3: Any, bucket: str, key: str, etag: str | None = None, directory: str | None = None
) -> Downloaded:
    """Fetch s3://bucket/key into a new temp file.

    With ``etag`` the GET is conditional: a replaced object raises :class:`SourceChanged`,
    so an old job never overwrites the transcript of newer audio.
    """
    extra = {"IfMatch": f'"{normalize_etag(etag)}"'} if etag else {}
    try:
        response = s3.get_object(Bucket=bucket, Key=key, **extra)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if is_not_found(error):
            raise SourceMissing(f"s3://{bucket}/{key} does not exist") from None
        if code in {"PreconditionFailed", "412"}:
            raise SourceChanged(f"s3://{bucket}/{key} changed since the job was made") from None
        if code in {"AccessDenied", "403"}:
            raise
        raise StorageUnavailable(f"cannot read s3://{bucket}/{key}: {error}") from error
    suffix = Path(key).suffix[:16]
    fd, name = tempfile.mkstemp(prefix="audio-", suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in response["Body"].iter_chunks(1 << 20):
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    source = Source(
        bucket=bucket,
        key=key,
        etag=normalize_etag(response["ETag"]),
        size=int(response["ContentLength"]),
    )
    return Downloaded(Path(name), source)


def transcribe_audio(
    engine: Engine,
    audio: AudioSource | Audio,
    options: TranscribeOptions,
    max_audio_seconds: float | None = None,
) -> Transcript:
    """Decode and transcribe; the transcript's timings cover both.

    Already decoded ``Audio`` (the batch worker decodes ahead, while the previous job
    transcribes) is transcribed as it is; then the timings cover the transcription only.
    """
    started_at = utc_now()
    started = time.perf_counter()
    decoded = (
        audio if isinstance(audio, Audio) else decode_audio(audio, max_seconds=max_audio_seconds)
    )
    transcript = engine.transcribe(decoded.samples, options)
    timings = Timings(
        started_at=started_at,
        finished_at=utc_now(),
        audio_seconds=round(decoded.duration, 3),
        processing_seconds=round(time.perf_counter() - started, 3),
    )
    return transcript.with_context(timings=timings)


def publish(
    store: TranscriptStore, transcript: Transcript, output_key: str, formats: tuple[str, ...]
) -> str:
    """Store the transcript and its sidecars conditionally; see :meth:`TranscriptStore.save`."""
    outcome = store.save(transcript, output_key, formats)
    log.info("transcript %s: s3://%s/%s", outcome, store.bucket, output_key)
    return outcome
