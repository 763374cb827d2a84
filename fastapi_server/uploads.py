"""Multipart uploads streamed straight to a temp file of the request's own.

The body is read from the request stream chunk by chunk: the file part goes to disk as it
arrives and ``MAX_UPLOAD_MB`` is enforced while it streams (and up front from
``Content-Length``), so a huge body is refused with 413 without ever being held in memory.
Form fields are small text values, limited in size and number.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from fastapi_server.exceptions import InvalidRequest, UnsupportedContentType, UploadTooLarge
from fastapi_server.settings import MIB
from transcription.layout import SUPPORTED_EXTENSIONS

__all__ = ["FILE_FIELD", "Upload", "receive_upload"]

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024  # one text field
MAX_PARTS = 64
FORM_OVERHEAD = MIB  # allowance for boundaries, part headers and text fields
FLUSH_BYTES = MIB  # file data is written in a worker thread once this much is buffered


@dataclass
class Upload:
    """What a multipart request carried: the file (on disk) and its text fields."""

    path: Path | None = None
    filename: str | None = None
    size: int = 0
    fields: dict[str, list[str]] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    is_file: bool = False
    data: bytearray = field(default_factory=bytearray)


class _Receiver:
    """The parser's callbacks: collect fields, buffer file data, enforce the limits."""

    def __init__(self, upload: Upload, max_bytes: int, file_field: str = FILE_FIELD) -> None:
        self.upload = upload
        self.max_bytes = max_bytes
        self.file_field = file_field
        self.part = _Part()
        self.parts = 0
        self.header_name = b""
        self.header_value = b""
        self.file: IO[bytes] | None = None
        self.pending: list[bytes] = []
        self.pending_bytes = 0

    # --- python-multipart callbacks ----------------------------------------------------
    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise InvalidRequest(f"too many form fields (at most {MAX_PARTS})")
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self.header_name.lower()] = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise InvalidRequest("a multipart part has no name in its Content-Disposition")
        self.part.name = _text(options[b"name"], "a form field name")
        if self.part.name == self.file_field:
            if self.upload.path is not None:
                raise InvalidRequest(f"only one {self.file_field!r} may be sent")
            self.part.is_file = True
            filename = options.get(b"filename")
            self.upload.filename = _text(filename, "the file name") if filename else None
            self._open_file()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self.part.is_file:
            self.upload.size += size
            if self.upload.size > self.max_bytes:
                raise _too_large(self.max_bytes)
            self.pending.append(data[start:end])
            self.pending_bytes += size
        else:
            if len(self.part.data) + size > MAX_FIELD_BYTES:
                raise InvalidRequest(f"form field {self.part.name!r} is longer than 64 KiB")
            self.part.data += data[start:end]

    def on_part_end(self) -> None:
        if not self.part.is_file:
            value = _text(bytes(self.part.data), f"form field {self.part.name!r}")
            self.upload.fields.setdefault(self.part.name, []).append(value)

    # --- file --------------------------------------------------------------------------
    def _open_file(self) -> None:
        suffix = posixpath.splitext(self.upload.filename or "")[1].lower()
        fd, name = tempfile.mkstemp(
            prefix="upload-", suffix=suffix if suffix in SUPPORTED_EXTENSIONS else ""
        )
        self.upload.path = Path(name)
        self.file = os.fdopen(fd, "wb")

    async def flush(self, force: bool = False) -> None:
        if (
            self.file is None
            or not self.pending
            or (self.pending_bytes < FLUSH_BYTES and not force)
        ):
            return
        data = b"".join(self.pending)
        self.pending.clear()
        self.pending_bytes = 0
        await anyio.to_thread.run_sync(self.file.write, data)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(f"{what} is not valid UTF-8") from None


def _too_large(max_bytes: int) -> UploadTooLarge:
    return UploadTooLarge(f"the upload is larger than MAX_UPLOAD_MB ({max_bytes / MIB:g} MB)")


def _boundary(request: Request, file_field: str) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        raise UnsupportedContentType(
            f"send the audio as multipart/form-data with a {file_field!r} field"
        )
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidRequest("the multipart/form-data Content-Type has no boundary")
    return boundary


def _check_declared_length(request: Request, max_bytes: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + FORM_OVERHEAD:
        raise _too_large(max_bytes)


@contextlib.asynccontextmanager
async def receive_upload(
    request: Request, max_bytes: int, file_field: str = FILE_FIELD
) -> AsyncIterator[Upload]:
    """Stream the request's multipart body; the file lands in a temp file removed on exit.

    ``file_field`` names the file part (``file``; whisper-asr-webservice's ``audio_file``).
    Raises 413 (:class:`UploadTooLarge`), 415 (not multipart) or 422 (malformed form).
    """
    boundary = _boundary(request, file_field)
    _check_declared_length(request, max_bytes)
    upload = Upload()
    receiver = _Receiver(upload, max_bytes, file_field)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": receiver.on_part_begin,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
        },
    )
    total_limit = max_bytes + FORM_OVERHEAD
    received = 0
    try:
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > total_limit:
                    raise _too_large(max_bytes)
                parser.write(chunk)
                await receiver.flush()
            parser.finalize()
            await receiver.flush(force=True)
        except FormParserError:
            raise InvalidRequest("the multipart/form-data body is malformed") from None
        except ClientDisconnect:
            raise InvalidRequest("the client went away during the upload") from None
        finally:
            receiver.close()
        if upload.path is None:
            raise InvalidRequest(f"the multipart field {file_field!r} (the audio file) is required")
        yield upload
    finally:
        if upload.path is not None:
            upload.path.unlink(missing_ok=True)
