"""Turning a ``POST /v1/jobs`` body into a job, its tasks and their messages.

In order, so that a failure at any step leaves nothing half-visible that a retry cannot
finish:

1. validate everything that needs no write: the items, the buckets, each ``s3://`` object
   (one HEAD each, in parallel: the job message carries its ETag and size), each
   ``audio_base64`` body, the webhook URL (resolved);
2. claim the job (with the ``Idempotency-Key``, one transaction: a retry gets the same job);
3. write the tasks (``BatchWriteItem``), then store the base64 audio under the input prefix
   (the router routes it like any upload, so its task must exist first), then send the
   ``s3://`` items' messages (``SendMessageBatch``) to the queue of the job's priority;
4. mark the job enqueued.

A retry with the same key while the first request still works waits for it (up to
``WAIT_FOR_FIRST_SECONDS``, then 409) and answers the same; a retry of a job whose first
request died before step 4 (older than ``RESUME_AFTER_SECONDS``) repeats step 3 (task ids
are deterministic; a duplicate message costs one skipped job).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from jobs_api.api.schemas import JobIn, Upload
from jobs_api.audit import AuditLog
from jobs_api.exceptions import (
    Conflict,
    InvalidRequest,
    NotAvailable,
    PayloadTooLarge,
    StoreUnavailable,
)
from jobs_api.keys import ApiKey
from jobs_api.layout import JobLayout, extension_of
from jobs_api.publisher import TaskPublisher
from jobs_api.settings import JobsSettings
from jobs_api.store import JobStore, StoredJob, StoredTask, task_id_of
from jobs_api.webhooks.urls import Resolver, system_resolver, validate_webhook_url
from transcription.exceptions import InvalidS3Uri
from transcription.job import Job, JobOptions
from transcription.layout import (
    SUPPORTED_EXTENSIONS,
    Layout,
    has_supported_extension,
    normalize_etag,
    parse_s3_uri,
)

__all__ = ["Accepted", "Submission"]

log = logging.getLogger(__name__)

WAIT_FOR_FIRST_SECONDS = 20.0
RESUME_AFTER_SECONDS = 120.0
HEADERS = 8  # parallel HEADs and PUTs (botocore keeps 10 connections)
IDEMPOTENCY_KEY_MAX = 255
AUDIO_EXTENSIONS = sorted(e[1:] for e in SUPPORTED_EXTENSIONS)


@dataclass(frozen=True)
class Accepted:
    job_id: str
    enqueued_tasks: int
    uploads: list[Upload] | None
    created: bool  # False: the Idempotency-Key's earlier job


@dataclass(frozen=True)
class _Planned:
    """One item, checked: its task, and what step 3 does for it."""

    task: StoredTask
    message: Job | None = None  # s3:// items: the task message
    body: bytes | None = None  # audio_base64 items


class Submission:
    def __init__(
        self,
        settings: JobsSettings,
        jobs: JobStore,
        s3: Any,
        publisher: TaskPublisher,
        audit: AuditLog,
        *,
        resolve: Resolver = system_resolver,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.s3 = s3
        self.publisher = publisher
        self.audit = audit
        self.resolve = resolve
        storage = settings.storage
        self.layout = JobLayout(Layout(storage.input_prefix, storage.output_prefix))

    def submit(self, key: ApiKey, request: JobIn, idempotency_key: str | None) -> Accepted:
        self._check_request(request, idempotency_key)
        request_hash = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
        heads = self._head_s3_items(request)
        bodies = self._decode_base64_items(request)
        job, created = self.jobs.create_job(
            job_id=uuid.uuid4().hex,
            owner=key.owner,
            key_id=key.key_id,
            job_type=request.job_type,
            priority=request.priority,
            total=len(request.items),
            webhook_url=request.webhook_url,
            options=self._options(request),
            request_hash=request_hash,
            idempotency_key=idempotency_key,
        )
        if not created and not job.enqueued:
            job = self._wait_for_first(job)
        planned = [self._plan(job, i, request, heads, bodies) for i in range(len(request.items))]
        if not job.enqueued:
            self._enqueue(job, planned)
        if created:
            self.audit.record(
                "job.created",
                actor=key.key_id,
                target=job.job_id,
                owner=key.owner,
                items=len(planned),
                priority=job.priority,
            )
            log.info("job %s accepted: %d items, %s", job.job_id, len(planned), job.priority)
        uploads = [self._upload_url(p.task) for p in planned if p.task.source == "upload"]
        enqueued = sum(1 for p in planned if p.task.source != "upload")
        return Accepted(job.job_id, enqueued, uploads or None, created)

    def _wait_for_first(self, job: StoredJob) -> StoredJob:
        """The job once its first request enqueued it; as it is when that request died."""
        deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
        while True:
            age = (datetime.now(UTC) - datetime.fromisoformat(job.created_at)).total_seconds()
            if job.enqueued or age > RESUME_AFTER_SECONDS:
                return job
            if time.monotonic() > deadline:
                raise Conflict(
                    "a request with this Idempotency-Key is still being processed; retry",
                    field="Idempotency-Key",
                    headers={"Retry-After": "5"},
                )
            time.sleep(0.2)
            job = self.jobs.job(job.job_id)

    # --- step 1: checks ----------------------------------------------------------------
    def _check_request(self, request: JobIn, idempotency_key: str | None) -> None:
        if idempotency_key is not None and not (
            0 < len(idempotency_key) <= IDEMPOTENCY_KEY_MAX and idempotency_key.isprintable()
        ):
            raise InvalidRequest(
                f"at most {IDEMPOTENCY_KEY_MAX} printable characters", field="Idempotency-Key"
            )
        if request.job_type != "asr":
            raise NotAvailable(
                f"job_type {request.job_type!r} is not available yet; use 'asr'", field="job_type"
            )
        if request.options.diarize:
            raise NotAvailable("diarization is not available yet", field="options.diarize")
        if len(request.items) > self.settings.jobs_max_items:
            raise InvalidRequest(
                f"at most {self.settings.jobs_max_items} items per job (JOBS_MAX_ITEMS)",
                field="items",
            )
        seen: set[str] = set()
        for i, item in enumerate(request.items):
            if item.id in seen:
                raise InvalidRequest(f"id {item.id!r} appears twice", field=f"items.{i}.id")
            seen.add(item.id)
            if item.text is not None:
                raise InvalidRequest("text items need job_type nmt", field=f"items.{i}.text")
            if item.audio_url is None and self._extension(item.id, item.ext) is None:
                raise InvalidRequest(
                    f"give ext, one of {', '.join(AUDIO_EXTENSIONS)} (the id has none)",
                    field=f"items.{i}.ext",
                )
        if request.webhook_url is not None:
            if not self.settings.webhook_queue_url:
                raise NotAvailable(
                    "webhooks are not configured (WEBHOOK_QUEUE_URL)", field="webhook_url"
                )
            validate_webhook_url(
                request.webhook_url,
                allow_loopback=self.settings.webhook_allow_loopback,
                resolve=self.resolve,
            )

    @staticmethod
    def _extension(item_id: str, ext: str | None) -> str | None:
        chosen = ext or extension_of(item_id)
        return chosen if chosen and f".{chosen}" in SUPPORTED_EXTENSIONS else None

    def _head_s3_items(self, request: JobIn) -> dict[int, tuple[str, str, str, int]]:
        """``index → (bucket, key, etag, size)`` of every ``s3://`` item, checked."""
        wanted = [(i, item.audio_url) for i, item in enumerate(request.items) if item.audio_url]

        def head(entry: tuple[int, str]) -> tuple[int, tuple[str, str, str, int]]:
            i, url = entry
            where = f"items.{i}.audio_url"
            try:
                bucket, object_key = parse_s3_uri(url)
            except InvalidS3Uri as error:
                raise InvalidRequest(str(error), field=where) from None
            if bucket not in self.settings.allowed_buckets:
                raise InvalidRequest(
                    f"bucket {bucket!r} is not allowed (JOBS_ALLOWED_BUCKETS)", field=where
                )
            if not has_supported_extension(object_key):
                raise InvalidRequest(
                    f"not a supported audio type ({', '.join(AUDIO_EXTENSIONS)})", field=where
                )
            try:
                found = self.s3.head_object(Bucket=bucket, Key=object_key)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code in {"404", "NoSuchKey", "NotFound"}:
                    raise InvalidRequest(f"no object at {url}", field=where) from None
                if code in {"403", "AccessDenied"}:
                    raise InvalidRequest(f"the jobs API may not read {url}", field=where) from None
                raise StoreUnavailable(f"S3 HEAD {url}: {code}") from error
            except BotoCoreError as error:
                raise StoreUnavailable(f"S3 unreachable: {error}") from error
            return i, (bucket, object_key, normalize_etag(found["ETag"]), found["ContentLength"])

        with ThreadPoolExecutor(HEADERS) as pool:
            return dict(pool.map(head, wanted))

    def _decode_base64_items(self, request: JobIn) -> dict[int, bytes]:
        limit = self.settings.max_base64_bytes
        bodies: dict[int, bytes] = {}
        for i, item in enumerate(request.items):
            if item.audio_base64 is None:
                continue
            where = f"items.{i}.audio_base64"
            if len(item.audio_base64) > (limit + 2) // 3 * 4 + 4:
                raise PayloadTooLarge(
                    f"more than {self.settings.jobs_max_base64_mb:g} MB decoded "
                    "(JOBS_MAX_BASE64_MB); use upload: true",
                    field=where,
                )
            try:
                body = base64.b64decode(item.audio_base64, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequest("not valid base64", field=where) from None
            if not body:
                raise InvalidRequest("empty audio", field=where)
            if len(body) > limit:
                raise PayloadTooLarge(
                    f"more than {self.settings.jobs_max_base64_mb:g} MB decoded", field=where
                )
            bodies[i] = body
        return bodies

    def _options(self, request: JobIn) -> dict[str, Any]:
        formats: list[str] = list(request.options.formats or self.settings.storage.output_formats)
        return {
            "formats": ["json", *(f for f in dict.fromkeys(formats) if f != "json")],
            "model": request.options.model,
            "default_src_lng": request.default_src_lng,
            "default_tgt_lng": request.default_tgt_lng,
        }

    # --- step 2 and 3: tasks and messages ------------------------------------------------
    def _plan(
        self,
        job: StoredJob,
        i: int,
        request: JobIn,
        heads: dict[int, tuple[str, str, str, int]],
        bodies: dict[int, bytes],
    ) -> _Planned:
        item = request.items[i]
        src_lng = item.src_lng or request.default_src_lng
        tgt_lng = item.tgt_lng or request.default_tgt_lng
        common: dict[str, Any] = {
            "job_id": job.job_id,
            "item_id": item.id,
            "task_id": task_id_of(job.job_id, item.id),
            "status": "queued",
            "updated_at": job.created_at,
            "src_lng": src_lng,
            "tgt_lng": tgt_lng,
        }
        output_bucket = self.settings.storage.output_bucket
        if i in heads:
            bucket, object_key, etag, size = heads[i]
            output_key = self.layout.result_key(job.job_id, item.id)
            task = StoredTask(
                **common,
                source="s3",
                input_bucket=bucket,
                input_key=object_key,
                output_key=output_key,
            )
            formats = tuple(job.options.get("formats") or ("json",))
            message = Job(
                bucket=bucket,
                key=object_key,
                etag=etag,
                size=size,
                output_bucket=output_bucket,
                output_key=output_key,
                reason="job",
                options=JobOptions(language=src_lng, formats=formats),
                trace_id=job.job_id,
                job_id=job.job_id,
                task_id=task.task_id,
                priority=job.priority,
                job_type=job.job_type,
                src_lng=src_lng or None,
                tgt_lng=tgt_lng or None,
                model=job.options.get("model") or None,
            )
            return _Planned(task, message=message)
        ext = self._extension(item.id, item.ext)
        assert ext is not None  # checked in _check_request
        input_key = self.layout.input_key(job.job_id, item.id, ext)
        task = StoredTask(
            **common,
            source="base64" if i in bodies else "upload",
            input_bucket=self.settings.storage.audio_bucket,
            input_key=input_key,
            output_key=self.layout.routed_result_key(input_key),
        )
        return _Planned(task, body=bodies.get(i))

    def _enqueue(self, job: StoredJob, planned: list[_Planned]) -> None:
        self.jobs.put_tasks([p.task for p in planned])
        with ThreadPoolExecutor(HEADERS) as pool:
            list(pool.map(self._put_audio, [p for p in planned if p.body is not None]))
        self.publisher.send([p.message for p in planned if p.message is not None])
        self.jobs.mark_enqueued(job.job_id)

    def _put_audio(self, planned: _Planned) -> None:
        task = planned.task
        try:
            self.s3.put_object(
                Bucket=task.input_bucket,
                Key=task.input_key,
                Body=planned.body,
                Metadata={"job-id": task.job_id, "item-id": task.item_id},
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"storing item {task.item_id}'s audio: {error}") from error

    def _upload_url(self, task: StoredTask) -> Upload:
        seconds = self.settings.jobs_url_seconds
        url = self.s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": task.input_bucket, "Key": task.input_key},
            ExpiresIn=seconds,
        )
        return Upload(id=task.item_id, url=url, expires_at=expires_at(seconds))


def expires_at(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")
