"""Turn a completed Transcribe job into our transcript, written once.

:meth:`Collector.collect` is called with a job name: from the "Transcribe Job State Change"
event on AWS (:meth:`Collector.collect_event`), or for every open ticket by the local poll
(:meth:`Collector.collect_pending`). Per job:

* no ticket: not ours, or collected before (the ticket is deleted once the transcript is
  written): ``unknown``, nothing read or written;
* a current transcript already at the ticket's output key: ``exists``;
* QUEUED / IN_PROGRESS: ``pending``; FAILED: an error record with Transcribe's reason;
* COMPLETED: its output document converted (:func:`~transcription.managed.convert.from_transcribe`),
  with ``route`` ``managed``, the audio's source and timings, and saved with the store's
  conditional writes (:meth:`TranscriptStore.save`): ``written``; another writer first:
  ``exists``. The sidecars the ticket names are written with it. With a budget, the month's
  minutes are corrected from the start's estimate to the transcript's billed length.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from transcription.exceptions import SourceChanged, TranscriptExists
from transcription.managed.budget import MonthlyBudget
from transcription.managed.convert import from_transcribe
from transcription.managed.exceptions import OutputMissing, TranscribeUnavailable
from transcription.managed.names import JOB_NAME_PREFIX, OverflowKeys
from transcription.managed.ticket import Ticket, Tickets
from transcription.store import TranscriptStore
from transcription.transcript import Timings

__all__ = ["ROUTE", "TRANSCRIBE_EVENT", "Collected", "Collector"]

log = logging.getLogger(__name__)

ROUTE = "managed"
TRANSCRIBE_EVENT = "Transcribe Job State Change"
PENDING_STATES = frozenset({"QUEUED", "IN_PROGRESS"})


@dataclass(frozen=True)
class Collected:
    job_name: str
    outcome: str  # written | exists | pending | failed | unknown | source_changed
    output_key: str | None = None
    detail: str | None = None


class Collector:
    def __init__(
        self,
        transcribe: Any,
        store: TranscriptStore,
        keys: OverflowKeys,
        *,
        budget: MonthlyBudget | None = None,
        billed_minutes: Callable[[float], float] | None = None,
    ) -> None:
        self.transcribe = transcribe
        self.store = store
        self.tickets = Tickets(store.objects, store.bucket, keys)
        self.budget = budget
        self.billed_minutes = billed_minutes

    def collect_event(self, event: dict[str, Any]) -> Collected | None:
        """The job an EventBridge "Transcribe Job State Change" event names; None if not ours."""
        if event.get("detail-type") != TRANSCRIBE_EVENT:
            return None
        name = str((event.get("detail") or {}).get("TranscriptionJobName") or "")
        if not name.startswith(JOB_NAME_PREFIX):
            return None
        return self.collect(name)

    def collect_pending(self) -> list[Collected]:
        """Every open ticket's job (the local stand-in for the state-change events)."""
        return [self.collect(name) for name in self.tickets.names()]

    def collect(self, job_name: str) -> Collected:
        ticket = self.tickets.read(job_name)
        if ticket is None:
            return Collected(job_name, "unknown", detail="no ticket: not ours, or collected")
        if self.store.is_current(ticket.output_key, ticket.source.etag):
            self.tickets.drop(job_name)
            return Collected(job_name, "exists", ticket.output_key)
        job = self._job(job_name)
        status = job.get("TranscriptionJobStatus")
        if status in PENDING_STATES:
            return Collected(job_name, "pending", ticket.output_key, status)
        if status != "COMPLETED":
            return self._failed(ticket, str(job.get("FailureReason") or status))
        return self._write(ticket, job)

    def _job(self, job_name: str) -> dict[str, Any]:
        try:
            response = self.transcribe.get_transcription_job(TranscriptionJobName=job_name)
        except (ClientError, BotoCoreError) as error:
            raise TranscribeUnavailable(f"GetTranscriptionJob {job_name}: {error}") from error
        return dict(response["TranscriptionJob"])

    def _write(self, ticket: Ticket, job: dict[str, Any]) -> Collected:
        got = self.store.objects.get(self.store.bucket, ticket.document_key)
        if got is None:
            raise OutputMissing(
                f"job {ticket.job_name} is COMPLETED but s3://{self.store.bucket}/"
                f"{ticket.document_key} is missing"
            )
        converted = from_transcribe(json.loads(got.body), speakers=ticket.diarize)
        start, end = job.get("StartTime"), job.get("CompletionTime")
        transcript = converted.with_context(
            source=ticket.source,
            route=ROUTE,
            timings=Timings(
                queued_at=ticket.started_at,
                started_at=_iso(start),
                finished_at=_iso(end),
                audio_seconds=converted.timings.audio_seconds,
                processing_seconds=_seconds_between(start, end),
            ),
        )
        try:
            self.store.save(transcript, ticket.output_key, ticket.formats)
        except TranscriptExists:
            log.info("%s: another writer stored it first; keeping theirs", ticket.output_key)
            outcome = "exists"
        except SourceChanged as changed:
            log.info("%s: not written: %s", ticket.output_key, changed)
            outcome = "source_changed"
        else:
            outcome = "written"
        if self.budget is not None and self.billed_minutes is not None:
            billed = self.billed_minutes(converted.duration)
            if billed != ticket.minutes:
                self.budget.correct(round(billed - ticket.minutes, 4))
        self.tickets.drop(ticket.job_name)
        return Collected(ticket.job_name, outcome, ticket.output_key)

    def _failed(self, ticket: Ticket, reason: str) -> Collected:
        source = {**ticket.source.__dict__}
        self.store.save_error(ticket.output_key, "managed_failed", reason, source)
        self.tickets.drop(ticket.job_name)
        return Collected(ticket.job_name, "failed", ticket.output_key, reason)


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value) if value else None


def _seconds_between(start: Any, end: Any) -> float | None:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return round(max(0.0, (end - start).total_seconds()), 3)
    return None
