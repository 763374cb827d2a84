"""The batch job an uploaded item belongs to, from the job's spec in S3 (transcription.job_spec).

An item uploaded to a batch job lives at ``$INPUT_PREFIX jobs/<job_id>/<item_id>.<ext>``.
The router reads the job's spec once per job and warm container: one GET, and no DynamoDB.
A job's spec never changes and exists before its first upload, so a missing spec is an
answer too: that key is routed like any other upload (somebody put it there by hand).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from transcription.job_spec import JobSpec, task_id_of
from transcription.layout import Layout
from transcription.objects import S3Objects

__all__ = ["JobItem", "JobSpecs"]

log = logging.getLogger(__name__)

CACHED_JOBS = 256  # specs remembered per warm container (each at most a few hundred kB)


@dataclass(frozen=True)
class JobItem:
    spec: JobSpec
    item_id: str

    @property
    def task_id(self) -> str:
        return task_id_of(self.spec.job_id, self.item_id)


class JobSpecs:
    def __init__(self, objects: S3Objects, bucket: str, layout: Layout) -> None:
        self.objects = objects
        self.bucket = bucket
        self.layout = layout
        self._known: OrderedDict[str, JobSpec | None] = OrderedDict()
        self._lock = threading.Lock()

    def item(self, key: str) -> JobItem | None:
        """The job item ``key`` is, or ``None`` for any other upload."""
        result_key = self.layout.job_result_key(key)  # …jobs/<job_id>/<item_id>.json
        job_id = self.layout.job_of(result_key) if result_key is not None else None
        if result_key is None or job_id is None:
            return None
        spec = self._spec(job_id)
        item_id = result_key.removeprefix(self.layout.job_folder(job_id)).removesuffix(".json")
        return JobItem(spec, item_id) if spec is not None else None

    def _spec(self, job_id: str) -> JobSpec | None:
        with self._lock:
            if job_id in self._known:
                self._known.move_to_end(job_id)
                return self._known[job_id]
        spec = self._read(job_id)
        with self._lock:
            self._known[job_id] = spec
            if len(self._known) > CACHED_JOBS:
                self._known.popitem(last=False)
        return spec

    def _read(self, job_id: str) -> JobSpec | None:
        found = self.objects.get(self.bucket, self.layout.job_spec_key(job_id))
        if found is None:
            return None
        try:
            return JobSpec.from_json(found.body)
        except ValueError as error:
            log.warning(
                "job %s: unreadable spec (%s); its uploads are routed as any", job_id, error
            )
            return None
