"""Deleting finished messages in batches: one ``DeleteMessageBatch`` call for up to 10.

:class:`Deleter` sends deletes on a thread of its own. The first delete waits at most
``LINGER_SECONDS`` for others to share its call, so a busy worker makes one call per 10
jobs instead of one per job, and no caller waits for SQS. A message whose delete is late
or lost is not lost: its outcome is stored before it is deleted, so whichever worker
receives it again finds that and deletes it. :meth:`Deleter.close` sends what is left at
the end of a run.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["LINGER_SECONDS", "Deleter"]

log = logging.getLogger(__name__)

LINGER_SECONDS = 0.25
MAX_BATCH = 10  # SQS's limit per DeleteMessageBatch


class Deleter:
    def __init__(self, sqs: Any, queue_url: str, linger_seconds: float = LINGER_SECONDS) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.linger_seconds = linger_seconds
        self._pending: list[tuple[str, str]] = []  # (message id, receipt handle)
        self._closing = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, message_id: str, receipt_handle: str) -> None:
        with self._changed:
            self._pending.append((message_id, receipt_handle))
            if self._thread is None or not self._thread.is_alive():
                self._closing = False
                self._thread = threading.Thread(target=self._run, name="deleter", daemon=True)
                self._thread.start()
            self._changed.notify()

    def close(self, timeout: float | None = None) -> None:
        """Send every pending delete now, then stop the thread (a later submit restarts it)."""
        with self._changed:
            self._closing = True
            self._changed.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._send(batch)
            except (BotoCoreError, ClientError) as error:
                log.warning("could not delete %d messages: %s", len(batch), error)

    def _next_batch(self) -> list[tuple[str, str]] | None:
        """Up to 10 deletes, after waiting for the first and lingering for more."""
        with self._changed:
            while not self._pending and not self._closing:
                self._changed.wait()
            deadline = time.monotonic() + self.linger_seconds
            while len(self._pending) < MAX_BATCH and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            if not self._pending:
                return None  # closing, nothing left
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            return batch

    def _send(self, batch: list[tuple[str, str]]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": h} for i, (_, h) in enumerate(batch)]
        response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        for failure in response.get("Failed", ()):
            log.warning(
                "could not delete message %s: %s %s",
                batch[int(failure["Id"])][0],
                failure.get("Code"),
                failure.get("Message", ""),
            )
