"""The S3 transcript store: conditional writes, never a blind overwrite.

A transcript is *current* when it exists and was made from the audio object's present
ETag. The source ETag is kept in the object's metadata (``source-etag``) so one HEAD
answers "is there a current transcript?" without reading the body. An object at the
transcript key that is not a readable transcript is never current: it is replaced.

Writes are conditional: ``IfNoneMatch="*"`` creates, ``IfMatch=<old transcript etag>``
replaces a transcript made from an older version of the audio. A 412 (or 409, a
concurrent conditional write) means another writer won; :class:`TranscriptExists` is
raised and their transcript is kept.

A writer that looked at the transcript key *before* its conditional read of the audio
(``IfMatch`` the job's ETag) passes what it saw as ``seen``: whatever was there then was
made from older audio, so the write is conditional on exactly that and needs no second
look; only when that condition fails does it look again (HEAD the transcript and the audio).

Sidecars (``.txt``, ``.srt``, ``.vtt``…) are written after the JSON, which records their set
in its metadata (``sidecars``). A crash in between leaves the set detectably incomplete:
:meth:`TranscriptStore.repair`, called when a transcript is found current, writes the
missing ones from the JSON.
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass, replace
from typing import Any, Final

from botocore.exceptions import ClientError

from transcription import formats
from transcription.exceptions import (
    ConditionFailed,
    SourceChanged,
    TranscriptExists,
    TranscriptionError,
)
from transcription.layout import Layout, error_key_for, normalize_etag
from transcription.objects import ObjectHead, S3Objects
from transcription.transcript import Transcript, utc_now

__all__ = [
    "ERROR_RECORD_TAGGING",
    "UNSEEN",
    "Found",
    "StoredObject",
    "TranscriptStore",
    "Unseen",
    "sidecar_formats",
]

# Error records carry this S3 object tag; a lifecycle rule expires them.
ERROR_RECORD_TAGGING = "record=error"

log = logging.getLogger(__name__)

SOURCE_ETAG_METADATA = "source-etag"
SIDECARS_METADATA = "sidecars"
_NO_SIDECARS = "none"


class Unseen(enum.Enum):
    UNSEEN = "unseen"


UNSEEN: Final = Unseen.UNSEEN  # ``save(seen=UNSEEN)``: the writer did not look; save does


def sidecar_formats(wanted: tuple[str, ...]) -> tuple[str, ...]:
    """The formats of ``wanted`` written next to the JSON (all but ``json``), in order, once."""
    return tuple(dict.fromkeys(fmt for fmt in wanted if fmt != "json"))


@dataclass(frozen=True)
class StoredObject:
    """What a HEAD of a transcript tells: its own ETag, the audio ETag it was made from, and
    the sidecars written with it (``None``: not recorded, a transcript older than the record).
    """

    etag: str
    source_etag: str | None
    sidecars: tuple[str, ...] | None = None

    @classmethod
    def of(cls, head: ObjectHead) -> StoredObject:
        source_etag = head.metadata.get(SOURCE_ETAG_METADATA)
        recorded = head.metadata.get(SIDECARS_METADATA)
        sidecars = None
        if recorded is not None:
            sidecars = tuple(f for f in recorded.split(",") if f and f != _NO_SIDECARS)
        return cls(
            etag=head.etag,
            source_etag=normalize_etag(source_etag) if source_etag else None,
            sidecars=sidecars,
        )

    def is_current_for(self, source_etag: str) -> bool:
        return self.source_etag == normalize_etag(source_etag)


@dataclass(frozen=True)
class Found:
    """A transcript object read whole: its transcript (``None``: the body is not a readable
    transcript) and what a HEAD tells, the source ETag taken from the body."""

    stored: StoredObject
    transcript: Transcript | None

    def current_for(self, source_etag: str) -> Transcript | None:
        """The transcript if it was made from ``source_etag``, else ``None``."""
        return self.transcript if self.stored.is_current_for(source_etag) else None


class TranscriptStore:
    def __init__(self, s3: Any, bucket: str, layout: Layout | None = None) -> None:
        self.s3 = s3
        self.objects = S3Objects(s3)
        self.bucket = bucket
        self.layout = layout or Layout()

    # --- reading -----------------------------------------------------------------------
    def head(self, output_key: str) -> StoredObject | None:
        """One HEAD of the transcript object; ``None`` when there is none."""
        head = self.objects.head(self.bucket, output_key)
        return StoredObject.of(head) if head is not None else None

    def is_current(self, output_key: str, source_etag: str) -> bool:
        stored = self.head(output_key)
        return stored is not None and stored.is_current_for(source_etag)

    def find(self, output_key: str) -> Found | None:
        """One GET of the transcript object; ``None`` when there is none."""
        got = self.objects.get(self.bucket, output_key)
        if got is None:
            return None
        transcript = _parse(got.body, self.bucket, output_key)
        # The body decides: an unreadable one is current for nothing, whatever its metadata.
        made_from = transcript.source.etag if transcript and transcript.source else None
        stored = replace(
            StoredObject.of(got.head),
            source_etag=normalize_etag(made_from) if made_from else None,
        )
        return Found(stored, transcript)

    def read(self, output_key: str) -> Transcript | None:
        """The stored transcript; ``None`` when there is none or it is not readable."""
        found = self.find(output_key)
        return found.transcript if found is not None else None

    def read_current(self, output_key: str, source_etag: str) -> Transcript | None:
        """The stored transcript if it was made from ``source_etag``, else ``None``."""
        found = self.find(output_key)
        return found.current_for(source_etag) if found is not None else None

    # --- writing -----------------------------------------------------------------------
    def save(
        self,
        transcript: Transcript,
        output_key: str,
        sidecars: tuple[str, ...] = (),
        *,
        seen: StoredObject | Unseen | None = UNSEEN,
    ) -> str:
        """Write ``transcript`` to ``output_key`` conditionally, then its sidecars.

        Returns ``"created"`` or ``"replaced"``. Raises :class:`TranscriptExists` when a
        current transcript is already there or another writer won the race, and
        :class:`SourceChanged` instead of replacing when the audio is no longer the version
        this transcript was made from (a slow job for old audio must not overwrite the
        transcript of the new one).

        ``seen``: what the writer found at ``output_key`` (``None``: nothing) before it read
        the audio conditionally on ``transcript.source.etag``; see the module docstring.
        """
        if transcript.source is None:
            raise ValueError("a stored transcript needs its source")
        source_etag = normalize_etag(transcript.source.etag)
        body = transcript.to_json().encode()
        written = sidecar_formats(sidecars)
        if isinstance(seen, Unseen):
            outcome = self._save_checked(transcript, output_key, body, written)
        elif seen is not None and seen.is_current_for(source_etag):
            raise TranscriptExists(output_key, "a current transcript already exists")
        else:
            try:
                outcome = self._put_transcript(output_key, body, source_etag, written, seen)
            except ConditionFailed:
                log.info("%s changed since it was looked at; looking again", output_key)
                outcome = self._save_checked(transcript, output_key, body, written)
        self._save_sidecars(transcript, output_key, written)
        self._clear_error_record(output_key)
        return outcome

    def _save_checked(
        self, transcript: Transcript, output_key: str, body: bytes, written: tuple[str, ...]
    ) -> str:
        """Look at the transcript key (and, to replace, at the audio), then write."""
        assert transcript.source is not None
        source_etag = normalize_etag(transcript.source.etag)
        existing = self.head(output_key)
        if existing is not None and existing.is_current_for(source_etag):
            raise TranscriptExists(output_key, "a current transcript already exists")
        if existing is not None:
            self._check_source_is_current(
                transcript.source.bucket, transcript.source.key, source_etag
            )
        try:
            return self._put_transcript(output_key, body, source_etag, written, existing)
        except ConditionFailed as lost:
            raise TranscriptExists(output_key) from lost

    def _put_transcript(
        self,
        output_key: str,
        body: bytes,
        source_etag: str,
        written: tuple[str, ...],
        existing: StoredObject | None,
    ) -> str:
        self.objects.put(
            self.bucket,
            output_key,
            body,
            "application/json",
            metadata={
                SOURCE_ETAG_METADATA: source_etag,
                SIDECARS_METADATA: ",".join(written) or _NO_SIDECARS,
            },
            if_none_match=existing is None,
            if_match=existing.etag if existing is not None else None,
        )
        return "created" if existing is None else "replaced"

    def _check_source_is_current(self, bucket: str, key: str, etag: str) -> None:
        head = self.objects.head(bucket, key)
        if head is None:
            raise SourceChanged(f"s3://{bucket}/{key} was deleted; not replacing")
        if head.etag != etag:
            raise SourceChanged(f"s3://{bucket}/{key} changed again; not replacing with {etag}")

    def repair(
        self,
        output_key: str,
        stored: StoredObject,
        wanted: tuple[str, ...],
        transcript: Transcript | None = None,
    ) -> tuple[str, ...]:
        """Write the sidecars a transcript found current lacks; returns the formats written.

        The set is the one recorded with the JSON (``wanted`` for a transcript that has no
        record). One LIST; only when one is missing, a GET of the JSON (unless ``transcript``
        is given) and one PUT per missing sidecar.
        """
        expected = stored.sidecars if stored.sidecars is not None else sidecar_formats(wanted)
        if not expected:
            return ()
        base = output_key.removesuffix(".json")
        present = self.objects.keys(self.bucket, f"{base}.")
        missing = tuple(fmt for fmt in expected if f"{base}.{fmt}" not in present)
        if not missing:
            return ()
        transcript = transcript or self.read(output_key)
        if transcript is None:  # gone or unreadable since the HEAD: the next writer replaces it
            return ()
        log.warning("%s lacked sidecars %s; writing them", output_key, ",".join(missing))
        self._save_sidecars(transcript, output_key, missing)
        return missing

    def save_error(self, output_key: str, error: str, detail: str, source: dict[str, Any]) -> str:
        """Write the permanent-failure record next to where the transcript would be."""
        key = error_key_for(output_key)
        record = {"error": error, "detail": detail, "source": source, "at": utc_now()}
        # The tag lets the bucket's lifecycle rule (scripts/lib/s3.sh) expire old records.
        self.objects.put(
            self.bucket,
            key,
            json.dumps(record, ensure_ascii=False).encode(),
            "application/json",
            tagging=ERROR_RECORD_TAGGING,
        )
        return key

    def _save_sidecars(
        self, transcript: Transcript, output_key: str, sidecars: tuple[str, ...]
    ) -> None:
        base = output_key.removesuffix(".json")
        for fmt in sidecars:
            self.objects.put(
                self.bucket,
                f"{base}.{fmt}",
                formats.render(transcript, fmt).encode(),
                formats.media_type(fmt),
            )

    def _clear_error_record(self, output_key: str) -> None:
        try:
            self.objects.delete(self.bucket, error_key_for(output_key))
        except (TranscriptionError, ClientError) as error:
            log.warning("could not remove stale error record for %s: %s", output_key, error)


def _parse(body: bytes, bucket: str, key: str) -> Transcript | None:
    """The transcript in ``body``; ``None`` (logged) when it is not one."""
    try:
        transcript = Transcript.from_json(body)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        log.warning(
            "s3://%s/%s is not a readable transcript (%r); it is not current", bucket, key, error
        )
        return None
    return transcript
