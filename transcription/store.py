"""The S3 transcript store: conditional writes, never a blind overwrite.

A transcript is *current* when it exists and was made from the audio object's present
ETag. The source ETag is kept in the object's metadata (``source-etag``) so one HEAD
answers "is there a current transcript?" without reading the body.

Writes are conditional: ``IfNoneMatch="*"`` creates, ``IfMatch=<old transcript etag>``
replaces a transcript made from an older version of the audio. A 412 (or 409, a
concurrent conditional write) means another writer won; :class:`TranscriptExists` is
raised and their transcript is kept.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from transcription import formats
from transcription.exceptions import SourceChanged, StorageUnavailable, TranscriptExists
from transcription.layout import Layout, error_key_for, normalize_etag
from transcription.transcript import Transcript, utc_now

__all__ = ["ERROR_RECORD_TAGGING", "StoredObject", "TranscriptStore", "is_not_found"]

# Error records carry this S3 object tag; a lifecycle rule expires them.
ERROR_RECORD_TAGGING = "record=error"

log = logging.getLogger(__name__)

SOURCE_ETAG_METADATA = "source-etag"
_LOST_RACE = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


def is_not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _NOT_FOUND


def _lost_race(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _LOST_RACE


@dataclass(frozen=True)
class StoredObject:
    """What a HEAD of a transcript tells: its own ETag and the audio ETag it was made from."""

    etag: str
    source_etag: str | None


class TranscriptStore:
    def __init__(self, s3: Any, bucket: str, layout: Layout | None = None) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.layout = layout or Layout()

    # --- reading -----------------------------------------------------------------------
    def head(self, output_key: str) -> StoredObject | None:
        """One HEAD of the transcript object; ``None`` when there is none."""
        try:
            response = self.s3.head_object(Bucket=self.bucket, Key=output_key)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise _translate(error) from error
        source_etag = response.get("Metadata", {}).get(SOURCE_ETAG_METADATA)
        return StoredObject(
            etag=normalize_etag(response["ETag"]),
            source_etag=normalize_etag(source_etag) if source_etag else None,
        )

    def is_current(self, output_key: str, source_etag: str) -> bool:
        stored = self.head(output_key)
        return stored is not None and stored.source_etag == normalize_etag(source_etag)

    def read(self, output_key: str) -> Transcript | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=output_key)["Body"].read()
        except ClientError as error:
            if is_not_found(error):
                return None
            raise _translate(error) from error
        return Transcript.from_json(body)

    def read_current(self, output_key: str, source_etag: str) -> Transcript | None:
        """The stored transcript if it was made from ``source_etag``, else ``None``."""
        transcript = self.read(output_key)
        if transcript is None or transcript.source is None:
            return None
        if normalize_etag(transcript.source.etag) != normalize_etag(source_etag):
            return None
        return transcript

    # --- writing -----------------------------------------------------------------------
    def save(self, transcript: Transcript, output_key: str, sidecars: tuple[str, ...] = ()) -> str:
        """Write ``transcript`` to ``output_key`` conditionally, then its sidecars.

        Returns ``"created"`` or ``"replaced"``. Raises :class:`TranscriptExists` when a
        current transcript is already there or another writer won the race, and
        :class:`SourceChanged` instead of replacing when the audio is no longer the version
        this transcript was made from (a slow job for old audio must not overwrite the
        transcript of the new one).
        """
        if transcript.source is None:
            raise ValueError("a stored transcript needs its source")
        source_etag = normalize_etag(transcript.source.etag)
        existing = self.head(output_key)
        if existing is not None and existing.source_etag == source_etag:
            raise TranscriptExists(output_key, "a current transcript already exists")
        if existing is not None:
            self._check_source_is_current(
                transcript.source.bucket, transcript.source.key, source_etag
            )
        condition = {"IfNoneMatch": "*"} if existing is None else {"IfMatch": existing.etag}
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=output_key,
                Body=transcript.to_json().encode(),
                ContentType="application/json",
                Metadata={SOURCE_ETAG_METADATA: source_etag},
                **condition,
            )
        except ClientError as error:
            if _lost_race(error):
                raise TranscriptExists(output_key) from error
            raise _translate(error) from error
        self._save_sidecars(transcript, output_key, sidecars)
        self._clear_error_record(output_key)
        return "created" if existing is None else "replaced"

    def _check_source_is_current(self, bucket: str, key: str, etag: str) -> None:
        try:
            current = normalize_etag(self.s3.head_object(Bucket=bucket, Key=key)["ETag"])
        except ClientError as error:
            if is_not_found(error):
                raise SourceChanged(f"s3://{bucket}/{key} was deleted; not replacing") from None
            raise _translate(error) from error
        if current != etag:
            raise SourceChanged(f"s3://{bucket}/{key} changed again; not replacing with {etag}")

    def save_error(self, output_key: str, error: str, detail: str, source: dict[str, Any]) -> str:
        """Write the permanent-failure record next to where the transcript would be."""
        key = error_key_for(output_key)
        record = {"error": error, "detail": detail, "source": source, "at": utc_now()}
        # The tag lets the bucket's lifecycle rule (scripts/lib/s3.sh) expire old records.
        self._put(
            key, json.dumps(record, ensure_ascii=False), "application/json", ERROR_RECORD_TAGGING
        )
        return key

    def _save_sidecars(
        self, transcript: Transcript, output_key: str, sidecars: tuple[str, ...]
    ) -> None:
        base = output_key.removesuffix(".json")
        for fmt in sidecars:
            if fmt == "json":
                continue
            self._put(f"{base}.{fmt}", formats.render(transcript, fmt), formats.MEDIA_TYPES[fmt])

    def _clear_error_record(self, output_key: str) -> None:
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=error_key_for(output_key))
        except ClientError as error:
            log.warning("could not remove stale error record for %s: %s", output_key, error)

    def _put(self, key: str, body: str, content_type: str, tagging: str | None = None) -> None:
        extra = {"Tagging": tagging} if tagging else {}
        try:
            self.s3.put_object(
                Bucket=self.bucket, Key=key, Body=body.encode(), ContentType=content_type, **extra
            )
        except ClientError as error:
            raise _translate(error) from error


def _translate(error: ClientError) -> Exception:
    """S3 failures we did not expect become StorageUnavailable (retryable) or stay as they are."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if status >= 500 or code in {"SlowDown", "Throttling", "RequestTimeout", "ServiceUnavailable"}:
        return StorageUnavailable(f"S3 {code or status}: {error}")
    return error
