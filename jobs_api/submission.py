"""Turning a ``POST /v1/jobs`` body into a job, its tasks and their messages.

In order, so that a failure at any step leaves nothing half-visible that a retry cannot
finish:

1. validate everything that needs no write: the items, the buckets, each ``s3://`` object
   (one HEAD each, in parallel: the job message carries its ETag and size), each
   ``audio_base64`` body, the webhook URL (resolved);
2. claim the job (with the ``Idempotency-Key``, one transaction: a retry gets the same job);
3. write the tasks (``BatchWriteItem``), then the job spec the router reads for uploaded
   items, then store the base64 audio under the input prefix (the router routes it like any
   upload, so its task must exist first) and ``nmt`` items' text beside the job's results
   (``$OUTPUT_PREFIX jobs/<job_id>/texts/<item_id>.txt``: the worker reads it, the tracker
   ignores it), then send the ``s3://`` and text items' messages (``SendMessageBatch``) to
   the queue of the job's priority;
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
from dataclasses import asdict, dataclass
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
from jobs_api.store import JobStore, StoredJob, StoredTask
from jobs_api.webhooks.urls import Resolver, system_resolver, validate_webhook_url
from transcription.diarization import DiarizeOptions
from transcription.diarization.exceptions import InvalidSpeakerCount
from transcription.exceptions import InvalidS3Uri, UnknownLanguage
from transcription.job import Job, JobOptions, diarize_fields
from transcription.job_spec import ItemLanguages, JobSpec, task_id_of
from transcription.languages import normalize_language
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
NMT_FORMATS = ["json", "txt"]
ROUTED = frozenset({"upload", "base64"})  # task sources the router queues, by the job spec


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
    message: Job | None = None  # s3:// and text items
    body: bytes | None = None  # audio_base64 items
    text: str | None = None  # nmt items: stored before their message is sent


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
            self._enqueue(job, request, planned)
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
        self._diarize(request)
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
            if request.job_type == "nmt" and item.text is None:
                raise InvalidRequest("an nmt item is text: give text", field=f"items.{i}.text")
            if request.job_type != "nmt" and item.text is not None:
                raise InvalidRequest("text items need job_type nmt", field=f"items.{i}.text")
            self._languages(request, i)
            if (
                item.text is None
                and item.audio_url is None
                and self._extension(item.id, item.ext) is None
            ):
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
    def _diarize(request: JobIn) -> dict[str, int] | None:
        """The speaker counts asked for (``{}``: estimated), or ``None`` for no diarization."""
        options = request.options
        try:
            wanted = DiarizeOptions.requested(
                options.diarize, options.num_speakers, options.min_speakers, options.max_speakers
            )
        except InvalidSpeakerCount as error:
            raise InvalidRequest(str(error), field=f"options.{error.field}") from None
        if wanted is not None and request.job_type == "nmt":
            raise InvalidRequest("a text has no speakers", field="options.diarize")
        if wanted is None:
            return None
        return {k: v for k, v in asdict(wanted).items() if v is not None}

    @staticmethod
    def _languages(request: JobIn, i: int) -> tuple[str | None, str | None]:
        """Item ``i``'s source and target language (its own, else the job's), as ISO codes.

        ``nmt`` needs both (a text's language is not detected); ``asr+nmt`` a target.
        """
        item = request.items[i]
        found: list[str | None] = []
        for own, default, name in (
            (item.src_lng, request.default_src_lng, "src_lng"),
            (item.tgt_lng, request.default_tgt_lng, "tgt_lng"),
        ):
            where = f"items.{i}.{name}" if own else f"default_{name}"
            value = own or default
            try:
                found.append(normalize_language(value, where) if value else None)
            except UnknownLanguage as error:
                raise InvalidRequest(str(error), field=where) from None
        src_lng, tgt_lng = found
        if request.job_type != "asr" and tgt_lng is None:
            raise InvalidRequest(
                f"{request.job_type} translates: give tgt_lng or default_tgt_lng",
                field=f"items.{i}.tgt_lng",
            )
        if request.job_type == "nmt" and src_lng is None:
            raise InvalidRequest(
                "the language of a text is not detected: give src_lng or default_src_lng",
                field=f"items.{i}.src_lng",
            )
        return src_lng, tgt_lng

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
        if request.job_type == "nmt":  # a translated text has no timing: no subtitles
            formats = NMT_FORMATS
        return {
            "formats": ["json", *(f for f in dict.fromkeys(formats) if f != "json")],
            "model": request.options.model,
            "diarize": self._diarize(request),
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
        src_lng, tgt_lng = self._languages(request, i)
        common: dict[str, Any] = {
            "job_id": job.job_id,
            "item_id": item.id,
            "task_id": task_id_of(job.job_id, item.id),
            "status": "queued",
            "updated_at": job.created_at,
            "src_lng": src_lng,
            "tgt_lng": tgt_lng,
        }
        if i in heads:
            bucket, object_key, etag, size = heads[i]
            task = StoredTask(
                **common,
                source="s3",
                input_bucket=bucket,
                input_key=object_key,
                output_key=self.layout.result_key(job.job_id, item.id),
            )
            output_bucket = self.settings.storage.output_bucket
            return _Planned(task, message=task_message(job, task, output_bucket, etag, size))
        if item.text is not None:
            task = StoredTask(
                **common,
                source="text",
                input_bucket=self.settings.storage.output_bucket,
                input_key=self.layout.text_key(job.job_id, item.id),
                output_key=self.layout.result_key(job.job_id, item.id),
            )
            return _Planned(task, text=item.text)
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

    def _enqueue(self, job: StoredJob, request: JobIn, planned: list[_Planned]) -> None:
        self.jobs.put_tasks([p.task for p in planned])
        if any(p.task.source in ROUTED for p in planned):
            self._put_spec(job_spec(job, request))
        with ThreadPoolExecutor(HEADERS) as pool:
            list(pool.map(self._put_audio, [p for p in planned if p.body is not None]))
            texts = list(pool.map(self._put_text, [p for p in planned if p.text is not None]))
        messages = [p.message for p in planned if p.message is not None]
        bucket = self.settings.storage.output_bucket
        messages += [task_message(job, p.task, bucket, *found) for p, found in texts]
        self.publisher.send(messages)
        self.jobs.mark_enqueued(job.job_id)

    def _put_text(self, planned: _Planned) -> tuple[_Planned, tuple[str, int]]:
        """Store an nmt item's text; its ETag and size go into its task message."""
        task, body = planned.task, (planned.text or "").encode()
        try:
            answer = self.s3.put_object(
                Bucket=task.input_bucket,
                Key=task.input_key,
                Body=body,
                ContentType="text/plain; charset=utf-8",
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"storing item {task.item_id}'s text: {error}") from error
        return planned, (normalize_etag(answer["ETag"]), len(body))

    def _put_spec(self, spec: JobSpec) -> None:
        """What the router needs to queue this job's uploaded items (transcription.job_spec)."""
        try:
            self.s3.put_object(
                Bucket=self.settings.storage.output_bucket,
                Key=self.layout.layout.job_spec_key(spec.job_id),
                Body=spec.to_json().encode(),
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"storing job {spec.job_id}'s spec: {error}") from error

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


def task_message(job: StoredJob, task: StoredTask, output_bucket: str, etag: str, size: int) -> Job:
    """The job message of a task the jobs API queues itself (an s3:// or a text item)."""
    return Job(
        bucket=task.input_bucket,
        key=task.input_key,
        etag=etag,
        size=size,
        output_bucket=output_bucket,
        output_key=task.output_key,
        reason="job",
        options=JobOptions(
            language=task.src_lng, formats=tuple(job.options.get("formats") or ("json",))
        ),
        trace_id=job.job_id,
        job_id=job.job_id,
        task_id=task.task_id,
        priority=job.priority,
        job_type=job.job_type,
        src_lng=task.src_lng,
        tgt_lng=task.tgt_lng,
        model=job.options.get("model"),
        text_key=task.input_key if task.source == "text" else None,
        **diarize_fields(job.options.get("diarize")),
    )


def job_spec(job: StoredJob, request: JobIn) -> JobSpec:
    """The spec the router reads for the job's uploaded items: only what the caller chose."""
    defaults = ItemLanguages(request.default_src_lng, request.default_tgt_lng)
    overrides = {
        item.id: ItemLanguages(item.src_lng or defaults.src_lng, item.tgt_lng or defaults.tgt_lng)
        for item in request.items
        if item.audio_url is None and (item.src_lng or item.tgt_lng)
    }
    return JobSpec(
        job_id=job.job_id,
        job_type=job.job_type,
        priority=job.priority,
        src_lng=defaults.src_lng,
        tgt_lng=defaults.tgt_lng,
        model=request.options.model,
        diarize=job.options.get("diarize"),
        formats=tuple(job.options["formats"]) if request.options.formats else None,
        items={k: v for k, v in overrides.items() if v != defaults},
        deadline=request.deadline,
    )


def expires_at(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")
