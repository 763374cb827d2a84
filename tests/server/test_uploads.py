"""Multipart uploads streamed to a temp file, with their limits, through a real ASGI app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from fastapi_server import error_handlers
from fastapi_server.api.forms import parse_form
from fastapi_server.api.schemas import OpenAIForm
from fastapi_server.state import ServerState
from fastapi_server.uploads import Upload, receive_upload
from tests.server.harness import in_process_settings

LIMIT = 1000
seen: dict[str, Any] = {}


def make_app() -> FastAPI:
    app = FastAPI()
    app.state.server = ServerState.build(in_process_settings(), s3=object())
    error_handlers.install(app)

    @app.post("/up")
    async def up(request: Request) -> dict[str, Any]:
        async with receive_upload(request, LIMIT) as upload:
            assert upload.path is not None
            seen["path"] = upload.path
            seen["exists"] = upload.path.exists()
            form = parse_form(OpenAIForm, upload)
            return {
                "bytes": upload.path.read_bytes().decode(),
                "size": upload.size,
                "filename": upload.filename,
                "suffix": upload.path.suffix,
                "granularities": form.timestamp_granularities,
                "temperature": form.temperature,
            }

    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app())


def test_the_file_lands_in_a_temp_file_that_is_removed_afterwards(client: TestClient) -> None:
    response = client.post(
        "/up",
        files={"file": ("talk.MP3", b"x" * LIMIT)},
        data={"timestamp_granularities[]": ["word", "segment"], "temperature": "0.2"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["bytes"] == "x" * LIMIT
    assert (body["size"], body["filename"], body["suffix"]) == (LIMIT, "talk.MP3", ".mp3")
    assert body["granularities"] == ["word", "segment"]
    assert body["temperature"] == 0.2
    assert seen["exists"] and not Path(seen["path"]).exists()


def test_fields_without_brackets_and_empty_values_are_understood(client: TestClient) -> None:
    response = client.post(
        "/up",
        files={"file": ("a.exe", b"x")},
        data={"timestamp_granularities": "word", "temperature": ""},
    )
    assert response.status_code == 200, response.text
    assert response.json()["granularities"] == ["word"]
    assert response.json()["temperature"] is None
    assert response.json()["suffix"] == ""  # only audio extensions are kept


@pytest.mark.parametrize(
    ("kwargs", "status", "fragment"),
    [
        ({"files": {"file": ("a.wav", b"x" * (LIMIT + 1))}}, 413, "MAX_UPLOAD_MB"),
        ({"files": {"file": ("a.wav", b"x")}, "data": {"prompt": "p" * 70_000}}, 422, "64 KiB"),
        ({"files": [("file", ("a.wav", b"x")), ("file", ("b.wav", b"y"))]}, 422, "only one"),
        ({"files": {"file": ("a.wav", b"x")}, "data": {"temperature": "7"}}, 422, "temperature"),
        ({"files": {"file": ("a.wav", b"x")}, "data": {"language": "xx"}}, 422, "language"),
        ({"files": {"prompt": (None, "no file")}}, 422, "'file'"),
        ({"content": b"{}", "headers": {"Content-Type": "application/json"}}, 415, "multipart"),
        (
            {"content": b"--x--", "headers": {"Content-Type": "multipart/form-data"}},
            422,
            "boundary",
        ),
    ],
)
def test_limits_and_malformed_forms(
    client: TestClient, kwargs: dict[str, Any], status: int, fragment: str
) -> None:
    response = client.post("/up", **kwargs)
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]["message"]


def test_a_field_that_is_not_utf8_is_422(client: TestClient) -> None:
    boundary = "b0undary"
    disposition = "Content-Disposition: form-data; name="
    body = b"".join(
        [
            f'--{boundary}\r\n{disposition}"file"; filename="a.wav"\r\n\r\nx\r\n'.encode(),
            f'--{boundary}\r\n{disposition}"prompt"\r\n\r\n'.encode(),
            b"\xff\xfe\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
    )
    response = client.post(
        "/up", content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 422
    assert "UTF-8" in response.json()["error"]["message"]


def test_upload_value_takes_the_last_of_repeated_fields() -> None:
    assert Upload(fields={"a": ["1", "2"]}).value("a") == "2"
    assert Upload().value("a") is None
