"""The work for one object: guards, idempotency, the routing decision, direct call or queue.

:meth:`Router.route` is a plain function of an :class:`ObjectEvent` and the invocation's
:class:`Deadline`; the handler only parses the event and calls it per object. AWS calls
per object: one S3 HEAD of the transcript, plus one ``SendMessage`` on the batch path (a
manual invocation without an ETag first HEADs the audio; an uploaded batch-job item reads
its job's spec once per job and warm container, see :mod:`lambda_router.job_spec`).
Objects that cannot be
transcribed get an error record instead (one PUT): empty, an unsupported type, or a key
whose outputs would pass S3's 1,024-byte key limit (checked before any AWS call; if not
even the error record's key fits, only the result and an error log say so). The server's
address, health and circuit breaker live in this object, i.e. in the warm container.

An uploaded item of a batch job is routed like any upload only when its job is a plain
``high`` or ``normal`` transcription (:attr:`~transcription.job_spec.JobSpec.plain`), and
then queued, when it is, on the queue of its priority. Any other item (a ``low`` job, whose
flood must not take the direct path's capacity from other uploads; a chosen model,
language, formats or translation, which the direct call cannot carry) goes to the queue of
its priority with reason ``job``, as the jobs API's own task messages do.
"""

from __future__ import annotations

import logging
import posixpath
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from tenacity.wait import wait_base

from lambda_router.api_key import ApiKeySource
from lambda_router.breaker import CircuitBreaker
from lambda_router.client import DirectClient
from lambda_router.deadline import Deadline
from lambda_router.events import ObjectEvent
from lambda_router.exceptions import DirectCallFailed, ServerRejected
from lambda_router.health import HealthClient
from lambda_router.job_spec import JobItem, JobSpecs
from lambda_router.metrics import Metrics
from lambda_router.overflow import Overflow
from lambda_router.policy import Route, choose, ignore_reason
from lambda_router.publisher import JobPublisher
from lambda_router.server_url import ServerUrlSource
from lambda_router.settings import ClientLimits, RouterSettings
from lambda_router.timeout import AttemptTimeout
from lambda_router.transport import Transport, UrllibTransport
from transcription.aws import make_client
from transcription.job import Job, JobOptions, diarize_fields
from transcription.layout import (
    SUPPORTED_EXTENSIONS,
    Layout,
    has_supported_extension,
)
from transcription.logging import log_context
from transcription.managed import (
    AlreadyStarted,
    BudgetSpent,
    Collector,
    QuotaFull,
    TranscribeUnavailable,
)
from transcription.managed.names import OverflowKeys
from transcription.priority import DEFAULT_PRIORITY, queue_urls
from transcription.store import TranscriptStore
from transcription.transcript import Source

__all__ = ["RouteResult", "Router", "aws_client"]

log = logging.getLogger(__name__)


# S3 (the transcript's HEAD, error records) and SSM; SQS's limits are settings, because the
# time kept back for the enqueue is derived from them (RouterSettings.enqueue_reserve_seconds).
OTHER_CLIENT_LIMITS = ClientLimits(connect_timeout=2.0, read_timeout=5.0, attempts=4)
MAX_KEY_BYTES = 1024  # S3's limit on an object key, in UTF-8 bytes
DEFAULT_MAX_SPEAKERS = 10  # Transcribe needs a bound when the job asked for an estimate


def aws_client(service: str, settings: RouterSettings) -> Any:
    """Short timeouts and few retries: the Lambda's time budget must keep room to enqueue."""
    limits = settings.sqs_limits if service == "sqs" else OTHER_CLIENT_LIMITS
    return make_client(
        service,
        settings.aws,
        connect_timeout=limits.connect_timeout,
        read_timeout=limits.read_timeout,
        max_attempts=limits.retries,  # botocore's max_attempts: retries after the first
    )


