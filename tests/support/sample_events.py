"""The stored sample events (``tests/events/*.json``), re-aimed at a test's own object.

The samples hold one object, ``audio/team meeting/café notes+1.wav`` in
``amzn-s3-demo-bucket``: URL-encoded as AWS encodes keys in S3 events
(``audio/team+meeting/caf%C3%A9+notes%2B1.wav``), or raw as moto's server puts it in
EventBridge events. :func:`load_event` swaps in another bucket, key, ETag and size, encoding
the key the way that sample carries it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

EVENTS = Path(__file__).resolve().parents[1] / "events"

SAMPLE_BUCKET = "amzn-s3-demo-bucket"
SAMPLE_KEY = "audio/team meeting/café notes+1.wav"
SAMPLE_ENCODED_KEY = "audio/team+meeting/caf%C3%A9+notes%2B1.wav"
SAMPLE_ETAG = "b1946ac92492d2347c6235b4d2611184"
SAMPLE_SIZE = 48044


def encode_key(key: str) -> str:
    """As S3 puts a key in an event: form-URL-encoded, ``/`` left as it is."""
    return quote_plus(key, safe="/")


def load_event(
    name: str,
    *,
    bucket: str | None = None,
    key: str | None = None,
    etag: str | None = None,
    size: int | None = None,
) -> Any:
    text = (EVENTS / f"{name}.json").read_text(encoding="utf-8")
    if key is not None:
        if any(c in key for c in '"\\'):
            raise ValueError("sample events cannot carry keys with quotes or backslashes")
        text = text.replace(SAMPLE_ENCODED_KEY, encode_key(key)).replace(SAMPLE_KEY, key)
    if bucket is not None:
        text = text.replace(SAMPLE_BUCKET, bucket)
    if etag is not None:
        text = text.replace(SAMPLE_ETAG, etag)
    if size is not None:
        text = text.replace(str(SAMPLE_SIZE), str(size))
    return json.loads(text)
