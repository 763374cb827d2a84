"""The API's request and response models (pydantic); the OpenAPI document is made from them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from jobs_api.layout import ITEM_ID_PATTERN

__all__ = [
    "ErrorResponse",
    "HealthResponse",
    "ItemIn",
    "ItemView",
    "JobAccepted",
    "JobIn",
    "JobList",
    "JobSummary",
    "JobView",
    "KeyIn",
    "KeyIssued",
    "KeyList",
    "KeyView",
    "OptionsIn",
    "PlanIn",
    "Progress",
    "ResultLink",
    "Results",
    "Upload",
]

Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
Format = Literal["json", "txt", "srt", "vtt", "tsv"]
Scope = Literal["jobs:write", "jobs:read", "admin"]
HARD_MAX_ITEMS = 10_000  # the schema's bound; JOBS_MAX_ITEMS sets the one enforced
SOURCES = ("audio_url", "audio_base64", "upload", "text")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemIn(_Strict):
    id: str = Field(
        pattern=ITEM_ID_PATTERN,
        description="Unique in the job: letters, digits, '.', '_', '-' (1-128); not ending "
        "in '.error'. Names the result: OUTPUT_PREFIX jobs/<job_id>/<id>.json.",
    )
    audio_url: str | None = Field(
        None, max_length=1100, description="s3://bucket/key in an allowed bucket."
    )
    audio_base64: str | None = Field(
        None, description="The audio itself, base64; at most JOBS_MAX_BASE64_MB decoded."
    )
    upload: Literal[True] | None = Field(
        None, description="true: the answer holds a presigned PUT URL for this item."
    )
    text: str | None = Field(None, max_length=100_000, description="nmt items: the text.")
    ext: str | None = Field(
        None,
        pattern=r"^[a-z0-9]{1,5}$",
        description="Audio type of an audio_base64 or upload item (wav, mp3…); default: "
        "the id's extension.",
    )
    src_lng: Language | None = None
    tgt_lng: Language | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ItemIn:
        given = [name for name in SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(SOURCES)} (got {given or 'none'})")
        if self.id.endswith(".error"):
            raise ValueError("id must not end in '.error' (that names error records)")
        return self


class OptionsIn(_Strict):
    formats: list[Format] | None = Field(
        None, min_length=1, description="Result formats; json is always written."
    )
    model: str | None = Field(None, pattern=r"^[A-Za-z0-9._/-]{1,100}$")
    diarize: bool | None = Field(
        None, description="Label the speakers (SPEAKER_00…); implied by a speaker count."
    )
    num_speakers: int | None = Field(None, ge=1, le=20, description="Exactly this many.")
    min_speakers: int | None = Field(None, ge=1, le=20)
    max_speakers: int | None = Field(None, ge=1, le=20)


class JobIn(_Strict):
    job_type: Literal["asr", "nmt", "asr+nmt"]
    items: list[ItemIn] = Field(min_length=1, max_length=HARD_MAX_ITEMS)
    default_src_lng: Language | None = None
    default_tgt_lng: Language | None = None
    priority: Literal["high", "normal", "low"] = "normal"
    webhook_url: str | None = Field(None, max_length=2048)
    deadline: float | None = Field(
        None,
        gt=0,
        le=30 * 86400,
        description="Seconds from upload to transcript the job allows: an uploaded item the GPU "
        "fleet cannot finish in time goes to AWS Transcribe when the managed overflow is on "
        "(default: the deployment's BATCH_DEADLINE_SECONDS).",
    )
    options: OptionsIn = Field(default_factory=lambda: OptionsIn.model_validate({}))


class Upload(BaseModel):
    id: str
    url: str
    method: Literal["PUT"] = "PUT"
    expires_at: str


class JobAccepted(BaseModel):
    job_id: str
    enqueued_tasks: int
    uploads: list[Upload] | None = None


class Progress(BaseModel):
    total: int
    queued: int
    running: int
    succeeded: int
    failed: int
    canceled: int


class ItemView(BaseModel):
    id: str
    task_id: str
    status: str
    source: str
    src_lng: str | None = None
    language: str | None = None
    model: str | None = None
    duration: float | None = None
    timings: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    updated_at: str


class JobSummary(BaseModel):
    job_id: str
    status: str
    job_type: str
    priority: str
    created_at: str
    updated_at: str
    completed_at: str | None = None
    progress: Progress


class JobView(JobSummary):
    webhook_attempts: list[dict[str, Any]] = []
    items: list[ItemView]
    next_cursor: str | None = None


class JobList(BaseModel):
    jobs: list[JobSummary]
    next_cursor: str | None = None


class ResultLink(BaseModel):
    url: str
    expires_at: str


class ItemResults(BaseModel):
    id: str
    status: str
    results: dict[str, ResultLink] = {}
    audio: ResultLink | None = Field(
        None, description="The item's audio (an upload, inline or s3:// item), to play it."
    )
    error: dict[str, Any] | None = None


class Results(BaseModel):
    job_id: str
    status: str
    items: list[ItemResults]
    next_cursor: str | None = None


class KeyIn(_Strict):
    owner: str = Field(pattern=r"^[A-Za-z0-9._@-]{1,128}$", description="Whose jobs the key sees.")
    scopes: list[Scope] = Field(min_length=1)
    rate_quota: int | None = Field(
        None, ge=1, le=1_000_000, description="Requests per minute per route."
    )


class KeyView(BaseModel):
    id: str
    owner: str
    scopes: list[str]
    rate_quota: int | None = None
    created_at: str
    revoked_at: str | None = None


class KeyIssued(KeyView):
    key: str = Field(description="Shown once: send it as Authorization: Bearer <key>.")
    webhook_secret: str = Field(description="Shown once: verifies this key's job webhooks.")


class KeyList(BaseModel):
    keys: list[KeyView]


Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,100}$")]


class PlanIn(_Strict):
    """The capacity planner's inputs (``transcription-router plan``'s options)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    tasks_per_month: float = Field(gt=0, le=1e9)
    minutes_per_task: float = Field(gt=0, le=24 * 60, description="Mean audio minutes.")
    peak_ratio: float = Field(3.0, ge=1, le=24, description="Busiest hour's rate / the mean.")
    latency_target_seconds: float = Field(3600.0, gt=0, le=30 * 24 * 3600)
    model: Name = "large-v3"
    instance_type: Name = "g5.xlarge"
    spot_share: float = Field(0.8, ge=0, le=1)
    summary_share: float = Field(0.0, ge=0, le=1)
    longest_task_minutes: float | None = Field(None, gt=0, le=24 * 60)


class HealthResponse(BaseModel):
    status: Literal["ok"]
    service: str = "jobs-api"


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
