"""Canceled batch jobs: one HEAD of the job's cancel marker, cached, before a task runs.

``DELETE /v1/jobs/{id}`` writes ``$OUTPUT_PREFIX jobs/<job_id>/canceled`` in the transcript
bucket (:meth:`~transcription.layout.Layout.cancel_marker_key`); the worker never reads the
job store. Before it downloads a task's audio it asks :meth:`CanceledJobs.is_canceled`:

- "canceled" is kept for the life of the process (a job is never un-canceled), so the rest
  of a canceled 1,000-item job costs no request at all;
- "not canceled" is kept for :data:`NOT_CANCELED_SECONDS`, so a running job costs one HEAD
  per few seconds, not one per task, and a cancel takes effect within that time.

One lock covers the lookup and the HEAD, so two prefetch threads on tasks of one job make
one request between them. A HEAD that fails (S3 down, access denied) raises, and the task is
retried like any other transient failure: it never runs unchecked.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from transcription.layout import OutputPolicy
from transcription.objects import S3Objects

__all__ = ["NOT_CANCELED_SECONDS", "CanceledJobs"]

NOT_CANCELED_SECONDS = 5.0
MAX_REMEMBERED = 4096  # jobs per answer kept; forgetting one costs one more HEAD


class CanceledJobs:
    def __init__(
        self,
        s3: Any,
        policy: OutputPolicy,
        *,
        recheck_seconds: float = NOT_CANCELED_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.objects = S3Objects(s3)
        self.bucket = policy.transcript_bucket
        self.layout = policy.layout
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self._canceled: OrderedDict[str, None] = OrderedDict()
        self._running: OrderedDict[str, float] = OrderedDict()  # job id → when last checked
        self._lock = threading.Lock()

    def is_canceled(self, job_id: str) -> bool:
        with self._lock:
            if job_id in self._canceled:
                return True
            checked = self._running.get(job_id)
            if checked is not None and self.clock() - checked < self.recheck_seconds:
                return False
            canceled = self.objects.head(self.bucket, self.layout.cancel_marker_key(job_id))
            self._running.pop(job_id, None)
            if canceled is not None:
                _remember(self._canceled, job_id, None)
            else:
                _remember(self._running, job_id, self.clock())
            return canceled is not None


def _remember(cache: OrderedDict[str, Any], key: str, value: Any) -> None:
    cache[key] = value
    while len(cache) > MAX_REMEMBERED:
        cache.popitem(last=False)
