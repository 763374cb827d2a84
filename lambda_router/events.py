"""Typed parsing of the events that invoke the router.

Accepted shapes, each yielding one :class:`ObjectEvent` per object:

- EventBridge ``Object Created`` from S3 (``source: aws.s3``); other S3 detail types are
  kept as not-created so the result says why nothing happened;
- the classic S3 notification (``Records[].s3``);
- an SQS (or SNS) message wrapping any of these, as Lambda's event source mappings deliver them;
- a manual invocation ``{"bucket": "...", "key": "..."}`` (optionally ``etag``, ``size`` and
  ``"queue": true`` to send the object to the batch path).

:func:`parse_records` reads each record of a ``Records`` batch on its own, so one
malformed record does not stop the others: it comes back with its error (and, for SQS, its
``messageId``, for ``batchItemFailures``). :func:`parse_event` is all or nothing.

Keys are decoded here, once, and must be valid UTF-8 (as every S3 key is): a key that
decodes to bytes that are not UTF-8, or that carries a lone surrogate, is malformed.
S3 notifications carry keys form-URL-encoded (``+`` for a space, ``%2B`` for a plus).
EventBridge events from AWS are decoded the same way, but moto's server puts the raw key
into them (``moto/s3/notifications.py``), so that format's decoding is a parameter
(``EVENTBRIDGE_KEYS_ENCODED``). A manual invocation names the real key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from lambda_router.exceptions import MalformedEvent
from transcription.layout import decode_event_key, normalize_etag

__all__ = ["EventRecord", "ObjectEvent", "parse_event", "parse_records"]

OBJECT_CREATED = "Object Created"

T = TypeVar("T")


@dataclass(frozen=True)
class ObjectEvent:
    bucket: str
    key: str  # decoded: the object's real key
    size: int | None  # None when the event does not say (manual invocation)
    etag: str | None  # bare (no quotes); None when the event does not say
    origin: str  # eventbridge | s3 | manual
    created: bool = True  # False: another S3 event type (deleted, restored…), ignored
    force_queue: bool = False  # manual {"queue": true}: straight to the batch path


@dataclass(frozen=True)
class EventRecord:
    """A part of an invocation that is read (and retried) on its own.

    One record of a ``Records`` batch (an SQS message, an S3 or SNS record), or the whole
    event for the other shapes. ``error`` says why it could not be read.
    """

    objects: tuple[ObjectEvent, ...] = ()
    message_id: str | None = None  # an SQS record's messageId (batchItemFailures names it)
    error: str | None = None

    @property
    def from_sqs(self) -> bool:
        return self.message_id is not None


def parse_event(event: Any, *, eventbridge_keys_encoded: bool = True) -> list[ObjectEvent]:
    """Every object named in ``event``; raises :class:`MalformedEvent` for unknown shapes."""
    return _guarded(lambda: list(_parse(event, eventbridge_keys_encoded)))


def parse_records(event: Any, *, eventbridge_keys_encoded: bool = True) -> list[EventRecord]:
    """``event`` record by record; raises :class:`MalformedEvent` only when the event as a
    whole cannot be read (not an object, an unknown shape, ``Records`` not a list)."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        return [
            EventRecord(
                tuple(parse_event(event, eventbridge_keys_encoded=eventbridge_keys_encoded))
            )
        ]
    return [_one_record(record, eventbridge_keys_encoded) for record in records]


def _one_record(record: Any, encoded: bool) -> EventRecord:
    message_id = None
    if isinstance(record, Mapping) and record.get("eventSource") == "aws:sqs":
        value = record.get("messageId")
        message_id = value if isinstance(value, str) and value else ""
    try:
        objects = _guarded(lambda: tuple(_record(record, encoded)))
    except MalformedEvent as error:
        return EventRecord(message_id=message_id, error=str(error))
    return EventRecord(objects, message_id=message_id)


def _guarded(read: Callable[[], T]) -> T:
    try:
        return read()
    except MalformedEvent:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedEvent(f"unreadable event: {error!r}") from None


def _parse(event: Any, encoded: bool) -> Iterator[ObjectEvent]:
    if not isinstance(event, Mapping):
        raise MalformedEvent(f"an event must be a JSON object, not {type(event).__name__}")
    if "Records" in event:
        for record in event["Records"]:
            yield from _record(record, encoded)
    elif "detail-type" in event:
        yield from _eventbridge(event, encoded)
    elif event.get("Event") == "s3:TestEvent":
        return  # sent once when a bucket notification is configured
    elif "bucket" in event and "key" in event:
        yield _manual(event)
    else:
        raise MalformedEvent(f"not an S3, EventBridge, SQS or manual event: {sorted(event)}")


def _record(record: Any, encoded: bool) -> Iterator[ObjectEvent]:
    if not isinstance(record, Mapping):
        raise MalformedEvent(f"a record must be a JSON object, not {type(record).__name__}")
    source = record.get("eventSource") or record.get("EventSource")
    if source == "aws:s3":
        yield _s3_record(record)
    elif source == "aws:sqs":
        yield from _parse(json.loads(record["body"]), encoded)
    elif source == "aws:sns":
        yield from _parse(json.loads(record["Sns"]["Message"]), encoded)
    else:
        raise MalformedEvent(f"unknown record source {source!r}")


def _s3_record(record: Mapping[str, Any]) -> ObjectEvent:
    s3 = record["s3"]
    obj = s3["object"]
    return ObjectEvent(
        bucket=_text(s3["bucket"]["name"], "bucket"),
        key=_key(obj["key"], encoded=True),
        size=_size(obj.get("size")),
        etag=_etag(obj.get("eTag") or obj.get("etag")),
        origin="s3",
        created=str(record.get("eventName", "")).startswith("ObjectCreated:"),
    )


def _eventbridge(event: Mapping[str, Any], encoded: bool) -> Iterator[ObjectEvent]:
    if event.get("source") != "aws.s3":
        raise MalformedEvent(f"EventBridge event from {event.get('source')!r}, not aws.s3")
    detail = event["detail"]
    obj = detail["object"]
    yield ObjectEvent(
        bucket=_text(detail["bucket"]["name"], "bucket"),
        key=_key(obj["key"], encoded=encoded),
        size=_size(obj.get("size")),
        etag=_etag(obj.get("etag") or obj.get("eTag")),
        origin="eventbridge",
        created=event["detail-type"] == OBJECT_CREATED,
    )


def _manual(event: Mapping[str, Any]) -> ObjectEvent:
    queue = event.get("queue", False)
    if not isinstance(queue, bool):
        raise MalformedEvent("'queue' must be true or false")
    return ObjectEvent(
        bucket=_text(event["bucket"], "bucket"),
        key=_key(event["key"], encoded=False),
        size=_size(event.get("size")),
        etag=_etag(event.get("etag")),
        origin="manual",
        force_queue=queue,
    )


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{name} must be a non-empty string")
    return value


def _key(value: Any, *, encoded: bool) -> str:
    """The object's real key: decoded if the event encodes it, and valid UTF-8."""
    raw = _text(value, "key")
    try:
        key = decode_event_key(raw) if encoded else raw
        key.encode("utf-8")  # a lone surrogate (JSON "\\ud800") cannot be an S3 key
    except UnicodeError:
        raise MalformedEvent(f"the object key is not valid UTF-8: {raw!a}") from None
    return key


def _size(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedEvent(f"size must be a non-negative integer, not {value!r}")
    return value


def _etag(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return normalize_etag(_text(value, "etag"))
