"""What happens once when a job ends: the EventBridge event, and the webhook delivery queued.

The detail ``{job_id, status, owner, progress, results_url, completed_at}`` is the event's
``detail`` (source ``transcription-router``, detail-type ``Transcription Job Completed``) and
the webhook's body. The webhook message names the key whose secret signs it; its
``webhook_id`` is the same for every attempt, so a receiver can drop repeats.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from jobs_api.exceptions import JobsError
from jobs_api.settings import JobsSettings
from jobs_api.store import JobStore, StoredJob

__all__ = [
    "EVENT_SOURCE",
    "JOB_COMPLETED",
    "Notifier",
    "NotifyFailed",
    "announce_if_done",
    "completion_detail",
]

log = logging.getLogger(__name__)

EVENT_SOURCE = "transcription-router"
JOB_COMPLETED = "Transcription Job Completed"


class NotifyFailed(JobsError):
    """EventBridge or SQS refused the completion (the tracker's invocation fails, and retries)."""

    code = "notify_failed"
    permanent = False


def completion_detail(job: StoredJob, api_url: str | None) -> dict[str, Any]:
    path = f"/v1/jobs/{job.job_id}/results"
    return {
        "job_id": job.job_id,
        "status": job.status,
        "owner": job.owner,
        "progress": {"total": job.total, **job.progress},
        "results_url": f"{api_url.rstrip('/')}{path}" if api_url else path,
        "completed_at": job.completed_at,
    }


class Notifier:
    def __init__(
        self, settings: JobsSettings, events: Any, sqs: Any, *, retry_wait: Any = None
    ) -> None:
        self.settings = settings
        self.events = events
        self.sqs = sqs
        self.retry_wait = retry_wait or wait_random_exponential(multiplier=0.2, max=3)

    def job_completed(self, job: StoredJob) -> dict[str, Any]:
        """Publish the completion of ``job`` (call it once: after winning the completion)."""
        detail = completion_detail(job, self.settings.jobs_api_url)
        body = json.dumps(detail, separators=(",", ":"))
        self._put_event(body)
        if job.webhook_url and self.settings.webhook_queue_url:
            self._send(
                json.dumps(
                    {
                        "webhook_id": f"msg_{job.job_id}",
                        "job_id": job.job_id,
                        "key_id": job.key_id,
                        "url": job.webhook_url,
                        "payload": body,
                    }
                )
            )
        log.info("job %s completed: %s", job.job_id, job.status)
        return detail

    def _put_event(self, detail: str) -> None:
        for attempt in Retrying(
            retry=retry_if_exception_type((NotifyFailed, BotoCoreError)),
            stop=stop_after_attempt(4),
            wait=self.retry_wait,
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        ):
            with attempt:
                self._put_event_once(detail)

    def _put_event_once(self, detail: str) -> None:
        try:
            response = self.events.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": JOB_COMPLETED,
                        "Detail": detail,
                        "EventBusName": self.settings.jobs_event_bus,
                    }
                ]
            )
        except ClientError as error:
            raise NotifyFailed(f"EventBridge refused the completion: {error}") from error
        if response.get("FailedEntryCount"):
            raise NotifyFailed(f"EventBridge refused the completion: {response['Entries']}")

    def _send(self, body: str) -> None:
        try:
            self.sqs.send_message(QueueUrl=self.settings.webhook_queue_url, MessageBody=body)
        except (ClientError, BotoCoreError) as error:
            raise NotifyFailed(f"the webhook delivery was not queued: {error}") from error


def announce_if_done(jobs: JobStore, notifier: Notifier, job_id: str) -> StoredJob | None:
    """Complete the job if nothing remains and announce it; the job when this call did.

    At most one caller at a time announces a job; a failed announcement releases its claim
    (and raises), so the next event for the job (a redelivery) announces it instead.
    """
    job = jobs.complete_if_done(job_id)
    if job is None:
        return None
    try:
        notifier.job_completed(job)
    except (NotifyFailed, BotoCoreError):
        jobs.release_announcement(job_id)
        raise
    jobs.mark_announced(job_id)
    return job
