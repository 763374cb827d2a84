"""Where a job's objects live in S3 (ARCHITECTURE "Batch jobs").

- results: ``$OUTPUT_PREFIX jobs/<job_id>/<item_id>.json`` (sidecars ``.txt``…, failures
  ``.error.json``), the ``output_key`` of the task's job message;
- uploaded and base64 items: ``$INPUT_PREFIX jobs/<job_id>/<item_id>.<ext>``. The router
  routes these like any upload, so their results follow the core layout:
  ``$OUTPUT_PREFIX jobs/<job_id>/<item_id>.<ext>.json``. :meth:`JobLayout.parse_result`
  reads both forms;
- the cancel marker ``$OUTPUT_PREFIX jobs/<job_id>/canceled``: a worker that sees it skips
  the job's remaining tasks with one HEAD, without DynamoDB.

Item ids are ``[A-Za-z0-9][A-Za-z0-9._-]*`` and never end in ``.error``, so a result key
names its item without ambiguity.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from transcription.layout import ITEM_ID, ITEM_ID_PATTERN, JOB_ID, Layout, error_key_for

__all__ = ["ITEM_ID_PATTERN", "JobLayout", "ResultKey"]

ERROR_SUFFIX = ".error.json"


@dataclass(frozen=True)
class ResultKey:
    job_id: str
    name: str  # <item_id>, or <item_id>.<ext> for routed uploads
    failed: bool  # an .error.json record


@dataclass(frozen=True)
class JobLayout:
    layout: Layout

    @property
    def results_prefix(self) -> str:
        return f"{self.layout.output_prefix}jobs/"

    def result_key(self, job_id: str, item_id: str) -> str:
        return f"{self.layout.job_folder(job_id)}{item_id}.json"

    def input_key(self, job_id: str, item_id: str, ext: str) -> str:
        return f"{self.layout.input_prefix}jobs/{job_id}/{item_id}.{ext}"

    def routed_result_key(self, input_key: str) -> str:
        """The result the router writes for an uploaded item (the core layout)."""
        return self.layout.transcript_key(input_key)

    def cancel_marker_key(self, job_id: str) -> str:
        return self.layout.cancel_marker_key(job_id)

    def parse_result(self, key: str) -> ResultKey | None:
        """The job and item a result (or error record) key belongs to; None for other keys."""
        if not key.startswith(self.results_prefix):
            return None
        job_id, _, rest = key[len(self.results_prefix) :].partition("/")
        if not JOB_ID.match(job_id) or "/" in rest:
            return None
        failed = rest.endswith(ERROR_SUFFIX)
        name = rest.removesuffix(ERROR_SUFFIX) if failed else rest.removesuffix(".json")
        if name == rest or not ITEM_ID.match(name):
            return None
        return ResultKey(job_id, name, failed)


def sidecar_key(result_key: str, fmt: str) -> str:
    """``…/a.json`` → ``…/a.srt`` (``json`` is the result itself)."""
    return result_key if fmt == "json" else f"{result_key.removesuffix('.json')}.{fmt}"


def error_key(result_key: str) -> str:
    return error_key_for(result_key)


def extension_of(item_id: str) -> str | None:
    """``talk.mp3`` → ``mp3``; None when the id has no extension."""
    ext = posixpath.splitext(item_id)[1]
    return ext[1:].lower() or None if ext else None
