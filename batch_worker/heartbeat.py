"""The heartbeat: while this worker holds a message, keep it invisible to every other worker.

Every message the worker has received and not yet deleted or returned is *held*. A thread
renews the visibility timeout of all held messages every ``HEARTBEAT_SECONDS`` with
``ChangeMessageVisibilityBatch`` (per queue: each message is renewed on the queue it came
from), so a long file is never handed to a second worker. If the worker dies, the renewals
stop and the message comes back after one visibility timeout.

:meth:`Heartbeat.drop` and a renewal take the same lock, so once ``drop`` returns no renewal
of that message is under way: a message returned with a backoff is never renewed past it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["Heartbeat"]

log = logging.getLogger(__name__)

BATCH_LIMIT = 10  # SQS's limit for ChangeMessageVisibilityBatch


class Heartbeat:
    def __init__(self, sqs: Any, queue_url: str, visibility_timeout: int, interval: float) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.visibility_timeout = visibility_timeout
        self.interval = interval
        self._held: dict[Any, tuple[str, str]] = {}  # held message → (queue, receipt handle)
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    # --- what is held --------------------------------------------------------------------
    def hold(self, key: Any, receipt_handle: str, queue_url: str | None = None) -> None:
        """Renew ``key`` from now on, on ``queue_url`` (default: the heartbeat's queue)."""
        with self._lock:
            self._held[key] = (queue_url or self.queue_url, receipt_handle)

    def drop(self, key: Any) -> bool:
        """Stop renewing ``key``; ``False`` if it was not held (someone else let it go)."""
        with self._lock:
            return self._held.pop(key, None) is not None

    def held(self) -> list[Any]:
        with self._lock:
            return list(self._held)

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    # --- the thread ----------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.beat()
            except (BotoCoreError, ClientError) as error:
                log.warning("heartbeat failed; retrying in %.1f s: %s", self.interval, error)

    def beat(self) -> int:
        """Renew every held message once; returns how many SQS accepted."""
        renewed = 0
        with self._lock:
            by_queue: dict[str, list[str]] = {}
            for queue_url, handle in self._held.values():
                by_queue.setdefault(queue_url, []).append(handle)
            for queue_url, handles in by_queue.items():
                for start in range(0, len(handles), BATCH_LIMIT):
                    renewed += self._renew(queue_url, handles[start : start + BATCH_LIMIT])
        return renewed

    def _renew(self, queue_url: str, handles: list[str]) -> int:
        response = self.sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": str(i),
                    "ReceiptHandle": handle,
                    "VisibilityTimeout": self.visibility_timeout,
                }
                for i, handle in enumerate(handles)
            ],
        )
        for failure in response.get("Failed", ()):
            log.warning(
                "heartbeat could not renew a message: %s %s",
                failure.get("Code"),
                failure.get("Message", ""),
            )
        return len(response.get("Successful", ()))
