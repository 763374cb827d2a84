"""Parsing the stored sample events: every shape, keys decoded once, the right object named."""

from __future__ import annotations

import json

import pytest

from lambda_router.events import ObjectEvent, parse_event, parse_records
from lambda_router.exceptions import MalformedEvent
from tests.support.sample_events import (
    SAMPLE_BUCKET,
    SAMPLE_ETAG,
    SAMPLE_KEY,
    SAMPLE_SIZE,
    load_event,
)

EXPECTED = ObjectEvent(SAMPLE_BUCKET, SAMPLE_KEY, SAMPLE_SIZE, SAMPLE_ETAG, origin="")


def same_object(parsed: ObjectEvent) -> bool:
    return (parsed.bucket, parsed.key, parsed.size, parsed.etag) == (
        EXPECTED.bucket,
        EXPECTED.key,
        EXPECTED.size,
        EXPECTED.etag,
    )


@pytest.mark.parametrize(
    ("name", "origin"),
    [
        ("eventbridge-object-created", "eventbridge"),
        ("s3-object-created", "s3"),
        ("sqs-eventbridge", "eventbridge"),
        ("sqs-s3", "s3"),
    ],
)
def test_aws_events_name_the_decoded_object(name: str, origin: str) -> None:
    [parsed] = parse_event(load_event(name))
    assert same_object(parsed)
    assert parsed.origin == origin
    assert parsed.created and not parsed.force_queue


def test_moto_eventbridge_keys_are_taken_as_they_are() -> None:
    """moto's server puts the raw key into EventBridge events; decoding it would corrupt '+'."""
    event = load_event("eventbridge-object-created-moto")
    [raw] = parse_event(event, eventbridge_keys_encoded=False)
    assert same_object(raw)
    [wrong] = parse_event(event, eventbridge_keys_encoded=True)
    assert wrong.key == "audio/team meeting/café notes 1.wav"  # what double decoding would do


def test_classic_s3_keys_are_always_decoded() -> None:
    """The flag is about EventBridge only: S3 notifications are encoded on AWS and moto alike."""
    [parsed] = parse_event(load_event("s3-object-created"), eventbridge_keys_encoded=False)
    assert parsed.key == SAMPLE_KEY


@pytest.mark.parametrize(
    "key", ["audio/a b.wav", "audio/a+b.wav", "audio/100% sure.wav", "audio/naïve 日本.mp3"]
)
@pytest.mark.parametrize("name", ["eventbridge-object-created", "s3-object-created", "sqs-s3"])
def test_special_keys_round_trip(name: str, key: str) -> None:
    [parsed] = parse_event(load_event(name, key=key))
    assert parsed.key == key


@pytest.mark.parametrize("name", ["eventbridge-object-deleted", "s3-object-removed"])
def test_other_s3_events_are_marked_not_created(name: str) -> None:
    [parsed] = parse_event(load_event(name))
    assert not parsed.created
    assert parsed.key == SAMPLE_KEY


def test_s3_test_event_names_no_object() -> None:
    assert parse_event(load_event("s3-test-event")) == []


def test_manual_invocation_names_the_real_key_and_may_force_the_queue() -> None:
    [manual] = parse_event(load_event("manual"))
    assert (manual.key, manual.etag, manual.size, manual.origin) == (
        SAMPLE_KEY,
        None,
        None,
        "manual",
    )
    assert not manual.force_queue
    [forced] = parse_event(load_event("manual-queue"))
    assert forced.force_queue


def test_several_records_are_all_returned() -> None:
    event = load_event("s3-object-created")
    other = load_event("s3-object-created", key="audio/second.wav")
    event["Records"] += other["Records"]
    assert [p.key for p in parse_event(event)] == [SAMPLE_KEY, "audio/second.wav"]


@pytest.mark.parametrize(
    "event",
    [
        [],
        {"hello": "world"},
        {"Records": [{"eventSource": "aws:dynamodb"}]},
        {"Records": [{"eventSource": "aws:sqs", "body": "not json"}]},
        {"detail-type": "Object Created", "source": "aws.ec2", "detail": {}},
        {"bucket": "b", "key": ""},
        {"bucket": "b", "key": "audio/x.wav", "size": -1},
        {"bucket": "b", "key": "audio/x.wav", "queue": "yes"},
        {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {}}}]},
    ],
)
def test_unknown_or_broken_events_raise(event: object) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(event)


# --- record by record -------------------------------------------------------------------
def test_each_sqs_record_is_read_on_its_own_with_its_message_id() -> None:
    good = load_event("sqs-eventbridge")["Records"][0]
    bad = {**good, "messageId": "bad-one", "body": "{not json"}
    records = parse_records({"Records": [good, bad, good]})
    assert [r.message_id for r in records] == [good["messageId"], "bad-one", good["messageId"]]
    assert [r.error is None for r in records] == [True, False, True]
    assert same_object(records[0].objects[0]) and records[1].objects == ()
    assert all(r.from_sqs for r in records)


def test_s3_records_have_no_message_id_and_fail_alone() -> None:
    event = load_event("s3-object-created")
    event["Records"].append({"eventSource": "aws:s3", "s3": {"bucket": {}}})
    first, second = parse_records(event)
    assert same_object(first.objects[0]) and not first.from_sqs
    assert second.error is not None and not second.from_sqs


def test_an_event_that_is_not_a_batch_is_one_record() -> None:
    [record] = parse_records(load_event("eventbridge-object-created"))
    assert same_object(record.objects[0]) and record.message_id is None
    with pytest.raises(MalformedEvent):
        parse_records({"hello": "world"})


@pytest.mark.parametrize(
    "event",
    [
        {  # S3 notifications encode keys: these bytes are not UTF-8
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "s3": {"bucket": {"name": "b"}, "object": {"key": "audio/bad%ED%A0%80.wav"}},
                }
            ]
        },
        {"bucket": "b", "key": "audio/\ud800.wav"},  # a lone surrogate (from JSON)
        json.loads('{"bucket": "b", "key": "audio/\\ud800.wav"}'),
    ],
)
def test_keys_that_are_not_utf8_are_malformed(event: object) -> None:
    with pytest.raises(MalformedEvent, match="not valid UTF-8"):
        parse_event(event)
