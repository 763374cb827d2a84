"""The S3 key layout: where a transcript, its sidecars and its error record live.

``audio/a/talk.mp3`` → ``transcripts/a/talk.mp3.json`` (the audio's extension stays, so
``talk.mp3`` and ``talk.wav`` never collide). Keys outside the input prefix are not inputs:
together with the EventBridge rule's prefix filter, this is what stops a transcript from
triggering a new transcription.

Where a transcript may be written is decided here too (:class:`OutputPolicy`), once for the
server's ``/transcribe-s3`` and the batch worker: neither trusts the output named by a
request or a job message.

A batch job's objects live in its folder ``$OUTPUT_PREFIX jobs/<job_id>/``: one result per
item (``<item_id>.json``, item ids as :data:`ITEM_ID_PATTERN`) and, once the job is
canceled, the marker ``canceled`` (:meth:`Layout.cancel_marker_key`).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote_plus

from transcription.exceptions import BucketNotAllowed, InvalidS3Uri, OutputNotAllowed

__all__ = [
    "ITEM_ID",
    "ITEM_ID_PATTERN",
    "JOBS_FOLDER",
    "JOB_ID",
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
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
# A batch job's item id: one path segment, never ``.``/``..``, so a result key names one item.
ITEM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
ITEM_ID = re.compile(ITEM_ID_PATTERN)
CANCEL_MARKER = "canceled"


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

    def job_folder(self, job_id: str) -> str:
        """``transcripts/jobs/<job_id>/``: where a batch job's results and marker live."""
        return f"{self.output_prefix}{JOBS_FOLDER}{job_id}/"

    def cancel_marker_key(self, job_id: str) -> str:
        """Present once the job is canceled: workers skip its remaining tasks."""
        return f"{self.job_folder(job_id)}{CANCEL_MARKER}"

    def is_job_result_key(self, job_id: str, key: str) -> bool:
        """``key`` is ``<job folder><item_id>.json`` for a well-formed item id (one segment;
        never ``….error``, whose ``.json`` is another item's error record)."""
        name = key.removeprefix(self.job_folder(job_id))
        item_id = name.removesuffix(".json")
        if name == key or item_id == name or item_id.endswith(".error"):
            return False
        return bool(ITEM_ID.match(item_id))

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
      for the input: its transcript key, or its job's result key → :class:`OutputNotAllowed`;
    - a task of a batch job (``job_id`` given) may also write any item result of *that* job
      (:meth:`Layout.is_job_result_key`), and then read any audio (a supported extension) in
      an allowed bucket: an item given by ``audio_url`` lives anywhere, and the jobs API named
      its result key when it made the task.

    So a caller cannot make one audio's transcript replace another's, nor overwrite the audio,
    nor write into another job's folder.
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

    def check(
        self, bucket: str, key: str, output_bucket: str, output_key: str, job_id: str | None = None
    ) -> None:
        """Raise unless ``s3://output_bucket/output_key`` is the input's transcript's place
        (or, with ``job_id``, a result of that job's items)."""
        self._check_bucket(bucket)
        self._check_bucket(output_bucket)
        if job_id is not None and self._is_job_result(key, output_bucket, output_key, job_id):
            return
        allowed = self.layout.allowed_outputs(key)
        places = [f"s3://{self.transcript_bucket}/{k}" for k in allowed]
        if job_id is not None:
            folder = self.layout.job_folder(job_id)
            places.append(f"s3://{self.transcript_bucket}/{folder}<item_id>.json")
        if not places:
            raise OutputNotAllowed(self._not_an_input(bucket, key))
        if output_bucket != self.transcript_bucket or output_key not in allowed:
            raise OutputNotAllowed(
                f"the transcript of s3://{bucket}/{key} goes to {' or '.join(places)}, "
                f"not s3://{output_bucket}/{output_key}"
            )

    def _is_job_result(self, key: str, output_bucket: str, output_key: str, job_id: str) -> bool:
        if output_bucket != self.transcript_bucket or not JOB_ID.match(job_id):
            return False
        if not self.layout.is_job_result_key(job_id, output_key):
            return False
        if not has_supported_extension(key) or key.endswith("/"):
            raise OutputNotAllowed(
                f"{key!r} is not audio (supported extensions: "
                f"{', '.join(sorted(SUPPORTED_EXTENSIONS))})"
            )
        return True

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
