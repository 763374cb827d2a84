"""The S3 key layout: where a transcript, its sidecars and its error record live.

``audio/a/talk.mp3`` → ``transcripts/a/talk.mp3.json`` (the audio's extension stays, so
``talk.mp3`` and ``talk.wav`` never collide). Keys outside the input prefix are not inputs:
together with the EventBridge rule's prefix filter, this is what stops a transcript from
triggering a new transcription.

Where a transcript may be written is decided here too (:class:`OutputPolicy`), once for the
server's ``/transcribe-s3`` and the batch worker: neither trusts the output named by a
request or a job message.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote_plus

from transcription.exceptions import BucketNotAllowed, InvalidS3Uri, OutputNotAllowed

__all__ = [
    "JOBS_FOLDER",
    "SUPPORTED_EXTENSIONS",
    "Layout",
    "OutputPolicy",
    "decode_event_key",
    "error_key_for",
    "has_supported_extension",
    "normalize_etag",
    "parse_s3_uri",
]

SUPPORTED_EXTENSIONS = frozenset(
    {".wav", ".mp3", ".m4a", ".aac", ".mp4", ".ogg", ".oga", ".opus", ".webm", ".flac"}
)
# Items uploaded to a batch job: <input_prefix>jobs/<job_id>/<item_id>.<ext>; their results:
# <output_prefix>jobs/<job_id>/<item_id>.json (ARCHITECTURE: "Batch jobs").
JOBS_FOLDER = "jobs/"


@dataclass(frozen=True)
class Layout:
    input_prefix: str = "audio/"
    output_prefix: str = "transcripts/"

    def is_input(self, key: str) -> bool:
        """True for an object under the input prefix that is not a folder marker."""
        return (
            key.startswith(self.input_prefix) and not key.endswith("/") and key != self.input_prefix
        )

    def relative(self, key: str) -> str:
        if not self.is_input(key):
            raise ValueError(f"{key!r} is not under the input prefix {self.input_prefix!r}")
        return key[len(self.input_prefix) :]

    def transcript_key(self, key: str) -> str:
        return self.sidecar_key(key, "json")

    def sidecar_key(self, key: str, fmt: str) -> str:
        return f"{self.output_prefix}{self.relative(key)}.{fmt}"

    def error_key(self, key: str) -> str:
        return error_key_for(self.transcript_key(key))

    def job_result_key(self, key: str) -> str | None:
        """``audio/jobs/J/item.wav`` → ``transcripts/jobs/J/item.json``; ``None`` for any key
        that is not an item uploaded to a batch job (exactly one name below the job's folder).
        """
        if not self.is_input(key):
            return None
        folder, job_id, name = _split_job_item(self.relative(key))
        if folder != JOBS_FOLDER or not job_id or not name:
            return None
        item_id = posixpath.splitext(name)[0]
        if not item_id:
            return None
        return f"{self.output_prefix}{JOBS_FOLDER}{job_id}/{item_id}.json"

    def allowed_outputs(self, key: str) -> tuple[str, ...]:
        """The output keys a transcript of input ``key`` may be written to (none: not an input).

        Its transcript key and, for an item uploaded to a batch job, the job's result key.
        A job item read from anywhere else (an ``audio_url``) has no result key the worker
        could check without the job store, so it is not accepted here.
        """
        if not self.is_input(key):
            return ()
        result_key = self.job_result_key(key)
        transcript_key = self.transcript_key(key)
        return (transcript_key, result_key) if result_key else (transcript_key,)


def _split_job_item(relative: str) -> tuple[str, str, str]:
    """``jobs/J/item.wav`` → ``("jobs/", "J", "item.wav")``; other shapes give an empty part."""
    parts = relative.split("/")
    if len(parts) != 3:
        return "", "", ""
    return f"{parts[0]}/", parts[1], parts[2]


@dataclass(frozen=True)
class OutputPolicy:
    """What a request or a job may read and write; the same rules for server and worker.

    - both buckets must be in ``allowed_buckets`` (ALLOWED_BUCKETS; default: AUDIO_BUCKET and
      TRANSCRIPT_BUCKET) → :class:`BucketNotAllowed`;
    - the output goes to ``transcript_bucket``, under a key of :meth:`Layout.allowed_outputs`
      for the input: its transcript key, or its job's result key → :class:`OutputNotAllowed`.

    So a caller cannot make one audio's transcript replace another's, nor overwrite the audio.
    """

    layout: Layout
    transcript_bucket: str
    allowed_buckets: frozenset[str]

    def default_output(self, bucket: str, key: str) -> tuple[str, str]:
        """Where the transcript of ``s3://bucket/key`` goes when nobody says (then :meth:`check`
        it like any other)."""
        self._check_bucket(bucket)
        if not self.layout.is_input(key):
            raise OutputNotAllowed(self._not_an_input(bucket, key))
        return self.transcript_bucket, self.layout.transcript_key(key)

    def check(self, bucket: str, key: str, output_bucket: str, output_key: str) -> None:
        """Raise unless ``s3://output_bucket/output_key`` is the input's transcript's place."""
        self._check_bucket(bucket)
        self._check_bucket(output_bucket)
        allowed = self.layout.allowed_outputs(key)
        if not allowed:
            raise OutputNotAllowed(self._not_an_input(bucket, key))
        if output_bucket != self.transcript_bucket or output_key not in allowed:
            places = " or ".join(f"s3://{self.transcript_bucket}/{k}" for k in allowed)
            raise OutputNotAllowed(
                f"the transcript of s3://{bucket}/{key} goes to {places}, "
                f"not s3://{output_bucket}/{output_key}"
            )

    def _check_bucket(self, bucket: str) -> None:
        if bucket not in self.allowed_buckets:
            raise BucketNotAllowed(f"bucket {bucket!r} is not in ALLOWED_BUCKETS")

    def _not_an_input(self, bucket: str, key: str) -> str:
        return (
            f"s3://{bucket}/{key} is not under the input prefix {self.layout.input_prefix!r}, "
            "so it has no transcript key"
        )


def error_key_for(transcript_key: str) -> str:
    """``transcripts/a/talk.mp3.json`` → ``transcripts/a/talk.mp3.error.json``."""
    return transcript_key.removesuffix(".json") + ".error.json"


def decode_event_key(raw: str) -> str:
    """Decode an object key as S3 events carry it (``+`` for space, ``%2B`` for plus).

    Call this once, where the event enters; everything inside works on decoded keys.
    Raises ``UnicodeDecodeError`` (a ``ValueError``) when the bytes are not UTF-8
    (``%ED%A0%80``): no S3 key is, so the event is broken, and a replacement character
    would name another object.
    """
    return unquote_plus(raw, errors="strict")


def has_supported_extension(key: str) -> bool:
    return posixpath.splitext(key)[1].lower() in SUPPORTED_EXTENSIONS


def normalize_etag(etag: str) -> str:
    """S3 returns ETags quoted (``"abc"``); events carry them bare. Compare them bare."""
    return etag.strip().strip('"')


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``; anything else raises :class:`InvalidS3Uri`."""
    if not uri.startswith("s3://"):
        raise InvalidS3Uri(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key or key.endswith("/"):
        raise InvalidS3Uri(f"{uri!r} must name a bucket and an object key: s3://bucket/key")
    return bucket, key
