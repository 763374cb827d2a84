"""The job message: what the router puts on SQS and the worker takes off (version 1).

``reason`` is also sent as a message attribute so queue metrics can be split by it.

A task of a batch job (``jobs_api``) is the same message plus the job's fields: ``job_id``
(32 lower-case hex), ``task_id``, ``priority`` (``high``, ``normal``, ``low``), ``job_type``,
and ``src_lng``/``tgt_lng``/``model``/``text_key`` (an ``nmt`` item's text in S3) and
``diarize`` with ``num_speakers``/``min_speakers``/``max_speakers`` when given. Each is
optional and left out of the body when unset, so the router's messages are byte for byte
what they were before these existed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from transcription.diarization import DiarizeOptions
from transcription.exceptions import MalformedJob, UnsupportedJobVersion
from transcription.layout import JOB_ID
from transcription.priority import PRIORITIES
from transcription.transcript import utc_now

__all__ = ["BATCH_FIELDS", "JOB_VERSION", "REASONS", "Job", "JobOptions", "diarize_fields"]

JOB_VERSION = 1
# ARCHITECTURE.md, "Job message": why the job is on the batch path.
REASONS = frozenset(
    {
        "server_down",
        "server_busy",
        "breaker_open",
        "budget_exhausted",
        "too_large",
        "no_server",
        "job",
        "forced",
        "managed_quota",  # the fleet would miss the deadline, but Transcribe's quota is full
    }
)
TASKS = frozenset({"transcribe", "translate"})
# A batch job's task fields, in the order they follow the core fields in the body.
BATCH_FIELDS = (
    "job_id", "task_id", "priority", "job_type", "src_lng", "tgt_lng", "model", "text_key",
)  # fmt: skip
SPEAKER_FIELDS = ("num_speakers", "min_speakers", "max_speakers")
JOB_TYPES = frozenset({"asr", "nmt", "asr+nmt"})


@dataclass(frozen=True)
class JobOptions:
    language: str | None = None
    task: str = "transcribe"
    formats: tuple[str, ...] = ("json", "txt", "srt", "vtt")


@dataclass(frozen=True)
class Job:
    bucket: str
    key: str
    etag: str
    size: int
    output_bucket: str
    output_key: str
    reason: str
    options: JobOptions = field(default_factory=JobOptions)
    enqueued_at: str = field(default_factory=utc_now)
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    version: int = JOB_VERSION
    # A batch job's task (see the module docstring); None: a job of the router.
    job_id: str | None = None
    task_id: str | None = None
    priority: str | None = None
    job_type: str | None = None
    src_lng: str | None = None
    tgt_lng: str | None = None
    model: str | None = None  # one of the worker's MODELS; None: MODEL
    text_key: str | None = None  # nmt: the item's text, in the output bucket
    diarize: bool | None = None  # label the speakers; None: the worker's DIARIZE_DEFAULT
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None

    def __post_init__(self) -> None:
        _check_batch_fields(self)

    def diarization(self, default: bool = False) -> DiarizeOptions | None:
        """What the task asks of diarization (``default``: the component's DIARIZE_DEFAULT);
        raises ``InvalidSpeakerCount`` (permanent) for contradictory counts."""
        return DiarizeOptions.requested(
            self.diarize, self.num_speakers, self.min_speakers, self.max_speakers, default=default
        )

    def to_json(self) -> str:
        data = asdict(self)
        data["options"]["formats"] = list(self.options.formats)
        for name in (*BATCH_FIELDS, "diarize", *SPEAKER_FIELDS):
            if data[name] is None:
                del data[name]
        ordered = {"version": data.pop("version"), **data}
        return json.dumps(ordered, ensure_ascii=False)

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SQS message attributes: ``reason`` (for metrics) and ``trace_id``."""
        return {
            "reason": {"DataType": "String", "StringValue": self.reason},
            "trace_id": {"DataType": "String", "StringValue": self.trace_id},
        }

    @classmethod
    def from_json(cls, body: str | bytes) -> Job:
        """Parse and validate a message body; raise MalformedJob or UnsupportedJobVersion."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise MalformedJob(f"job body is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise MalformedJob("job body must be a JSON object")
        version = data.get("version")
        if version != JOB_VERSION:
            raise UnsupportedJobVersion(f"job version {version!r} is not {JOB_VERSION}")
        try:
            return cls._from_dict(data)
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedJob(f"job body is invalid: {error!r}") from None

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> Job:
        raw_options = data.get("options") or {}
        if not isinstance(raw_options, dict):
            raise ValueError("options must be an object")
        options = JobOptions(
            language=raw_options.get("language"),
            task=raw_options.get("task", "transcribe"),
            formats=tuple(raw_options.get("formats") or JobOptions().formats),
        )
        if options.task not in TASKS:
            raise ValueError(f"task {options.task!r} is not one of {sorted(TASKS)}")
        text_fields = ("bucket", "key", "etag", "output_bucket", "output_key", "reason")
        for name in text_fields:
            if not isinstance(data[name], str) or not data[name]:
                raise ValueError(f"{name} must be a non-empty string")
        size = data["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("size must be a non-negative integer")
        given: dict[str, Any] = {name: data[name] for name in text_fields}
        given.update({name: data.get(name) or None for name in BATCH_FIELDS})  # "": unset
        given.update({name: data.get(name) for name in ("diarize", *SPEAKER_FIELDS)})
        return cls(
            **given,
            size=size,
            options=options,
            enqueued_at=data.get("enqueued_at") or utc_now(),
            trace_id=data.get("trace_id") or uuid.uuid4().hex,
        )


def diarize_fields(wanted: Mapping[str, int] | None) -> dict[str, Any]:
    """A task's ``diarize`` and speaker counts as :class:`Job` fields, from what a batch job
    asked for (``None``: no diarization; ``{}``: the count estimated)."""
    return {} if wanted is None else {"diarize": True, **wanted}


def _check_batch_fields(job: Job) -> None:
    """The batch fields a job carries are well formed: :class:`MalformedJob` naming the field."""
    for name in BATCH_FIELDS:
        value = getattr(job, name)
        if value is not None and (not isinstance(value, str) or not value):
            raise MalformedJob(f"{name} must be a string (non-empty), not {value!r}")
    if job.job_id is not None and not JOB_ID.match(job.job_id):
        raise MalformedJob(f"job_id {job.job_id!r} is not 32 lower-case hex digits")
    if job.priority is not None and job.priority not in PRIORITIES:
        raise MalformedJob(f"priority {job.priority!r} is not one of {', '.join(PRIORITIES)}")
    if job.job_type is not None and job.job_type not in JOB_TYPES:
        raise MalformedJob(
            f"job_type {job.job_type!r} is not one of {', '.join(sorted(JOB_TYPES))}"
        )
    if job.job_type == "nmt" and job.text_key is None:
        raise MalformedJob("an nmt task needs text_key")
    if job.diarize is not None and not isinstance(job.diarize, bool):
        raise MalformedJob(f"diarize must be true or false, not {job.diarize!r}")
    for name in SPEAKER_FIELDS:
        value = getattr(job, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise MalformedJob(f"{name} must be a whole number, not {value!r}")
