"""The job message: what the router puts on SQS and the worker takes off (version 1).

``reason`` is also sent as a message attribute so queue metrics can be split by it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from transcription.exceptions import MalformedJob, UnsupportedJobVersion
from transcription.transcript import utc_now

__all__ = ["JOB_VERSION", "REASONS", "Job", "JobOptions"]

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
    }
)
TASKS = frozenset({"transcribe", "translate"})


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
    model: str | None = None  # one of the worker's MODELS (the jobs API sets it); None: MODEL

    def to_json(self) -> str:
        data = asdict(self)
        data["options"]["formats"] = list(self.options.formats)
        if self.model is None:
            del data["model"]  # the router's messages stay as they were
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
        return cls(
            **{name: data[name] for name in text_fields},
            size=size,
            options=options,
            enqueued_at=data.get("enqueued_at") or utc_now(),
            trace_id=data.get("trace_id") or uuid.uuid4().hex,
            model=_optional_text(data, "model"),
        )


def _optional_text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value or None
