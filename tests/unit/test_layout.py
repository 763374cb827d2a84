"""The S3 key layout: event-key decoding, output keys, and the recursion guard."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest

from transcription.exceptions import InvalidS3Uri
from transcription.layout import (
    Layout,
    decode_event_key,
    error_key_for,
    has_supported_extension,
    normalize_etag,
    parse_s3_uri,
)

KEYS = [
    "audio/meeting notes/talk 1.mp3",
    "audio/a+b/c + d.wav",
    "audio/100%/done%20.flac",
    "audio/Ünïcødé/Łódź émission spéciale.ogg",
    "audio/日本語/ファイル 名.m4a",
    "audio/mixed/50% + 50% = ganz (fertig)!.opus",
]


@pytest.mark.parametrize("key", KEYS)
def test_event_key_round_trip(key: str) -> None:
    # S3 events carry keys form-encoded: "+" for a space, "%2B" for a plus.
    for form in (quote_plus(key, safe="/"), quote_plus(key)):
        assert decode_event_key(form) == key
    encoded = quote_plus(key, safe="/")
    assert " " not in encoded
    assert encoded.count("%2B") == key.count("+")


@pytest.mark.parametrize("key", KEYS)
def test_output_keys_keep_the_decoded_path(key: str) -> None:
    layout = Layout()
    relative = key.removeprefix("audio/")
    decoded = decode_event_key(quote_plus(key, safe="/"))
    assert layout.is_input(decoded)
    assert layout.transcript_key(decoded) == f"transcripts/{relative}.json"
    assert layout.sidecar_key(decoded, "srt") == f"transcripts/{relative}.srt"
    assert layout.error_key(decoded) == f"transcripts/{relative}.error.json"
    assert error_key_for(layout.transcript_key(decoded)) == layout.error_key(decoded)
    # The recursion guard: nothing the layout writes is an input.
    for written in (
        layout.transcript_key(key),
        layout.sidecar_key(key, "txt"),
        layout.error_key(key),
    ):
        assert not layout.is_input(written)


def test_plus_is_decoded_once() -> None:
    assert decode_event_key("audio/a%2Bb+c.wav") == "audio/a+b c.wav"
    assert decode_event_key(quote("audio/x y.wav")) == "audio/x y.wav"  # %20 works too


def test_extension_is_kept_so_formats_never_collide() -> None:
    layout = Layout()
    assert layout.transcript_key("audio/a/talk.mp3") == "transcripts/a/talk.mp3.json"
    assert layout.transcript_key("audio/a/talk.wav") == "transcripts/a/talk.wav.json"


@pytest.mark.parametrize(
    "key",
    ["audio/", "audio/folder/", "transcripts/a.mp3.json", "other/audio/a.mp3", "audiobook.mp3", ""],
)
def test_not_inputs(key: str) -> None:
    layout = Layout()
    assert not layout.is_input(key)
    with pytest.raises(ValueError, match="not under the input prefix"):
        layout.transcript_key(key)


def test_custom_prefixes() -> None:
    layout = Layout(input_prefix="in/raw/", output_prefix="out/")
    assert layout.transcript_key("in/raw/x y.mp3") == "out/x y.mp3.json"
    assert not layout.is_input("audio/x.mp3")
    assert not layout.is_input(layout.transcript_key("in/raw/x.mp3"))


@pytest.mark.parametrize(
    ("key", "supported"),
    [
        ("audio/a.mp3", True),
        ("audio/A.MP3", True),
        ("audio/x.y/a.webm", True),
        ("audio/a.m4a", True),
        ("audio/a.txt", False),
        ("audio/mp3", False),
        ("audio/a.mp3.json", False),
    ],
)
def test_supported_extensions(key: str, supported: bool) -> None:
    assert has_supported_extension(key) is supported


def test_normalize_etag() -> None:
    assert (
        normalize_etag('"9b2cf535f27731c974343645a3985328"') == "9b2cf535f27731c974343645a3985328"
    )
    assert normalize_etag("abc-2") == "abc-2"


def test_parse_s3_uri() -> None:
    assert parse_s3_uri("s3://bucket/audio/a b.mp3") == ("bucket", "audio/a b.mp3")
    for bad in ("https://bucket/key", "s3://bucket", "s3://bucket/", "s3:///key", "s3://b/dir/"):
        with pytest.raises(InvalidS3Uri):
            parse_s3_uri(bad)
