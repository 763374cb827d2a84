"""What the router needs to know about a batch job to queue its uploaded items: the job spec.

The jobs API writes it, before any of the job's audio can be uploaded, to
``$OUTPUT_PREFIX jobs/<job_id>/spec`` in the transcript bucket (``Layout.job_spec_key``; no
extension, so it never names an item's result). The router reads it once per job and warm
container (:mod:`lambda_router.job_spec`) and turns each uploaded item into the same job
message the jobs API sends for an ``s3://`` item: job and task id, priority, job type,
languages, model and formats. Neither the router nor the GPU components touch DynamoDB.

Only items whose languages differ from the job's defaults are listed in ``items``, so the
spec of a 1,000-item job stays small.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from transcription.priority import DEFAULT_PRIORITY, PRIORITIES

__all__ = ["ItemLanguages", "JobSpec", "task_id_of"]


def task_id_of(job_id: str, item_id: str) -> str:
    """Deterministic: a resumed submission, and the router, name the same task."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"job:{job_id}/{item_id}").hex


@dataclass(frozen=True)
class ItemLanguages:
    src_lng: str | None = None
    tgt_lng: str | None = None


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    job_type: str = "asr"
    priority: str = DEFAULT_PRIORITY
    src_lng: str | None = None  # the job's defaults
    tgt_lng: str | None = None
    model: str | None = None
    diarize: Mapping[str, int] | None = None  # speaker counts asked for ({}: estimated)
    formats: tuple[str, ...] | None = None  # None: the deployment's OUTPUT_FORMATS
    items: Mapping[str, ItemLanguages] = field(default_factory=dict)  # overrides only
    # Seconds from upload to transcript the job allows (the managed overflow's deadline).
    deadline: float | None = None

    def languages(self, item_id: str) -> ItemLanguages:
        """The item's source and target language (its own, else the job's)."""
        own = self.items.get(item_id, ItemLanguages())
        return ItemLanguages(own.src_lng or self.src_lng, own.tgt_lng or self.tgt_lng)

    @property
    def plain(self) -> bool:
        """A plain transcription the server may do directly with its defaults."""
        return (
            self.job_type == "asr"
            and self.priority != "low"
            and self.model is None
            and self.diarize is None
            and self.formats is None
            and self.src_lng is None
            and not self.items
        )

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "job_id": self.job_id,
            "job_type": self.job_type,
            "priority": self.priority,
            "src_lng": self.src_lng,
            "tgt_lng": self.tgt_lng,
            "model": self.model,
            "diarize": dict(self.diarize) if self.diarize is not None else None,
            "formats": list(self.formats) if self.formats is not None else None,
            "items": {
                item_id: {"src_lng": langs.src_lng, "tgt_lng": langs.tgt_lng}
                for item_id, langs in self.items.items()
            },
        }
        if self.deadline is not None:  # specs without one keep the shape they always had
            data["deadline"] = self.deadline
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, body: str | bytes) -> JobSpec:
        """Parse a spec; ``ValueError`` when it is not one."""
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("job_id"), str):
            raise ValueError("a job spec is a JSON object with a job_id")
        priority = data.get("priority") or DEFAULT_PRIORITY
        if priority not in PRIORITIES:
            raise ValueError(f"priority {priority!r} is not one of {', '.join(PRIORITIES)}")
        formats = data.get("formats")
        items = data.get("items") or {}
        if not isinstance(items, dict):
            raise ValueError("items must be an object")
        return cls(
            job_id=data["job_id"],
            job_type=data.get("job_type") or "asr",
            priority=priority,
            src_lng=data.get("src_lng"),
            tgt_lng=data.get("tgt_lng"),
            model=data.get("model"),
            diarize=data.get("diarize"),
            formats=tuple(formats) if formats is not None else None,
            deadline=_deadline(data.get("deadline")),
            items={
                str(item_id): ItemLanguages(value.get("src_lng"), value.get("tgt_lng"))
                for item_id, value in items.items()
                if isinstance(value, dict)
            },
        )


def _deadline(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"deadline {value!r} is not a number of seconds > 0")
    return float(value)
