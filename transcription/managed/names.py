"""Names derived from the audio version: one Transcribe job per audio key and ETag.

The job name is a hash of bucket, key and ETag, so every delivery of an upload's event names
the same job, and a new version of the audio a new one. Transcribe allows ``[0-9a-zA-Z._-]``,
up to 200 characters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from transcription.layout import normalize_etag

__all__ = ["JOB_NAME_PREFIX", "OverflowKeys", "job_name"]

JOB_NAME_PREFIX = "overflow-"


def job_name(bucket: str, key: str, etag: str) -> str:
    digest = hashlib.sha256(f"{bucket}\n{key}\n{normalize_etag(etag)}".encode()).hexdigest()
    return f"{JOB_NAME_PREFIX}{digest[:40]}"


@dataclass(frozen=True)
class OverflowKeys:
    """Where the overflow keeps its objects in the transcript bucket (``OVERFLOW_PREFIX``)."""

    prefix: str = "overflow/"

    @property
    def tickets(self) -> str:
        return f"{self.prefix}tickets/"

    def ticket(self, name: str) -> str:
        return f"{self.tickets}{name}.json"

    def output(self, name: str) -> str:
        """Where Transcribe is told to write the job's output document."""
        return f"{self.prefix}output/{name}.json"

    def budget(self, when: datetime) -> str:
        return f"{self.prefix}budget/{when:%Y-%m}.json"
