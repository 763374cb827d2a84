"""The S3 object adapter: HEAD, GET, conditional and plain PUT, DELETE, LIST of one prefix.

Each method makes exactly one request (a listing: one per page) and translates S3's
answers once (see :mod:`transcription.aws_errors`): a missing object is ``None``, a lost
condition :class:`~transcription.exceptions.ConditionFailed`, throttling, 5xx and unreachable
endpoints :class:`~transcription.exceptions.StorageUnavailable`, a refusal
:class:`~transcription.exceptions.StorageAccessDenied`. ETags come back bare (unquoted).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from transcription.aws_errors import CALL_ERRORS, CONNECTION_ERRORS, is_not_found, translate
from transcription.layout import normalize_etag

__all__ = ["ObjectBody", "ObjectHead", "ObjectStream", "S3Objects"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ObjectHead:
    etag: str  # bare
    size: int
    metadata: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, response: Mapping[str, Any]) -> ObjectHead:
        return cls(
            etag=normalize_etag(response["ETag"]),
            size=int(response.get("ContentLength") or 0),
            metadata=dict(response.get("Metadata") or {}),
        )


@dataclass(frozen=True)
class ObjectBody:
    head: ObjectHead
    body: bytes


@dataclass(frozen=True)
class ObjectStream:
    """An open GET: read it with :meth:`chunks`, or :meth:`close` it unread."""

    head: ObjectHead
    _body: Any

    def chunks(self) -> Iterator[bytes]:
        try:
            yield from self._body.iter_chunks(_CHUNK)
        except CONNECTION_ERRORS as error:
            raise translate(error, "reading an S3 object") from error

    def close(self) -> None:
        self._body.close()


class S3Objects:
    """S3 object calls on an injected boto3 client."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def head(self, bucket: str, key: str) -> ObjectHead | None:
        try:
            return ObjectHead.of(self.s3.head_object(Bucket=bucket, Key=key))
        except CALL_ERRORS as error:
            if isinstance(error, ClientError) and is_not_found(error):
                return None
            raise translate(error, _uri(bucket, key)) from error

    def open(self, bucket: str, key: str, if_match: str | None = None) -> ObjectStream | None:
        """Start a GET (conditional on ``if_match``, an ETag); ``None`` when there is none."""
        extra = {"IfMatch": f'"{normalize_etag(if_match)}"'} if if_match else {}
        try:
            response = self.s3.get_object(Bucket=bucket, Key=key, **extra)
        except CALL_ERRORS as error:
            if isinstance(error, ClientError) and is_not_found(error):
                return None
            raise translate(error, _uri(bucket, key)) from error
        return ObjectStream(ObjectHead.of(response), response["Body"])

    def get(self, bucket: str, key: str) -> ObjectBody | None:
        """The whole object (for small ones: transcripts, records); ``None`` when missing."""
        stream = self.open(bucket, key)
        if stream is None:
            return None
        try:
            body = b"".join(stream.chunks())
        finally:
            stream.close()
        return ObjectBody(stream.head, body)

    def put(
        self,
        bucket: str,
        key: str,
        body: bytes,
        content_type: str,
        *,
        metadata: Mapping[str, str] | None = None,
        tagging: str | None = None,
        if_none_match: bool = False,
        if_match: str | None = None,
    ) -> str:
        """Write the object; returns its bare ETag.

        ``if_none_match`` creates only (``IfNoneMatch="*"``); ``if_match`` replaces only the
        object with that ETag. Either lost: :class:`ConditionFailed`.
        """
        extra: dict[str, Any] = {}
        if metadata:
            extra["Metadata"] = dict(metadata)
        if tagging:
            extra["Tagging"] = tagging
        if if_none_match:
            extra["IfNoneMatch"] = "*"
        if if_match:
            extra["IfMatch"] = f'"{normalize_etag(if_match)}"'
        try:
            response = self.s3.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra
            )
        except CALL_ERRORS as error:
            raise translate(error, _uri(bucket, key)) from error
        return normalize_etag(response.get("ETag") or "")

    def delete(self, bucket: str, key: str) -> None:
        """Delete the object (S3 answers the same whether it was there or not)."""
        try:
            self.s3.delete_object(Bucket=bucket, Key=key)
        except CALL_ERRORS as error:
            raise translate(error, _uri(bucket, key)) from error

    def keys(self, bucket: str, prefix: str) -> set[str]:
        """Every key under ``prefix`` (one request per 1,000 keys)."""
        found: set[str] = set()
        token: dict[str, str] = {}
        while True:
            try:
                page = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, **token)
            except CALL_ERRORS as error:
                raise translate(error, _uri(bucket, prefix)) from error
            found.update(item["Key"] for item in page.get("Contents", ()))
            if not page.get("IsTruncated"):
                return found
            token = {"ContinuationToken": page["NextContinuationToken"]}


def _uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"
