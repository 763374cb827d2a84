"""Audio objects and job messages for tests: upload, enqueue, count, make long audio.

``queue_counts(sqs, queue_url)`` → (visible, in flight) is the scheduler's own reading.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from batch_worker.scheduler import queue_counts
from transcription.job import Job, JobOptions
from transcription.layout import Layout, normalize_etag

__all__ = ["concatenate_wavs", "enqueue", "queue_counts", "upload_job"]


def upload_job(
    s3: Any,
    bucket: str,
    key: str,
    body: bytes | Path,
    *,
    reason: str = "forced",
    formats: tuple[str, ...] = ("json", "txt", "srt", "vtt"),
    output_key: str | None = None,
) -> Job:
    """Put ``body`` at ``s3://bucket/key`` and return the job the router would enqueue
    (``output_key``: for a key outside the input prefix, which has no transcript key)."""
    data = body.read_bytes() if isinstance(body, Path) else body
    response = s3.put_object(Bucket=bucket, Key=key, Body=data)
    return Job(
        bucket=bucket,
        key=key,
        etag=normalize_etag(response["ETag"]),
        size=len(data),
        output_bucket=bucket,
        output_key=output_key or Layout().transcript_key(key),
        reason=reason,
        options=JobOptions(formats=formats),
    )


def enqueue(sqs: Any, queue_url: str, job: Job) -> str:
    """Send ``job`` as the router does (body and attributes); returns the message id."""
    response = sqs.send_message(
        QueueUrl=queue_url, MessageBody=job.to_json(), MessageAttributes=job.message_attributes()
    )
    return str(response["MessageId"])


def concatenate_wavs(paths: Sequence[Path], out: Path, repeat: int = 1) -> Path:
    """One longer WAV of ``paths`` played ``repeat`` times (all must share one format)."""
    with wave.open(str(paths[0])) as first:
        params = first.getparams()
    with wave.open(str(out), "wb") as writer:
        writer.setparams(params)
        for _ in range(repeat):
            for path in paths:
                with wave.open(str(path)) as reader:
                    writer.writeframes(reader.readframes(reader.getnframes()))
    return out
