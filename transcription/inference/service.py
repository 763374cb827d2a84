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

from transcription.diarization import DiarizeOptions, Diarizer, assign_speakers
from transcription.exceptions import ConditionFailed, SourceChanged, SourceMissing
from transcription.inference.audio import Audio, AudioSource, decode_audio
from transcription.inference.engines.base import Engine, TranscribeOptions
from transcription.objects import S3Objects
from transcription.store import UNSEEN, StoredObject, TranscriptStore, Unseen
from transcription.transcript import Source, Timings, Transcript, utc_now

__all__ = ["Downloaded", "diarize_transcript", "download", "publish", "transcribe_audio"]

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
    """Fetch s3://bucket/key into a new temp file (one GET).

    With ``etag`` the GET is conditional: a replaced object raises :class:`SourceChanged`,
    so an old job never overwrites the transcript of newer audio.
    """
    try:
        stream = S3Objects(s3).open(bucket, key, if_match=etag)
    except ConditionFailed:
        raise SourceChanged(f"s3://{bucket}/{key} changed since the job was made") from None
    if stream is None:
        raise SourceMissing(f"s3://{bucket}/{key} does not exist")
    suffix = Path(key).suffix[:16]
    fd, name = tempfile.mkstemp(prefix="audio-", suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in stream.chunks():
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    finally:
        stream.close()
    source = Source(bucket=bucket, key=key, etag=stream.head.etag, size=stream.head.size)
    return Downloaded(Path(name), source)


def transcribe_audio(
    engine: Engine,
    audio: AudioSource | Audio,
    options: TranscribeOptions,
    max_audio_seconds: float | None = None,
    diarize: DiarizeOptions | None = None,
    diarizer: Diarizer | None = None,
) -> Transcript:
    """Decode and transcribe, and with ``diarize`` label the speakers; timings cover all.

    Already decoded ``Audio`` (the batch worker decodes ahead, while the previous job
    transcribes) is transcribed as it is; then the timings cover the transcription only.
    ``diarize=None`` (the default) costs nothing: no diarizer is loaded, torch stays out.
    ``diarizer`` is the one loaded for the component's settings
    (:func:`transcription.inference.diarization.load_diarizer`); without one the default for
    the engine's settings is loaded once on first use.
    """
    started_at = utc_now()
    started = time.perf_counter()
    decoded = (
        audio if isinstance(audio, Audio) else decode_audio(audio, max_seconds=max_audio_seconds)
    )
    transcript = engine.transcribe(decoded.samples, options)
    if diarize is not None:
        transcript = diarize_transcript(transcript, decoded, diarize, diarizer or _default())
    timings = Timings(
        started_at=started_at,
        finished_at=utc_now(),
        audio_seconds=round(decoded.duration, 3),
        processing_seconds=round(time.perf_counter() - started, 3),
    )
    return transcript.with_context(timings=timings)


def diarize_transcript(
    transcript: Transcript, audio: Audio, options: DiarizeOptions, diarizer: Diarizer
) -> Transcript:
    """The speakers of ``audio`` put on ``transcript``'s words and segments."""
    started = time.perf_counter()
    turns = diarizer.diarize(
        audio.samples,
        num_speakers=options.num_speakers,
        min_speakers=options.min_speakers,
        max_speakers=options.max_speakers,
    )
    log.info(
        "diarized %.1f s of audio with %s in %.2f s: %d turns",
        audio.duration,
        diarizer.name,
        time.perf_counter() - started,
        len(turns),
    )
    return assign_speakers(transcript, turns)


def _default() -> Diarizer:
    from transcription.inference.diarization import load_diarizer
    from transcription.settings import EngineSettings, load

    return load_diarizer(load(EngineSettings))


def publish(
    store: TranscriptStore,
    transcript: Transcript,
    output_key: str,
    formats: tuple[str, ...],
    seen: StoredObject | Unseen | None = UNSEEN,
) -> str:
    """Store the transcript and its sidecars conditionally; see :meth:`TranscriptStore.save`."""
    outcome = store.save(transcript, output_key, formats, seen=seen)
    log.info("transcript %s: s3://%s/%s", outcome, store.bucket, output_key)
    return outcome
