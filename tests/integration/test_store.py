"""The transcript store against moto's server over HTTP: conditional create and replace."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.aws_calls import AwsCalls
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


# --- unreadable objects at the transcript key ----------------------------------------------
def upload_audio(s3: Any, bucket: str, key: str, content: bytes) -> str:
    return str(s3.put_object(Bucket=bucket, Key=key, Body=content)["ETag"]).strip('"')


@pytest.mark.parametrize(
    ("junk", "metadata"),
    [
        pytest.param(b"{not json", {}, id="garbage"),
        pytest.param(b'{"hello": "world"}', {}, id="wrong-shape"),
        pytest.param(b"[1, 2, 3]", {}, id="a-list"),
        # Claims to be current in its metadata, but its body is no transcript.
        pytest.param(b'{"text": 1, "source": {"x": 1}}', {"source-etag": "AUDIO"}, id="lying"),
    ],
)
def test_an_unreadable_object_at_the_transcript_key_is_not_current_and_is_replaced(
    store: TranscriptStore, s3: Any, bucket: str, junk: bytes, metadata: dict[str, str]
) -> None:
    key = "transcripts/junk.wav.json"
    etag = upload_audio(s3, bucket, "audio/junk.wav", b"audio")
    metadata = {k: v.replace("AUDIO", etag) for k, v in metadata.items()}
    s3.put_object(Bucket=bucket, Key=key, Body=junk, Metadata=metadata)
    junk_etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')

    assert store.read_current(key, etag) is None
    assert store.read(key) is None
    found = store.find(key)
    assert found is not None and found.transcript is None
    assert found.current_for(etag) is None

    # Replaced with IfMatch on the junk's own ETag (what the reader saw)...
    outcome = store.save(
        make_transcript(bucket, "audio/junk.wav", etag, "real words"), key, (), seen=found.stored
    )
    assert outcome == "replaced"
    assert body(s3, bucket, key)["text"] == "real words"
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"') != junk_etag


def test_an_unreadable_object_is_replaced_by_a_writer_that_did_not_look(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    key = "transcripts/junk2.wav.json"
    etag = upload_audio(s3, bucket, "audio/junk2.wav", b"audio")
    s3.put_object(Bucket=bucket, Key=key, Body=b"\x00\xff not a transcript")
    assert store.save(make_transcript(bucket, "audio/junk2.wav", etag, "words"), key) == "replaced"
    assert body(s3, bucket, key)["text"] == "words"


# --- writers that looked before their conditional read of the audio -------------------------
def test_a_writer_whose_look_is_stale_looks_again_and_the_newest_audio_wins(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    """v1's and v2's writers both saw no transcript; v1's lands first, then v2's must replace
    it (its IfNoneMatch fails, it looks again, the audio is v2: IfMatch v1's transcript)."""
    key = "transcripts/stale-look.wav.json"
    v1 = upload_audio(s3, bucket, "audio/stale-look.wav", b"v1")
    v2 = upload_audio(s3, bucket, "audio/stale-look.wav", b"v2")
    assert (
        store.save(make_transcript(bucket, "audio/stale-look.wav", v1, "v1"), key, seen=None)
        == "created"
    )
    assert (
        store.save(make_transcript(bucket, "audio/stale-look.wav", v2, "v2"), key, seen=None)
        == "replaced"
    )
    assert body(s3, bucket, key)["text"] == "v2"


def test_a_late_writer_for_old_audio_with_a_stale_look_does_not_replace_the_new_transcript(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    key = "transcripts/late-look.wav.json"
    v1 = upload_audio(s3, bucket, "audio/late-look.wav", b"v1")
    v2 = upload_audio(s3, bucket, "audio/late-look.wav", b"v2")
    store.save(make_transcript(bucket, "audio/late-look.wav", v2, "v2"), key, seen=None)
    with pytest.raises(SourceChanged):
        store.save(make_transcript(bucket, "audio/late-look.wav", v1, "v1"), key, seen=None)
    assert body(s3, bucket, key)["text"] == "v2"


def test_a_writer_that_saw_a_current_transcript_does_not_write(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    key = "transcripts/seen.wav.json"
    store.save(make_transcript(bucket, "audio/seen.wav", "e1", "first"), key)
    seen = store.head(key)
    with pytest.raises(TranscriptExists):
        store.save(make_transcript(bucket, "audio/seen.wav", "e1", "second"), key, seen=seen)
    assert body(s3, bucket, key)["text"] == "first"


def test_a_writer_that_looked_makes_one_put_per_object_and_one_delete(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    key = "transcripts/counted.wav.json"
    calls = AwsCalls()
    calls.watch(s3)
    store.save(
        make_transcript(bucket, "audio/counted.wav", "e1", "words"),
        key,
        ("json", "txt", "srt"),
        seen=None,
    )
    assert calls.names == ["PutObject", "PutObject", "PutObject", "DeleteObject"]


# --- sidecars: recorded with the JSON, repaired when found missing ---------------------------
def test_the_json_records_its_sidecars_and_repair_writes_the_missing_ones(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    key = "transcripts/side.wav.json"
    transcript = make_transcript(bucket, "audio/side.wav", "e1", "some words")
    store.save(transcript, key, ("json", "txt", "srt", "vtt"))
    stored = store.head(key)
    assert stored is not None and stored.sidecars == ("txt", "srt", "vtt")
    vtt = s3.get_object(Bucket=bucket, Key="transcripts/side.wav.vtt")["Body"].read()
    for fmt in ("txt", "vtt"):
        s3.delete_object(Bucket=bucket, Key=f"transcripts/side.wav.{fmt}")

    # The set recorded with the JSON counts, whatever this caller asks for.
    assert store.repair(key, stored, ("json",)) == ("txt", "vtt")
    assert s3.get_object(Bucket=bucket, Key="transcripts/side.wav.vtt")["Body"].read() == vtt
    assert (
        s3.get_object(Bucket=bucket, Key="transcripts/side.wav.txt")["Body"].read()
        == b"some words\n"
    )

    calls = AwsCalls()
    calls.watch(s3)
    assert store.repair(key, stored, ("json",)) == ()
    assert calls.names == ["ListObjectsV2"]  # complete: one listing, nothing read or written


def test_repair_of_a_transcript_without_a_record_writes_what_the_caller_wants(
    store: TranscriptStore, s3: Any, bucket: str
) -> None:
    key = "transcripts/legacy.wav.json"
    transcript = make_transcript(bucket, "audio/legacy.wav", "e1", "old words")
    s3.put_object(
        Bucket=bucket, Key=key, Body=transcript.to_json().encode(), Metadata={"source-etag": "e1"}
    )
    stored = store.head(key)
    assert stored is not None and stored.sidecars is None
    assert store.repair(key, stored, ("json", "txt")) == ("txt",)
    assert (
        s3.get_object(Bucket=bucket, Key="transcripts/legacy.wav.txt")["Body"].read()
        == b"old words\n"
    )
