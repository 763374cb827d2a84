"""Pydantic models of the HTTP API: request bodies, responses, and the documented errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from transcription.diarization import DiarizeOptions
from transcription.exceptions import UnknownLanguage, UnsupportedLanguage
from transcription.languages import whisper_language

__all__ = [
    "DetectedLanguage",
    "ErrorBody",
    "HealthResponse",
    "ModelList",
    "ModelObject",
    "OpenAIForm",
    "OpenAITranscription",
    "OpenAIUsage",
    "OpenAIVerbose",
    "S3Output",
    "TranscribeForm",
    "TranscribeS3Request",
    "TranscribeS3Response",
    "TranscriptModel",
    "errors",
]


# --- errors ------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable error code.")
    message: str = Field(description="What went wrong, for people.")
    param: str | None = Field(None, description="The offending request field, when one is.")


class ErrorBody(BaseModel):
    error: ErrorDetail


_ERROR_TEXT = {
    400: "The body cannot be parsed (not JSON, or not UTF-8).",
    401: "No API key, or not a valid one (`Authorization: Bearer <key>`).",
    403: "The S3 bucket is not in ALLOWED_BUCKETS, `s3_output_path` is not the layout's place "
    "for the input (`output_not_allowed`), or S3 refused access.",
    404: "The S3 object (or bucket) does not exist.",
    409: "The S3 object changed since the given ETag.",
    413: "The upload is larger than MAX_UPLOAD_MB, or the audio longer than MAX_AUDIO_SECONDS.",
    415: "Not decodable audio (or empty), or the body is not multipart/form-data.",
    422: "The request is malformed: a missing or invalid field, or a malformed S3 path.",
    429: "The rate limit of this API key (or of requests without a valid key from this "
    "address) is exhausted; see `Retry-After`.",
    502: "S3 answered with an unexpected error.",
    503: "Busy (every slot taken and the waiting line full), the model still loading, or S3 "
    "unreachable; see `Retry-After`.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string"},
    }
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries documenting the given error statuses."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _ERROR_TEXT[status]}
        if status in (429, 503):
            entry["headers"] = _RETRY_AFTER
        documented[status] = entry
    return documented


# A Whisper language code ("en"); empty means detect. An unknown code is a 422.
def request_language(value: str | None) -> str | None:
    """A request's language as Whisper's code; empty is ``None`` (detect); unknown is a 422."""
    if value is None or not value.strip():
        return None
    try:
        return whisper_language(value)
    except (UnknownLanguage, UnsupportedLanguage) as error:
        raise ValueError(str(error)) from error


Language = Annotated[
    str | None,
    AfterValidator(request_language),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "examples": ["en", "spa", "de-DE"]}, {"type": "null"}],
            "description": "ISO 639-1 or 639-3 code (a region tag is ignored); empty to detect.",
        }
    ),
]
# s3://bucket/key, documented as a pattern; checked by transcription.layout.parse_s3_uri so a
# malformed one gets its own error code (invalid_s3_uri).
S3_URI_SCHEMA = {"type": "string", "pattern": "^s3://[^/]+/.*[^/]$", "maxLength": 2048}
Granularity = Literal["word", "segment"]


MODEL_DESCRIPTION = "One of MODELS (GET /v1/models); empty: the default MODEL."


# --- health ------------------------------------------------------------------------------
class HealthResponse(BaseModel):
    status: Literal["ok", "loading", "failed"]
    ready: bool = Field(description="The model is loaded and requests are served.")
    busy: bool = Field(
        description="A request sent now could not start within the wait budget "
        "(BUSY_WAIT_SECONDS), or would be refused."
    )
    in_flight: int = Field(description="Transcriptions running now.")
    draining: bool = Field(
        False,
        description="A queued job runs (SERVER_DRAINS_QUEUE). It gives way to direct work "
        "when it ends, so it does not make the server busy: a direct request waits at most "
        "that one job.",
    )
    capacity: int = Field(description="Transcriptions that may run at once (CONCURRENCY).")
    pending: int = Field(description="Requests waiting for a slot.")
    max_pending: int = Field(description="Requests that may wait (MAX_PENDING).")
    estimated_wait_seconds: float | None = Field(
        description="Estimated wait before a new request could start; null when unknown."
    )
    wait_budget_seconds: float = Field(description="BUSY_WAIT_SECONDS.")
    realtime_factor: float | None = Field(
        default=None,
        description="Mean processing seconds per audio second so far; null before the first. "
        "The router sizes its attempt timeout with it.",
    )
    engine: str | None
    model: str | None
    device: str | None


# --- transcripts -------------------------------------------------------------------------
class WordModel(BaseModel):
    word: str
    start: float
    end: float
    probability: float | None = None
    speaker: str | None = None


class SegmentModel(BaseModel):
    id: int
    start: float
    end: float
    text: str
    words: list[WordModel] = []
    speaker: str | None = None


class SourceModel(BaseModel):
    bucket: str
    key: str
    etag: str
    size: int


class TimingsModel(BaseModel):
    queued_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    audio_seconds: float | None = None
    processing_seconds: float | None = None


class LanguageVoteModel(BaseModel):
    """What one window of the audio sounded like, when the language was detected."""

    start: float
    end: float
    language: str
    probability: float


class TranscriptModel(BaseModel):
    """The transcript JSON, version 1 (the same shape whichever path made it)."""

    version: int
    text: str
    language: str | None
    duration: float
    segments: list[SegmentModel]
    engine: str
    model: str
    device: str
    source: SourceModel | None = None
    route: str | None = Field(None, description="direct | batch | api")
    timings: TimingsModel
    created_at: str
    warnings: list[str] = []
    language_probability: float | None = None
    language_votes: list[LanguageVoteModel] = []
    speakers: dict[str, float] | None = Field(
        None, description="Diarized: each speaker label's talk time in seconds."
    )


class DiarizeFields(BaseModel):
    """Speaker labels (``SPEAKER_00``…) on a transcription request; default DIARIZE_DEFAULT."""

    diarize: bool | None = Field(
        None, description="Label the speakers; empty: DIARIZE_DEFAULT (a count implies true)."
    )
    num_speakers: int | None = Field(None, ge=1, le=20, description="Exactly this many.")
    min_speakers: int | None = Field(None, ge=1, le=20)
    max_speakers: int | None = Field(None, ge=1, le=20)

    def diarization(self, default: bool) -> DiarizeOptions | None:
        """What the request asks for (``InvalidSpeakerCount``, a 422, when contradictory)."""
        return DiarizeOptions.requested(
            self.diarize, self.num_speakers, self.min_speakers, self.max_speakers, default=default
        )


class TranscribeForm(DiarizeFields):
    """The text fields of ``POST /transcribe`` (the file is the ``file`` part)."""

    model_config = ConfigDict(extra="ignore")

    language: Language = Field(None, description="ISO 639-1 or 639-3 code; empty to detect.")
    response_format: Literal["json", "verbose_json", "text", "txt", "srt", "vtt", "tsv"] = "json"
    model: str | None = Field(None, max_length=256, description=MODEL_DESCRIPTION)


# --- /transcribe-s3 ----------------------------------------------------------------------
class TranscribeS3Request(DiarizeFields):
    s3_input_path: Annotated[str, WithJsonSchema(S3_URI_SCHEMA)] = Field(
        max_length=2048, description="The audio: s3://bucket/key.", examples=["s3://audio/a.wav"]
    )
    s3_output_path: Annotated[
        str | None, WithJsonSchema({"anyOf": [S3_URI_SCHEMA, {"type": "null"}]})
    ] = Field(
        None,
        max_length=2048,
        description="Where the transcript goes (s3://bucket/key.json): only the layout's place "
        "for the input (TRANSCRIPT_BUCKET, OUTPUT_PREFIX<path>.json), or for an item uploaded "
        "to a batch job (INPUT_PREFIX jobs/<job_id>/<item_id>.<ext>) its result key "
        "(OUTPUT_PREFIX jobs/<job_id>/<item_id>.json). Default: the layout's place.",
    )
    language: Language = Field(None, max_length=16, description="ISO-639-1 code; null to detect.")
    return_text: bool = Field(True, description="false: leave text and segments out of the answer.")
    model: str | None = Field(None, max_length=256, description=MODEL_DESCRIPTION)
    etag: str | None = Field(
        None,
        max_length=256,
        description="The audio's ETag as the caller saw it; a changed object is a 409.",
    )


class S3Output(BaseModel):
    uri: str = Field(description="s3://bucket/key of the transcript JSON.")
    outcome: Literal["created", "replaced", "existing", "lost_race"] = Field(
        description="created/replaced: this request wrote it; existing: a current transcript "
        "was there already (the model did not run); lost_race: another writer stored its "
        "transcript first, and that one is returned."
    )


class TranscribeS3Response(TranscriptModel):
    text: str | None = None  # type: ignore[assignment]
    segments: list[SegmentModel] | None = None  # type: ignore[assignment]
    output: S3Output


# --- OpenAI ------------------------------------------------------------------------------
class OpenAIForm(DiarizeFields):
    """The text fields of OpenAI's ``/v1/audio/transcriptions`` and ``/translations``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    model: str = Field(
        "whisper-1",
        max_length=256,
        description="One of MODELS (GET /v1/models); `whisper-1` (OpenAI's name) and empty "
        "mean the default MODEL.",
    )
    language: Language = Field(None, description="ISO-639-1 code (transcriptions only).")
    prompt: str | None = Field(None, max_length=4000)
    response_format: Literal["json", "text", "srt", "vtt", "verbose_json"] = "json"
    temperature: float | None = Field(None, ge=0.0, le=1.0)
    timestamp_granularities: list[Granularity] = Field(
        default_factory=lambda: list[Granularity](["segment"]),
        alias="timestamp_granularities[]",
        description="With verbose_json: word and/or segment timestamps.",
    )


class OpenAIUsage(BaseModel):
    type: Literal["duration"] = "duration"
    seconds: float


class OpenAITranscription(BaseModel):
    text: str
    usage: OpenAIUsage | None = None


class OpenAIWord(BaseModel):
    word: str
    start: float
    end: float


class OpenAISegment(BaseModel):
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class OpenAIVerbose(BaseModel):
    task: str
    language: str
    duration: float
    text: str
    segments: list[OpenAISegment] | None = None
    words: list[OpenAIWord] | None = None
    usage: OpenAIUsage | None = None


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    loaded: bool = Field(description="In memory now; false: loads on first use.")
    default: bool = Field(description="The default MODEL (used when a request names none).")
    capacity: int = Field(description="Transcriptions it may run at once (CONCURRENCY).")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


# --- whisper-asr-webservice --------------------------------------------------------------
class DetectedLanguage(BaseModel):
    """``POST /detect-language``: the shape whisper-asr-webservice answers (Bazarr reads it)."""

    detected_language: str = Field(description="Whisper's lower-case English name: `spanish`.")
    language_code: str = Field(description="Whisper's code (ISO 639-1 mostly): `es`.")
    confidence: float | None = Field(None, description="The winner's mean probability.")
