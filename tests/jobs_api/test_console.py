"""The web console's routes on the real app (uvicorn, moto's server), without a browser:
pages and assets served with the strict Content-Security-Policy, unknown assets 404, and
the audio link the transcript view plays. The browser tests are tests/e2e/test_console.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from jobs_api.console.routes import assets
from tests.jobs_api.conftest import Api, bearer

PAGES = ("/console", "/console/planner", "/console/jobs/" + "0" * 32)


def policy(response: httpx.Response) -> dict[str, list[str]]:
    header = response.headers["content-security-policy"]
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {d[0]: d[1:] for d in directives}


@pytest.mark.parametrize("path", PAGES)
def test_each_page_is_served_with_the_strict_policy(api: Api, path: str) -> None:
    response = api.http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    moto = urlsplit(api.stack.clients["s3"].meta.endpoint_url)
    assert csp["connect-src"] == ["'self'", f"{moto.scheme}://{moto.netloc}"]
    assert csp["media-src"] == ["'self'", f"{moto.scheme}://{moto.netloc}"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert 'name="api_key"' in page
    # No inline script or style: every script has a src on this server, no style attribute.
    assert "<style" not in page and " style=" not in page
    assert page.count("<script") == page.count('<script src="/console/static/') == 2


def test_the_job_page_carries_only_a_checked_job_id(api: Api) -> None:
    assert 'data-job-id="' + "a" * 32 + '"' in api.http.get("/console/jobs/" + "a" * 32).text
    assert api.http.get("/console/jobs/<img src=x>").status_code in (404, 422)
    assert api.http.get("/console/jobs/" + "A" * 32).status_code == 422


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("common.js", "text/javascript"),
        ("jobs.js", "text/javascript"),
        ("job.js", "text/javascript"),
        ("planner.js", "text/javascript"),
        ("console.css", "text/css"),
    ],
)
def test_assets_are_served_with_their_type_and_the_policy(
    api: Api, name: str, media_type: str
) -> None:
    response = api.http.get(f"/console/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.content == assets()[name]
    assert "content-security-policy" in response.headers


def test_every_asset_a_page_names_is_served(api: Api) -> None:
    for path in PAGES:
        page = api.http.get(path).text
        for name in ("common.js", "console.css"):
            assert f"/console/static/{name}" in page
    assert set(assets()) == {"common.js", "jobs.js", "job.js", "planner.js", "console.css"}


@pytest.mark.parametrize("name", ["nope.js", "..%2Fpages.py", "pages.py", "__init__.py"])
def test_an_unknown_asset_is_a_404(api: Api, name: str) -> None:
    response = api.http.get(f"/console/static/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_console_is_not_in_the_api_schema(api: Api) -> None:
    paths = api.http.get("/openapi.json").json()["paths"]
    assert "/v1/plan" in paths and not any(p.startswith("/console") for p in paths)


def test_results_carry_a_playable_audio_link(api: Api, s3: Any, samples: dict[str, Any]) -> None:
    key = bearer(api.issue("listeners", ["jobs:write", "jobs:read"])["key"])
    audio = samples["one"].read_bytes()
    s3.put_object(Bucket=api.stack.bucket, Key="in/console.wav", Body=audio)
    body = {
        "job_type": "asr",
        "items": [
            {"id": "from-s3", "audio_url": f"s3://{api.stack.bucket}/in/console.wav"},
            {"id": "later", "upload": True, "ext": "wav"},
        ],
    }
    accepted = api.http.post("/v1/jobs", json=body, headers=key)
    assert accepted.status_code == 202, accepted.text
    upload = accepted.json()["uploads"][0]["url"]
    assert httpx.put(upload, content=b"RIFF-not-really").status_code == 200
    results = api.http.get(f"/v1/jobs/{accepted.json()['job_id']}/results", headers=key).json()
    links = {item["id"]: item["audio"]["url"] for item in results["items"]}
    assert httpx.get(links["from-s3"]).content == audio
    assert httpx.get(links["later"]).content == b"RIFF-not-really"
