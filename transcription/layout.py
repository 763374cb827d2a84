"""The S3 key layout: where a transcript, its sidecars and its error record live.

``audio/a/talk.mp3`` → ``transcripts/a/talk.mp3.json`` (the audio's extension stays, so
``talk.mp3`` and ``talk.wav`` never collide). Keys outside the input prefix are not inputs:
together with the EventBridge rule's prefix filter, this is what stops a transcript from
triggering a new transcription.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote_plus

from transcription.exceptions import InvalidS3Uri

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "Layout",
    "decode_event_key",
    "error_key_for",
    "has_supported_extension",
    "normalize_etag",
    "parse_s3_uri",
]

SUPPORTED_EXTENSIONS = frozenset(
    {".wav", ".mp3", ".m4a", ".aac", ".mp4", ".ogg", ".oga", ".opus", ".webm", ".flac"}
)


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