@dataclass
class RouteResult:
    route: str  # direct | queued | managed | skipped | ignored
    reason: str
    bucket: str
    key: str
    output_key: str | None = None
    attempts: int = 0  # POST /transcribe-s3 attempts
    elapsed_ms: float = 0.0
    detail: str | None = None
    status: int | None = None  # the server's HTTP status on the direct path
    error_key: str | None = None  # the error record written, if any
    message_id: str | None = None  # the SQS message, on the batch path
    managed_job: str | None = None  # the Transcribe job, on the managed path
    trace_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        always = {"route", "reason", "output_key", "attempts", "elapsed_ms"}
        return {k: v for k, v in asdict(self).items() if v is not None or k in always}


@dataclass(frozen=True)
class _Object:
    """An object that passed the guards, with what HEAD or the event told about it."""

    event: ObjectEvent
    etag: str
    size: int
    output_key: str
    job: JobItem | None = None  # an item uploaded to a batch job

    @property
    def priority(self) -> str:
        return self.job.spec.priority if self.job is not None else DEFAULT_PRIORITY

    @property
    def source(self) -> dict[str, Any]:
        return {
            "bucket": self.event.bucket,
            "key": self.event.key,
            "etag": self.etag,
            "size": self.size,
        }


class Router:
    def __init__(
        self,
        settings: RouterSettings,
        *,
        s3: Any,
        sqs: Any,
        ssm: Callable[[], Any] | None = None,
        transport: Transport | None = None,
        metrics: Metrics | None = None,
        breaker: CircuitBreaker | None = None,
        health: HealthClient | None = None,
        wait: wait_base | None = None,
        transcribe: Any | None = None,
    ) -> None:
        self.settings = settings
        storage = settings.storage
        self.layout = Layout(storage.input_prefix, storage.output_prefix)
        self.s3 = s3
        self.store = TranscriptStore(s3, storage.output_bucket, self.layout)
        self.queue = JobPublisher(
            sqs, queue_urls(settings.queue_url, settings.queue_url_high, settings.queue_url_low)
        )
        self.job_specs = JobSpecs(self.store.objects, storage.output_bucket, self.layout)
        transport = transport or UrllibTransport()
        ssm = ssm or _lazy_client("ssm", settings)
        self.breaker = breaker or CircuitBreaker(
            settings.breaker_failures, settings.breaker_cooldown_seconds
        )
        self.health = health or HealthClient(
            transport,
            timeout=settings.health_timeout_seconds,
            cache_seconds=settings.health_cache_seconds,
        )
        self.client = DirectClient(
            transport,
            breaker=self.breaker,
            health=self.health,
            api_key=ApiKeySource.from_settings(settings, ssm).get,
            timeout=AttemptTimeout(
                floor=settings.direct_timeout_min_seconds,
                ceiling=settings.direct_timeout_seconds,
                realtime_factor=settings.direct_realtime_factor,
                audio_bytes_per_second=settings.direct_audio_bytes_per_second,
            ),
            max_attempts=settings.direct_max_attempts,
            backoff=settings.direct_backoff_seconds,
            reserve_seconds=settings.enqueue_reserve_seconds,
            wait=wait,
        )
        self.server_url = ServerUrlSource(
            url=settings.server_url,
            parameter=settings.server_url_parameter,
            ssm=ssm,
            ttl=settings.server_url_ttl_seconds,
        )
        self.metrics = metrics or Metrics(settings.metrics_namespace)
        self.overflow: Overflow | None = None
        self.collector: Collector | None = None
        if settings.overflow.enabled:
            transcribe = transcribe or aws_client("transcribe", settings)
            self.overflow = Overflow.build(
                settings.overflow,
                s3=s3,
                sqs=sqs,
                transcribe=transcribe,
                bucket=storage.output_bucket,
                queue_urls=self.queue.queue_urls,
            )
            keys = OverflowKeys(settings.overflow.overflow_prefix)
            starter = self.overflow.starter
            self.collector = Collector(
                transcribe,
                self.store,
                keys,
                budget=starter.budget,
                billed_minutes=starter.billed_minutes,
            )
        self._known_url: str | None = None
        self._url_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: RouterSettings) -> Router:
        """A router with its own AWS clients (short timeouts), as the warm container keeps it."""
        return cls(
            settings,
            s3=aws_client("s3", settings),
            sqs=aws_client("sqs", settings),
        )

    # --- one object --------------------------------------------------------------------
    def route(self, event: ObjectEvent, deadline: Deadline) -> dict[str, Any]:
        """Route one object; returns its result record (also written as an EMF line)."""
        started = time.perf_counter()
        with log_context(s3_key=event.key, bucket=event.bucket):
            result = self._route(event, deadline)
        result.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        record = result.to_dict()
        self.metrics.emit(record)
        return record

    def duplicate(self, event: ObjectEvent) -> dict[str, Any]:
        """The result for a repeat of an object already routed in this invocation."""
        output_key = (
            self.layout.transcript_key(event.key) if self.layout.is_input(event.key) else None
        )
        result = RouteResult(Route.SKIPPED, "duplicate_event", event.bucket, event.key, output_key)
        record = result.to_dict()
        self.metrics.emit(record)
        return record

    def malformed(self, detail: str, event_message_id: str | None) -> dict[str, Any]:
        """The result for a record that could not be read (the others are routed)."""
        result = RouteResult(Route.FAILED, "malformed_record", "", "", detail=detail)
        record = {**result.to_dict(), "event_message_id": event_message_id}
        self.metrics.emit(record)
        return record

    def _route(self, event: ObjectEvent, deadline: Deadline) -> RouteResult:
        reason = ignore_reason(
            event, audio_bucket=self.settings.storage.audio_bucket, layout=self.layout
        )
        if reason is not None:
            return RouteResult(Route.IGNORED, reason, event.bucket, event.key)
        output_key = self.layout.transcript_key(event.key)
        too_long = self._too_long(event)
        if too_long is not None:
            return too_long
        obj = self._describe(event, output_key)
        if obj is None:
            return RouteResult(
                Route.IGNORED,
                "source_missing",
                event.bucket,
                event.key,
                output_key,
                detail="the object does not exist (any more)",
            )
        if obj.size == 0:
            return self._error_record(obj, "empty_object", "the object is empty (0 bytes)")
        if not has_supported_extension(event.key):
            return self._unsupported(obj)
        if self.store.is_current(output_key, obj.etag):
            return RouteResult(
                Route.SKIPPED, "transcript_current", event.bucket, event.key, output_key
            )
        if event.force_queue:
            return self._enqueue(obj, "forced", detail="manual invocation with queue: true")
        if obj.job is not None and not obj.job.spec.plain:
            return self._queue(obj, "job", detail=f"an item of batch job {obj.job.spec.job_id}")
        server_url = self._server_url()
        decision = choose(
            obj.size,
            direct_max_bytes=self.settings.direct_max_bytes,
            server_url=server_url,
            breaker=self.breaker,
            health=self.health,
        )
        if not decision.direct or server_url is None:
            return self._queue(obj, decision.reason, detail=decision.detail or None)
        return self._direct(obj, server_url, deadline)

    def _describe(self, event: ObjectEvent, output_key: str) -> _Object | None:
        """ETag and size from the event; a manual invocation without them HEADs the audio."""
        job = self.job_specs.item(event.key)
        if event.etag is not None and event.size is not None:
            return _Object(event, event.etag, event.size, output_key, job)
        head = self.store.objects.head(event.bucket, event.key)
        if head is None:
            return None
        return _Object(event, head.etag, head.size, output_key, job)

    def _unsupported(self, obj: _Object) -> RouteResult:
        extension = posixpath.splitext(obj.event.key)[1] or "no extension"
        detail = (
            f"{extension} is not a supported audio type ({', '.join(sorted(SUPPORTED_EXTENSIONS))})"
        )
        return self._error_record(obj, "unsupported_extension", detail)

    def _error_record(self, obj: _Object, reason: str, detail: str) -> RouteResult:
        """Ignored for good, with the error record that tells the user why."""
        error_key = self.store.save_error(obj.output_key, reason, detail, obj.source)
        return RouteResult(
            Route.IGNORED,
            reason,
            obj.event.bucket,
            obj.event.key,
            obj.output_key,
            detail=detail,
            error_key=error_key,
        )

    def _too_long(self, event: ObjectEvent) -> RouteResult | None:
        """A key whose transcript, sidecar or error key would pass S3's 1,024-byte limit.

        No retry can help: the result says so, with an error record if its key fits.
        """
        formats = self.settings.storage.output_formats
        keys = {self.layout.sidecar_key(event.key, fmt) for fmt in ("json", *formats)}
        error_key = self.layout.error_key(event.key)
        longest = max((*keys, error_key), key=lambda k: len(k.encode()))
        size = len(longest.encode())
        if size <= MAX_KEY_BYTES:
            return None
        detail = f"its output keys would be up to {size} bytes; S3 allows {MAX_KEY_BYTES}"
        saved = None
        if len(error_key.encode()) <= MAX_KEY_BYTES:
            source: dict[str, Any] = {"bucket": event.bucket, "key": event.key}
            source |= {"etag": event.etag, "size": event.size}
            saved = self.store.save_error(
                self.layout.transcript_key(event.key), "key_too_long", detail, source
            )
        else:
            log.error("cannot transcribe: %s (no error record fits either)", detail)
        return RouteResult(
            Route.IGNORED,
            "key_too_long",
            event.bucket,
            event.key,
            detail=detail,
            error_key=saved,
        )

    def _direct(self, obj: _Object, server_url: str, deadline: Deadline) -> RouteResult:
        event = obj.event
        input_uri = f"s3://{event.bucket}/{event.key}"
        output_uri = f"s3://{self.store.bucket}/{obj.output_key}"
        try:
            answer = self.client.transcribe(
                server_url, input_uri, output_uri, obj.etag, obj.size, deadline
            )
        except ServerRejected as error:
            if error.status == 409:  # replaced since this event: the new upload has its own
                return RouteResult(
                    Route.SKIPPED,
                    "source_changed",
                    event.bucket,
                    event.key,
                    obj.output_key,
                    attempts=error.attempts,
                    detail=str(error),
                    status=error.status,
                )
            log.warning("the server refused the object: %s", error)
            error_key = self.store.save_error(obj.output_key, error.code, error.message, obj.source)
            return RouteResult(
                Route.IGNORED,
                "server_rejected",
                event.bucket,
                event.key,
                obj.output_key,
                attempts=error.attempts,
                detail=str(error),
                status=error.status,
                error_key=error_key,
            )
        except DirectCallFailed as error:
            log.warning("direct call failed, queueing: %s", error)
            delay = self.settings.timeout_queue_delay_seconds if error.timed_out else 0
            return self._enqueue(
                obj, error.reason, detail=str(error), attempts=error.attempts, delay=delay
            )
        return RouteResult(
            Route.DIRECT,
            "server_ready",
            event.bucket,
            event.key,
            obj.output_key,
            attempts=answer.attempts,
            status=answer.status,
        )

    def _queue(self, obj: _Object, reason: str, *, detail: str | None = None) -> RouteResult:
        """The batch path, or the managed one when the fleet cannot meet the job's deadline."""
        if self.overflow is None or (obj.job is not None and obj.job.spec.job_type != "asr"):
            return self._enqueue(obj, reason, detail=detail)
        overflow = self.overflow
        deadline = overflow.deadline(obj.job.spec.deadline if obj.job is not None else None)
        if deadline is None:
            return self._enqueue(obj, reason, detail=detail)
        audio_seconds = obj.size / self.settings.direct_audio_bytes_per_second
        estimate = overflow.estimate(audio_seconds)
        if estimate is None or not estimate.misses(deadline):
            return self._enqueue(obj, reason, detail=detail)
        why = estimate.describe(deadline)
        try:
            started = overflow.starter.start(
                Source(**obj.source),
                obj.output_key,
                audio_seconds=audio_seconds,
                formats=self._options(obj.job).formats,
                language=self._options(obj.job).language,
                max_speakers=_max_speakers(obj.job),
                job_id=obj.job.spec.job_id if obj.job is not None else None,
                task_id=obj.job.task_id if obj.job is not None else None,
            )
        except AlreadyStarted as error:
            return self._result(obj, Route.SKIPPED, "managed_started", managed_job=error.job_name)
        except (BudgetSpent, QuotaFull) as refused:
            log.warning("overflow refused, queueing: %s", refused)
            return self._enqueue(obj, refused.code, detail=f"{why}; {refused}")
        except TranscribeUnavailable as error:
            log.warning("overflow failed, queueing: %s", error)
            return self._enqueue(obj, reason, detail=f"{detail or reason}; overflow: {error}")
        detail = f"{why}; {started.minutes:g} min ({started.usage.minutes:g} this month)"
        return self._result(
            obj, Route.MANAGED, "deadline", detail=detail, managed_job=started.job_name
        )

    def _result(self, obj: _Object, route: str, reason: str, **fields: Any) -> RouteResult:
        return RouteResult(route, reason, obj.event.bucket, obj.event.key, obj.output_key, **fields)

    def _enqueue(
        self,
        obj: _Object,
        reason: str,
        *,
        detail: str | None = None,
        attempts: int = 0,
        delay: int = 0,
    ) -> RouteResult:
        event = obj.event
        job = Job(
            bucket=event.bucket,
            key=event.key,
            etag=obj.etag,
            size=obj.size,
            output_bucket=self.store.bucket,
            output_key=obj.output_key,
            reason=reason,
            options=self._options(obj.job),
            **batch_fields(obj.job),
        )
        message_id = self.queue.send(job, delay_seconds=delay, priority=obj.priority)
        if delay:
            detail = f"{detail}; delayed {delay} s: the server may still finish it"
        return RouteResult(
            Route.QUEUED,
            reason,
            event.bucket,
            event.key,
            obj.output_key,
            attempts=attempts,
            detail=detail,
            message_id=message_id,
            trace_id=job.trace_id,
        )

    def _options(self, job: JobItem | None) -> JobOptions:
        formats = self.settings.storage.output_formats
        if job is None:
            return JobOptions(formats=formats)
        return JobOptions(
            language=job.spec.languages(job.item_id).src_lng, formats=job.spec.formats or formats
        )

    def _server_url(self) -> str | None:
        """The server's URL; a changed URL (a new box) starts with a fresh breaker and health."""
        url = self.server_url.get()
        with self._url_lock:
            if url != self._known_url:
                if self._known_url is not None:
                    log.info("server URL changed to %s: breaker and health cache reset", url)
                    self.breaker.reset()
                    self.health.forget()
                self._known_url = url
        return url


def batch_fields(item: JobItem | None) -> dict[str, Any]:
    """The batch fields of an uploaded job item's message, as the jobs API sets its own."""
    if item is None:
        return {}
    spec = item.spec
    languages = spec.languages(item.item_id)
    return {
        "job_id": spec.job_id,
        "task_id": item.task_id,
        "priority": spec.priority,
        "job_type": spec.job_type,
        "src_lng": languages.src_lng,
        "tgt_lng": languages.tgt_lng,
        "model": spec.model,
        **diarize_fields(spec.diarize),
    }


def _max_speakers(item: JobItem | None) -> int | None:
    """Transcribe's MaxSpeakerLabels for an item that asked for speakers, else ``None``."""
    if item is None or item.spec.diarize is None:
        return None
    wanted = item.spec.diarize
    return wanted.get("max_speakers") or wanted.get("num_speakers") or DEFAULT_MAX_SPEAKERS


def _lazy_client(service: str, settings: RouterSettings) -> Callable[[], Any]:
    """A function that builds the client on first use (only when it is needed)."""
    lock = threading.Lock()
    built: list[Any] = []

    def get() -> Any:
        with lock:
            if not built:
                built.append(aws_client(service, settings))
            return built[0]

    return get
