"""Start a Transcribe job for one audio version: quota, ticket, budget, then the call.

The order keeps every failure cheap and every success single:

1. **quota**: ``ListTranscriptionJobs`` counts the account's QUEUED and IN_PROGRESS jobs
   (pages read only until the limit is reached); at ``OVERFLOW_MAX_CONCURRENT_JOBS``
   :class:`QuotaFull`, nothing written;
2. **ticket** (``If-None-Match: *``): a second delivery of the same event stops here with
   :class:`AlreadyStarted`;
3. **budget**: the month's minutes (:class:`~transcription.managed.budget.MonthlyBudget`);
   refused: the ticket is removed again and :class:`BudgetSpent` raised;
4. ``StartTranscriptionJob`` with the deterministic name, output to the ticket's document key
   in the transcript bucket. ``ConflictException`` (the name exists: started before the
   ticket's owner crashed) counts as started; any other refusal gives the minutes back,
   removes the ticket and raises :class:`TranscribeUnavailable`, so the job is queued.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from transcription.aws_errors import error_code
from transcription.managed.budget import MonthlyBudget, Usage
from transcription.managed.exceptions import QuotaFull, TranscribeUnavailable
from transcription.managed.names import OverflowKeys, job_name
from transcription.managed.ticket import Ticket, Tickets
from transcription.objects import S3Objects
from transcription.transcript import Source

__all__ = ["ACTIVE_STATES", "ManagedStarter", "Started", "transcribe_language"]

log = logging.getLogger(__name__)

ACTIVE_STATES = ("QUEUED", "IN_PROGRESS")
MIN_SPEAKERS, MAX_SPEAKERS = 2, 30  # Transcribe's MaxSpeakerLabels bounds
# Our ISO 639-1 codes → Transcribe's language codes (the usual regional default).
LANGUAGE_CODES = {
    "en": "en-US", "es": "es-US", "de": "de-DE", "fr": "fr-FR", "it": "it-IT", "pt": "pt-BR",
    "nl": "nl-NL", "ja": "ja-JP", "ko": "ko-KR", "zh": "zh-CN", "hi": "hi-IN", "ar": "ar-SA",
    "ru": "ru-RU", "tr": "tr-TR", "sv": "sv-SE", "da": "da-DK", "pl": "pl-PL",
}  # fmt: skip


def transcribe_language(language: str | None) -> str | None:
    """Transcribe's code for one of ours; ``None`` (identify it) when unknown or not given."""
    return LANGUAGE_CODES.get(language or "")


@dataclass(frozen=True)
class Started:
    job_name: str
    minutes: float
    usage: Usage


class ManagedStarter:
    def __init__(
        self,
        transcribe: Any,
        objects: S3Objects,
        bucket: str,
        keys: OverflowKeys,
        budget: MonthlyBudget,
        *,
        max_concurrent_jobs: int,
        minimum_seconds_per_job: float,
    ) -> None:
        self.transcribe = transcribe
        self.bucket = bucket
        self.keys = keys
        self.budget = budget
        self.tickets = Tickets(objects, bucket, keys)
        self.max_concurrent_jobs = max_concurrent_jobs
        self.minimum_seconds_per_job = minimum_seconds_per_job

    def billed_minutes(self, audio_seconds: float) -> float:
        return round(max(audio_seconds, self.minimum_seconds_per_job) / 60, 4)

    def start(
        self,
        source: Source,
        output_key: str,
        *,
        audio_seconds: float,
        formats: tuple[str, ...],
        language: str | None = None,
        max_speakers: int | None = None,
        job_id: str | None = None,
        task_id: str | None = None,
    ) -> Started:
        """Start the job (see the module docstring for what each refusal raises)."""
        self._check_quota()
        name = job_name(source.bucket, source.key, source.etag)
        minutes = self.billed_minutes(audio_seconds)
        ticket = Ticket(
            job_name=name,
            source=source,
            output_key=output_key,
            document_key=self.keys.output(name),
            formats=formats,
            minutes=minutes,
            audio_seconds=audio_seconds,
            language=language,
            diarize=max_speakers is not None,
            job_id=job_id,
            task_id=task_id,
        )
        self.tickets.claim(ticket)
        try:
            usage = self.budget.reserve(minutes)
        except BaseException:
            self.tickets.drop(name)
            raise
        try:
            self._start_job(ticket, max_speakers)
        except TranscribeUnavailable:
            self.budget.release(minutes)
            self.tickets.drop(name)
            raise
        log.info("Transcribe job %s started for s3://%s/%s", name, source.bucket, source.key)
        return Started(name, minutes, usage)

    def active_jobs(self) -> int:
        """QUEUED + IN_PROGRESS jobs, counted up to the limit (enough to decide)."""
        count = 0
        try:
            for status in ACTIVE_STATES:
                token: str | None = None
                while count < self.max_concurrent_jobs:
                    kwargs: dict[str, Any] = {"Status": status, "MaxResults": 100}
                    if token:
                        kwargs["NextToken"] = token
                    page = self.transcribe.list_transcription_jobs(**kwargs)
                    count += len(page.get("TranscriptionJobSummaries") or ())
                    token = page.get("NextToken")
                    if not token:
                        break
        except (ClientError, BotoCoreError) as error:
            raise TranscribeUnavailable(f"ListTranscriptionJobs failed: {error}") from error
        return count

    def _check_quota(self) -> None:
        active = self.active_jobs()
        if active >= self.max_concurrent_jobs:
            raise QuotaFull(
                f"{active} Transcribe jobs queued or running; "
                f"OVERFLOW_MAX_CONCURRENT_JOBS={self.max_concurrent_jobs}"
            )

    def _start_job(self, ticket: Ticket, max_speakers: int | None) -> None:
        source = ticket.source
        request: dict[str, Any] = {
            "TranscriptionJobName": ticket.job_name,
            "Media": {"MediaFileUri": f"s3://{source.bucket}/{source.key}"},
            "OutputBucketName": self.bucket,
            "OutputKey": ticket.document_key,
        }
        code = transcribe_language(ticket.language)
        if code:
            request["LanguageCode"] = code
        else:
            request["IdentifyLanguage"] = True
        if max_speakers is not None:
            speakers = min(MAX_SPEAKERS, max(MIN_SPEAKERS, max_speakers))
            request["Settings"] = {"ShowSpeakerLabels": True, "MaxSpeakerLabels": speakers}
        try:
            self.transcribe.start_transcription_job(**request)
        except ClientError as error:
            if error_code(error) == "ConflictException":
                log.info("Transcribe job %s exists already: started before", ticket.job_name)
                return
            raise TranscribeUnavailable(f"StartTranscriptionJob refused: {error}") from error
        except BotoCoreError as error:
            raise TranscribeUnavailable(f"StartTranscriptionJob failed: {error}") from error
