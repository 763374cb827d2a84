"""A controllable stand-in for the FastAPI server: ``GET /health`` and ``POST /transcribe-s3``.

A real HTTP server on 127.0.0.1 in a thread, speaking the server's contract (ARCHITECTURE:
"FastAPI server endpoints"). ``/transcribe-s3`` really reads the audio's HEAD from S3 and
really writes the transcript with :class:`TranscriptStore` (conditional create/replace), so
duplicate-event tests see real objects. By default the transcript is made up from the key;
:func:`engine_transcriber` runs a real engine instead (the router benchmark uses it).

Modes (``set_mode``):

- ``healthy``: ready, not busy; transcribes.
- ``busy``: ``/health`` says busy; ``/transcribe-s3`` answers 503 + ``Retry-After``.
- ``starting``: ``/health`` answers 503 (model loading), so does ``/transcribe-s3``.
- ``slow``: healthy, but ``/transcribe-s3`` takes ``delay`` seconds (a hang, if long).
- ``flaky``: healthy; the next ``failures`` transcriptions fail with ``status`` (or a dropped
  connection when ``status`` is 0), then it works again.
- ``failing``: 500 on everything.
- ``reject``: ``/transcribe-s3`` answers ``status`` (a final 4xx) with an error body.
- ``redirect``: healthy, but ``/transcribe-s3`` answers 302 to ``location``.
- ``down``: nothing listens on the port (connection refused).

``health_delay`` makes ``/health`` answer that much later, in any mode; ``realtime_factor``
(attribute) is reported in ``/health`` when set, as the real server reports its speed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.exceptions import ClientError

from tests.support.processes import free_port
from transcription.exceptions import InvalidS3Uri, TranscriptExists
from transcription.layout import normalize_etag, parse_s3_uri
from transcription.store import TranscriptStore
from transcription.transcript import Segment, Source, Transcript

__all__ = ["FakeServer", "Seen", "SilentServer", "engine_transcriber", "made_up_transcriber"]

Transcriber = Callable[[Any, str, str], Transcript]
MODES = frozenset(
    {"healthy", "busy", "starting", "slow", "flaky", "failing", "reject", "redirect", "down"}
)


def made_up_transcriber(s3: Any, bucket: str, key: str) -> Transcript:
    """A transcript that names its source; no model."""
    head = s3.head_object(Bucket=bucket, Key=key)
    text = f"fake transcript of {key}"
    return Transcript(
        text=text,
        language="en",
        duration=1.0,
        segments=(Segment(id=0, start=0.0, end=1.0, text=text),),
        engine="fake",
        model="fake",
        device="cpu",
        source=Source(bucket, key, normalize_etag(head["ETag"]), int(head["ContentLength"])),
        route="direct",
    )


def engine_transcriber(engine: Any) -> Transcriber:
    """Download, decode and transcribe with a real engine, as the server does."""
    from transcription.inference.engines.base import TranscribeOptions
    from transcription.inference.service import download, transcribe_audio

    def transcribe(s3: Any, bucket: str, key: str) -> Transcript:
        downloaded = download(s3, bucket, key)
        try:
            transcript = transcribe_audio(engine, downloaded.path, TranscribeOptions())
        finally:
            downloaded.discard()
        return transcript.with_context(source=downloaded.source, route="direct")

    return transcribe


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    at: float = field(default_factory=time.monotonic)


class FakeServer:
    def __init__(
        self,
        s3: Any,
        *,
        api_key: str | None = None,
        transcriber: Transcriber = made_up_transcriber,
        port: int | None = None,
    ) -> None:
        self.s3 = s3
        self.api_key = api_key
        self.transcriber = transcriber
        self.port = port or free_port()
        self.requests: list[Seen] = []
        self.transcriptions = 0  # times the transcriber ran
        self.mode = "healthy"
        self.delay = 0.0
        self.failures = 0
        self.status = 503
        self.retry_after: str | None = None
        self.health_delay = 0.0
        self.location = ""
        self.realtime_factor: float | None = None
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._httpd is not None:
            return
        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_class(self))
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, name="fake-server", daemon=True).start()
        self._httpd = httpd

    def stop(self) -> None:
        self._release.set()  # let hanging requests finish
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def set_mode(
        self,
        mode: str,
        *,
        delay: float = 0.0,
        failures: int = 0,
        status: int = 503,
        retry_after: str | None = None,
        health_delay: float = 0.0,
        location: str = "",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self._release.set()
        with self._lock:
            self.mode, self.delay, self.failures = mode, delay, failures
            self.status, self.retry_after = status, retry_after
            self.health_delay = health_delay
            self.location = location
            self._release = threading.Event()
        if mode == "down":
            self.stop()
        else:
            self.start()

    def reset(self) -> None:
        """Healthy, with no requests seen."""
        self.set_mode("healthy")
        with self._lock:
            self.requests.clear()
            self.transcriptions = 0
            self.realtime_factor = None

    # --- what it saw ------------------------------------------------------------------
    def seen(self, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def count(self, path: str | None = None) -> int:
        return len(self.seen(path))

    def wait_for(self, path: str, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count(path) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} was asked {self.count(path)} times, not {count}")
            time.sleep(0.02)

    # --- answers ----------------------------------------------------------------------
    def answer(self, seen: Seen) -> tuple[int, dict[str, str], Any] | None:
        """(status, headers, JSON body), or ``None`` to drop the connection."""
        with self._lock:
            self.requests.append(seen)
            mode = self.mode
        if seen.path == "/health" and seen.method == "GET":
            if self.health_delay:
                self._release.wait(self.health_delay)
            return self._health(mode)
        if seen.path == "/transcribe-s3" and seen.method == "POST":
            return self._transcribe_s3(mode, seen)
        return 404, {}, _error("not_found", f"no route {seen.method} {seen.path}")

    def _health(self, mode: str) -> tuple[int, dict[str, str], Any]:
        base: dict[str, Any] = {
            "engine": "fake", "model": "fake", "device": "cpu", "capacity": 1, "pending": 0
        }  # fmt: skip
        if self.realtime_factor is not None:
            base["realtime_factor"] = self.realtime_factor
        if mode == "failing":
            return 500, {}, _error("internal_error", "failing on purpose")
        if mode == "starting":
            body = {**base, "status": "starting", "ready": False, "busy": False, "in_flight": 0}
            return 503, {"Retry-After": "5"}, body
        busy = mode == "busy"
        body = {**base, "status": "ok", "ready": True, "busy": busy, "in_flight": int(busy)}
        return 200, {}, body

    def _transcribe_s3(self, mode: str, seen: Seen) -> tuple[int, dict[str, str], Any] | None:
        if self.api_key and seen.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, _error("unauthorized", "missing or wrong API key")
        retry = {"Retry-After": self.retry_after} if self.retry_after else {}
        if mode == "busy":
            return 503, {"Retry-After": self.retry_after or "1"}, _error("busy", "at capacity")
        if mode == "starting":
            return 503, {"Retry-After": "5"}, _error("not_ready", "loading the model")
        if mode == "failing":
            return 500, {}, _error("internal_error", "failing on purpose")
        if mode == "reject":
            return self.status, {}, _error("not_audio", "the file is not decodable audio")
        if mode == "redirect":
            return 302, {"Location": self.location}, _error("moved", "elsewhere")
        if mode == "flaky":
            with self._lock:
                fail = self.failures > 0
                self.failures -= int(fail)
            if fail:
                return (
                    None if self.status == 0 else (self.status, retry, _error("flaky", "try again"))
                )
        if mode == "slow":
            self._release.wait(self.delay)
        return self._transcribe(seen.body)

    def _transcribe(self, body: Any) -> tuple[int, dict[str, str], Any]:
        try:
            bucket, key = parse_s3_uri(body["s3_input_path"])
            out_bucket, out_key = parse_s3_uri(body["s3_output_path"])
        except (InvalidS3Uri, KeyError, TypeError) as error:
            return 422, {}, _error("invalid_request", str(error))
        try:
            head = self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            return 404, {}, _error("source_missing", str(error))
        etag = body.get("etag")
        if etag and normalize_etag(head["ETag"]) != normalize_etag(etag):
            return 409, {}, _error("source_changed", f"{key} no longer has ETag {etag}")
        transcript = self.transcriber(self.s3, bucket, key)
        with self._lock:
            self.transcriptions += 1
        store = TranscriptStore(self.s3, out_bucket)
        try:
            store.save(transcript, out_key, ("json",))
        except TranscriptExists:
            transcript = store.read(out_key) or transcript
        answer = transcript.to_dict()
        if body.get("return_text") is False:
            answer["text"] = answer["segments"] = None
        return 200, {}, answer


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _handler_class(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = server.answer(Seen(self.command, self.path, headers, body))
            if answer is None:
                self.close_connection = True
                return
            status, extra, payload = answer
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting: nobody to answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a hung peer).

    ``connections`` counts what clients opened: with a read timeout, one per attempt.
    """

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.connections = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> SilentServer:
        self._socket.settimeout(0.1)
        threading.Thread(target=self._accept, name="silent-server", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for held in self._held:
            held.close()
        self._socket.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._held.append(connection)  # read nothing, answer nothing
