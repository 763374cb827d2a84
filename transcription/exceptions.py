"""Named errors of the transcription core.

Each carries a stable ``code`` that components map to their own answer: an HTTP status in
the server, an error record and queue handling in the worker, an error record in the router.
"""

from __future__ import annotations


class TranscriptionError(Exception):
    """Base class for every error this project raises on purpose."""

    code = "transcription_error"
    permanent = True  # retrying the same input cannot succeed


class SettingsError(TranscriptionError):
    """A setting is missing or invalid; the message names the variable."""

    code = "invalid_settings"


# --- audio -----------------------------------------------------------------------------
class AudioError(TranscriptionError):
    """The input cannot be transcribed as it is."""

    code = "audio_error"


class NotAudio(AudioError):
    """Not decodable as audio: wrong type, corrupt, or no audio stream."""

    code = "not_audio"


class InvalidPcm(NotAudio):
    """Raw PCM (``encode=false``) that cannot be 16-bit samples: an odd byte count."""

    code = "invalid_pcm"


class EmptyAudio(AudioError):
    """Zero bytes, or a container with no samples."""

    code = "empty_audio"


class AudioTooLong(AudioError):
    """Longer than MAX_AUDIO_SECONDS."""

    code = "audio_too_long"

    def __init__(self, seconds: float, limit: float) -> None:
        super().__init__(f"audio is {seconds:.1f} s long; the limit is {limit:.0f} s")
        self.seconds = seconds
        self.limit = limit


class UnsupportedExtension(AudioError):
    """The key's extension is not one of the supported audio types."""

    code = "unsupported_extension"


# --- storage ---------------------------------------------------------------------------
class InvalidS3Uri(TranscriptionError):
    """Not of the form s3://bucket/key."""

    code = "invalid_s3_uri"


class SourceMissing(TranscriptionError):
    """The audio object does not exist (any more)."""

    code = "source_missing"


class SourceChanged(TranscriptionError):
    """The audio object was replaced after the job was made (its ETag differs)."""

    code = "source_changed"


class TranscriptExists(TranscriptionError):
    """Another writer already stored a transcript for this key: keep theirs."""

    code = "transcript_exists"

    def __init__(self, key: str, reason: str = "another writer won") -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class StorageUnavailable(TranscriptionError):
    """S3 throttled, timed out or failed: worth retrying later."""

    code = "storage_unavailable"
    permanent = False


class StorageAccessDenied(TranscriptionError):
    """S3 refused access (IAM or bucket policy). Not permanent: a fixed policy makes it work."""

    code = "s3_access_denied"
    permanent = False


class ConditionFailed(TranscriptionError):
    """A conditional request lost: the object is no longer what the condition named (412/409).

    :mod:`transcription.objects` raises it; callers say what it means for them
    (:class:`TranscriptExists` for a transcript, :class:`SourceChanged` for the audio).
    """

    code = "condition_failed"
    permanent = False


# --- what a request or a job may touch -------------------------------------------------
class TargetNotAllowed(TranscriptionError):
    """A request or job names a bucket or an output this component must not touch."""

    code = "target_not_allowed"


class BucketNotAllowed(TargetNotAllowed):
    """The bucket is not in the allow-list (ALLOWED_BUCKETS)."""

    code = "bucket_not_allowed"


class OutputNotAllowed(TargetNotAllowed):
    """The output is not the layout's transcript key of the input (nor its job result key)."""

    code = "output_not_allowed"


# --- jobs ------------------------------------------------------------------------------
class MalformedJob(TranscriptionError):
    """A queue message that is not a valid job."""

    code = "malformed_job"


class UnsupportedJobVersion(MalformedJob):
    """A job message of a version this code does not understand."""

    code = "unsupported_job_version"


class RefusedJob(MalformedJob):
    """A well-formed job that names a bucket or an output the worker must not touch.

    Dead-lettered like any job the worker cannot act on; its detail says which check failed.
    """

    code = "refused_job"

    def __init__(self, refused: TargetNotAllowed) -> None:
        super().__init__(f"{refused.code}: {refused}")
        self.refused = refused


# --- engines ---------------------------------------------------------------------------
class EngineError(TranscriptionError):
    """The engine failed on an input that decoded fine (may work on retry)."""

    code = "engine_error"
    permanent = False


class UnknownEngine(SettingsError):
    code = "unknown_engine"


class UnknownModel(TranscriptionError):
    """A request (or job) named a model this process does not serve (not in MODELS)."""

    code = "unknown_model"

    def __init__(self, value: str, allowed: tuple[str, ...], field: str = "model") -> None:
        super().__init__(
            f"{field}={value!r} is not a model served here; choose one of {', '.join(allowed)}"
        )
        self.value = value
        self.field = field


class ModelChecksumMismatch(SettingsError):
    """Joined model weights do not match the sha256 recorded for them (a damaged install)."""

    code = "model_checksum_mismatch"


# --- languages -------------------------------------------------------------------------
class UnknownLanguage(TranscriptionError):
    """Not an ISO 639-1 or 639-3 language code (nor a language name) that is known here."""

    code = "unknown_language"

    def __init__(self, value: str, field: str = "language") -> None:
        super().__init__(
            f"{field}={value!r} is not a known language (use an ISO 639-1 or 639-3 code, e.g. "
            "'es' or 'spa')"
        )
        self.value = value
        self.field = field


class UnsupportedLanguage(TranscriptionError):
    """A real language that the model (or engine) asked for cannot handle."""

    code = "unsupported_language"

    def __init__(self, value: str, reason: str, field: str = "language") -> None:
        super().__init__(f"{field}={value!r}: {reason}")
        self.value = value
        self.field = field
