"""A job's task messages onto the queue of its priority: ``SendMessageBatch`` of 10, in parallel.

A message is the core's job message (``transcription.job.Job``, version 1) with the batch
fields set: ``job_id``, ``task_id``, ``priority`` and ``job_type`` (and ``src_lng``/
``tgt_lng``/``model`` when given). Its attributes are the job's (``reason``, ``trace_id``:
the job id); the queue says the priority. Entries SQS reports as failed are sent again
(bounded); what still fails raises :class:`TasksNotEnqueued`, and the submission answers 503
so the caller retries with the same ``Idempotency-Key``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from jobs_api.exceptions import TasksNotEnqueued
from transcription.job import Job

__all__ = ["SQS_BATCH", "TaskPublisher"]

log = logging.getLogger(__name__)

SQS_BATCH = 10  # SQS's limit per SendMessageBatch
SENDERS = 8


class _PartlySent(Exception):
    """SQS reported some entries of a batch as failed."""


class TaskPublisher:
    def __init__(self, sqs: Any, queue_urls: Mapping[str, str]) -> None:
        self.sqs = sqs
        self.queue_urls = dict(queue_urls)

    def send(self, messages: Sequence[Job]) -> None:
        """Put every task message on the queue of its priority."""
        batches: list[tuple[str, list[Job]]] = []
        for priority, url in self.queue_urls.items():
            mine = [m for m in messages if m.priority == priority]
            batches += [(url, mine[i : i + SQS_BATCH]) for i in range(0, len(mine), SQS_BATCH)]
        with ThreadPoolExecutor(SENDERS) as pool:
            list(pool.map(lambda batch: self._send_batch(*batch), batches))

    def _send_batch(self, url: str, batch: list[Job]) -> None:
        pending = {str(i): m for i, m in enumerate(batch)}
        try:
            self._send_pending(url, pending)
        except (_PartlySent, ClientError, BotoCoreError) as error:
            raise TasksNotEnqueued(
                f"{len(pending)} task messages not sent to {url}: {error}"
            ) from error

    @retry(
        retry=retry_if_exception_type((_PartlySent, BotoCoreError)),
        stop=stop_after_attempt(4),
        wait=wait_random_exponential(multiplier=0.1, max=2),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    def _send_pending(self, url: str, pending: dict[str, Job]) -> None:
        response = self.sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": i, "MessageBody": m.to_json(), "MessageAttributes": m.message_attributes()}
                for i, m in pending.items()
            ],
        )
        for sent in response.get("Successful", []):
            pending.pop(sent["Id"], None)
        failed = response.get("Failed", [])
        if any(f.get("SenderFault") for f in failed):
            raise TasksNotEnqueued(f"SQS refused task messages: {failed[:1]}")
        if pending:
            raise _PartlySent(f"{len(pending)} entries failed: {failed[:1]}")
