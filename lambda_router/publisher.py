"""The batch path: one SQS ``SendMessage`` with the job message (``transcription.job.Job``).

``reason`` goes in the body and as a message attribute (queue metrics are split by it).
If SQS cannot be reached or refuses, :class:`EnqueueFailed` is raised: the invocation
fails, so Lambda retries it and finally hands it to its on-failure destination. An event
is never dropped silently.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_router.exceptions import EnqueueFailed
from transcription.job import Job

__all__ = ["JobPublisher"]

log = logging.getLogger(__name__)


class JobPublisher:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url

    def send(self, job: Job, delay_seconds: int = 0) -> str:
        """Put ``job`` on the queue; returns the SQS message id."""
        try:
            response = self.sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=job.to_json(),
                MessageAttributes=job.message_attributes(),
                DelaySeconds=delay_seconds,
            )
        except (ClientError, BotoCoreError) as error:
            raise EnqueueFailed(
                f"cannot put the job for s3://{job.bucket}/{job.key} on {self.queue_url}: {error}"
            ) from error
        message_id = str(response["MessageId"])
        log.info(
            "job queued",
            extra={
                "fields": {"reason": job.reason, "message_id": message_id, "delay": delay_seconds}
            },
        )
        return message_id
