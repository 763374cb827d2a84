"""The priority of an uploaded batch-job item, from its job's priority marker in S3.

The jobs API writes ``$OUTPUT_PREFIX jobs/<job_id>/priority`` (body ``high`` or ``low``)
before any of a ``high`` or ``low`` job's audio can be uploaded (see jobs_api.layout); a job
without one is ``normal``. So the router learns an upload's priority with one GET per job
and no DynamoDB access, and remembers it while the Lambda container is warm: a job's
priority never changes, and its marker exists before its first upload, so a missing marker
is an answer too.

Keys that are not items of a batch job (``$INPUT_PREFIX jobs/<job_id>/<name>``) are
``None``: ordinary uploads, routed as before.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from transcription.layout import JOBS_FOLDER, Layout
from transcription.objects import S3Objects
from transcription.priority import DEFAULT_PRIORITY, PRIORITIES

__all__ = ["JobPriorities"]

log = logging.getLogger(__name__)

CACHED_JOBS = 4096  # jobs remembered per warm container (a few hundred kB at most)


class JobPriorities:
    def __init__(self, objects: S3Objects, bucket: str, layout: Layout) -> None:
        self.objects = objects
        self.bucket = bucket
        self.layout = layout
        self._known: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, key: str) -> str | None:
        """``high``, ``normal`` or ``low`` for an uploaded job item; ``None`` for other keys."""
        job_id = self.job_id(key)
        if job_id is None:
            return None
        with self._lock:
            if job_id in self._known:
                self._known.move_to_end(job_id)
                return self._known[job_id]
        priority = self._read(job_id)
        with self._lock:
            self._known[job_id] = priority
            if len(self._known) > CACHED_JOBS:
                self._known.popitem(last=False)
        return priority

    def job_id(self, key: str) -> str | None:
        """The job of an uploaded item (its result key is ``…jobs/<job_id>/<item>.json``)."""
        result_key = self.layout.job_result_key(key)
        if result_key is None:
            return None
        return result_key[len(self.layout.output_prefix + JOBS_FOLDER) :].split("/", 1)[0]

    def _read(self, job_id: str) -> str:
        marker = f"{self.layout.output_prefix}{JOBS_FOLDER}{job_id}/priority"
        found = self.objects.get(self.bucket, marker)
        if found is None:
            return DEFAULT_PRIORITY
        priority = found.body.decode("utf-8", "replace").strip()
        if priority not in PRIORITIES:
            log.warning("job %s: priority marker says %r; routed as normal", job_id, priority)
            return DEFAULT_PRIORITY
        return priority
