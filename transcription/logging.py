"""JSON log lines: one object per message with ``service``, ``level``, ``message`` and context.

Context keys (``s3_key``, ``route``, ``trace_id``, ``request_id``…) are kept in a context
variable, so they follow a request or job across functions and threads started with
``contextvars.copy_context``. Libraries only call ``logging.getLogger(__name__)``; the
entry points call :func:`configure` once.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from transcription.exceptions import SettingsError

__all__ = ["JsonFormatter", "append_keys", "configure", "context_keys", "log_context", "log_level"]

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_context", default={})  # noqa: B039


def context_keys() -> dict[str, Any]:
    return dict(_context.get())


def append_keys(**keys: Any) -> None:
    """Add keys to every later log line of this context (``None`` removes a key)."""
    merged = {**_context.get(), **keys}
    _context.set({k: v for k, v in merged.items() if v is not None})


@contextlib.contextmanager
def log_context(**keys: Any) -> Iterator[None]:
    """Keys added for the duration of a block, then restored."""
    token = _context.set({**_context.get(), **{k: v for k, v in keys.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_context.get())
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            line.update(extra)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_level(name: str) -> str:
    """``LOG_LEVEL``'s value as logging's level name; :class:`SettingsError` when it is none."""
    level = name.strip().upper()
    if not isinstance(logging.getLevelName(level), int):
        raise SettingsError(f"LOG_LEVEL={name!r} is not a log level")
    return level


def configure(service: str, level: str | int = "INFO", stream: Any = None) -> None:
    """Send every log record to ``stream`` (default stderr) as a JSON line. Call once."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "faster_whisper", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
