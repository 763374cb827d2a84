"""The batch path: one SQS ``SendMessage`` with the job message (``transcription.job.Job``).

Uploads go to the ``normal`` queue (``QUEUE_URL``); an uploaded batch-job item goes to the
queue of its job's priority (:mod:`lambda_router.job_priority`).

``reason`` goes in the body and as a message attribute (queue metrics are split by it).
If SQS cannot be reached or refuses, :class:`EnqueueFailed` is raised: the invocation
fails, so Lambda retries it and finally hands it to its on-failure destination. An event
is never dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_router.exceptions import EnqueueFailed
from transcription.job import Job
from transcription.priority import DEFAULT_PRIORITY

__all__ = ["JobPublisher"]

log = logging.getLogger(__name__)


class JobPublisher:
    def __init__(self, sqs: Any, queue_urls: Mapping[str, str]) -> None:
        self.sqs = sqs
        self.queue_urls = dict(queue_urls)

    def send(self, job: Job, delay_seconds: int = 0, priority: str = DEFAULT_PRIORITY) -> str:
        """Put ``job`` on the queue of ``priority``; returns the SQS message id."""
        queue_url = self.queue_urls[priority]
        try:
            response = self.sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=job.to_json(),
                MessageAttributes=job.message_attributes(),
                DelaySeconds=delay_seconds,
            )
        except (ClientError, BotoCoreError) as error:
            raise EnqueueFailed(
                f"cannot put the job for s3://{job.bucket}/{job.key} on {queue_url}: {error}"
            ) from error
        message_id = str(response["MessageId"])
        log.info(
            "job queued",
            extra={
                "fields": {
                    "reason": job.reason,
                    "message_id": message_id,
                    "delay": delay_seconds,
                    "priority": priority,
                }
            },
        )
        return message_id
