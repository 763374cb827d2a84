"""The claim on a start: one ticket object per Transcribe job, created ``If-None-Match: *``.

The router writes the ticket before it starts the job; a second delivery of the same upload
event finds it and starts nothing. The ticket also carries what the collector needs that
Transcribe does not keep: where the transcript goes, the audio's identity, the formats, and
whether speakers were asked for. The collector deletes it once the transcript is written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from transcription.exceptions import ConditionFailed
from transcription.managed.exceptions import AlreadyStarted
from transcription.managed.names import OverflowKeys
from transcription.objects import S3Objects
from transcription.transcript import Source, utc_now

__all__ = ["Ticket", "Tickets"]


@dataclass(frozen=True)
class Ticket:
    job_name: str
    source: Source
    output_key: str  # the transcript's key in the transcript bucket
    document_key: str  # where Transcribe writes its output document (same bucket)
    formats: tuple[str, ...]
    minutes: float  # reserved in the month's budget
    audio_seconds: float  # estimated from the size
    language: str | None = None
    diarize: bool = False
    job_id: str | None = None  # a batch job's item
    task_id: str | None = None
    started_at: str = field(default_factory=utc_now)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, body: bytes) -> Ticket:
        data: dict[str, Any] = json.loads(body)
        data["source"] = Source(**data["source"])
        data["formats"] = tuple(data.get("formats") or ())
        return cls(**data)


class Tickets:
    def __init__(self, objects: S3Objects, bucket: str, keys: OverflowKeys) -> None:
        self.objects = objects
        self.bucket = bucket
        self.keys = keys

    def claim(self, ticket: Ticket) -> None:
        """Create the ticket; :class:`AlreadyStarted` when one exists."""
        try:
            self.objects.put(
                self.bucket,
                self.keys.ticket(ticket.job_name),
                ticket.to_json(),
                "application/json",
                if_none_match=True,
            )
        except ConditionFailed as lost:
            raise AlreadyStarted(ticket.job_name) from lost

    def read(self, job_name: str) -> Ticket | None:
        got = self.objects.get(self.bucket, self.keys.ticket(job_name))
        return Ticket.from_json(got.body) if got is not None else None

    def drop(self, job_name: str) -> None:
        self.objects.delete(self.bucket, self.keys.ticket(job_name))

    def names(self) -> list[str]:
        """The job names of every open ticket (the local collector's poll)."""
        keys = self.objects.keys(self.bucket, self.keys.tickets)
        return sorted(k.removeprefix(self.keys.tickets).removesuffix(".json") for k in keys)
