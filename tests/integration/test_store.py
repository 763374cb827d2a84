"""The transcript store against moto's server over HTTP: conditional create and replace."""

from __future__ import annotations

import json
from typing import Any

import pytest

from transcription.exceptions import SourceChanged, TranscriptExists
from transcription.layout import Layout
from transcription.store import TranscriptStore
from transcription.transcript import Segment, Source, Transcript


def make_transcript(bucket: str, key: str, etag: str, text: str) -> Transcript:
    return Transcript(
        text=text,
        language="en",
        duration=1.5,
        segments=(Segment(id=0, start=0.0, end=1.5, text=text),),
        engine="faster-whisper",
        model="tiny.en",
        device="cpu",
        source=Source(bucket=bucket, key=key, etag=etag, size=10),
        route="batch",
    )


@pytest.fixture
def store(s3: Any, bucket: str) -> TranscriptStore:
    return TranscriptStore(s3, bucket, Layout())


def body(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_create_writes_transcript_and_sidecars(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    key = "transcripts/a/talk.mp3.json"
    outcome = store.save(
        make_transcript(bucket, "audio/a/talk.mp3", "e1", "hello there"),
        key,
        ("json", "txt", "srt"),
    )
    assert outcome == "created"
    assert body(s3, bucket, key)["text"] == "hello there"
    assert (
        s3.get_object(Bucket=bucket, Key="transcripts/a/talk.mp3.txt")["Body"].read()
        == b"hello there\n"
    )
    srt = s3.get_object(Bucket=bucket, Key="transcripts/a/talk.mp3.srt")["Body"].read().decode()
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,500\nhello there")
    assert store.is_current(key, '"e1"')
    assert not store.is_current(key, "e2")


def test_second_create_for_same_etag_raises_and_keeps_first(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    key = "transcripts/x.wav.json"
    store.save(make_transcript(bucket, "audio/x.wav", "e1", "first"), key)
    with pytest.raises(TranscriptExists):
        store.save(make_transcript(bucket, "audio/x.wav", "e1", "second"), key)
    assert body(s3, bucket, key)["text"] == "first"


def test_lost_race_on_create_raises_and_keeps_winner(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    """Two writers both saw no transcript; the IfNoneMatch put of the later one must fail."""
    key = "transcripts/race.wav.json"
    store.save(make_transcript(bucket, "audio/race.wav", "e1", "winner"), key)
    original_head = store.head
    store.head = lambda output_key: None  # type: ignore[method-assign]  # the loser saw nothing
    try:
        with pytest.raises(TranscriptExists):
            store.save(make_transcript(bucket, "audio/race.wav", "e1", "loser"), key)
    finally:
        store.head = original_head  # type: ignore[method-assign]
    assert body(s3, bucket, key)["text"] == "winner"


def test_replace_when_audio_changed_uses_if_match(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    key = "transcripts/y.wav.json"

    def upload(content: bytes) -> str:
        return str(s3.put_object(Bucket=bucket, Key="audio/y.wav", Body=content)["ETag"]).strip('"')

    old = upload(b"old audio")
    store.save(make_transcript(bucket, "audio/y.wav", old, "old words"), key)
    stale = store.head(key)
    assert stale is not None
    new = upload(b"new audio")
    assert store.save(make_transcript(bucket, "audio/y.wav", new, "new words"), key) == "replaced"
    assert body(s3, bucket, key)["source"]["etag"] == new
    # A writer for yet newer audio that still holds the old transcript's etag loses the IfMatch.
    newer = upload(b"newer audio")
    store.head = lambda output_key: stale  # type: ignore[method-assign]
    with pytest.raises(TranscriptExists):
        store.save(make_transcript(bucket, "audio/y.wav", newer, "late words"), key)
    assert body(s3, bucket, key)["text"] == "new words"


def test_error_record_and_its_removal_after_success(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    key = "transcripts/bad.mp3.json"
    error_key = store.save_error(
        key, "not_audio", "no audio stream", {"bucket": bucket, "key": "audio/bad.mp3"}
    )
    assert error_key == "transcripts/bad.mp3.error.json"
    record = body(s3, bucket, error_key)
    assert record["error"] == "not_audio"
    assert record["source"]["key"] == "audio/bad.mp3"
    assert record["at"].endswith("Z")
    store.save(make_transcript(bucket, "audio/bad.mp3", "e2", "fixed"), key)
    assert s3.list_objects_v2(Bucket=bucket, Prefix=error_key).get("KeyCount") == 0


def test_read_current_ignores_transcript_of_older_audio(
    store: TranscriptStore, bucket: str
) -> None:
    key = "transcripts/z.wav.json"
    store.save(make_transcript(bucket, "audio/z.wav", "e1", "words"), key)
    assert store.read_current(key, "e1") is not None
    assert store.read_current(key, "e2") is None
    assert store.read_current("transcripts/none.wav.json", "e1") is None


def test_slow_job_for_old_audio_does_not_replace_the_new_transcript(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    """Audio v1 → v2 → v3: v2's transcript is stored; a late v1 job must not replace it."""
    key = "transcripts/late.wav.json"
    etags = [
        s3.put_object(Bucket=bucket, Key="audio/late.wav", Body=body)["ETag"].strip('"')
        for body in (b"v1", b"v2")
    ]
    store.save(make_transcript(bucket, "audio/late.wav", etags[1], "v2 words"), key)
    with pytest.raises(SourceChanged):
        store.save(make_transcript(bucket, "audio/late.wav", etags[0], "v1 words"), key)
    assert body(s3, bucket, key)["text"] == "v2 words"
