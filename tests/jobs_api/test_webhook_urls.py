"""Webhook URL refusal, decided on parsed and resolved addresses (a stub resolver; no traffic).

Every address here is loopback (127.0.0.0/8, ::1), the only kind this project's tests may
name: without the local setting a loopback target is refused like any non-public one, and
with it nothing but loopback is accepted. The classification of private, link-local and
metadata ranges is the standard library's (``ipaddress``), which :mod:`jobs_api.webhooks.urls`
asks for every resolved address.
"""

from __future__ import annotations

from typing import Any

import pytest

from jobs_api.exceptions import WebhookUrlRefused
from jobs_api.webhooks.urls import validate_webhook_url
from tests.jobs_api.conftest import Api, bearer

LOOPBACK = ("127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1")


def stub(table: dict[str, list[str]]) -> Any:
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"{host}: not in the stub")
        return table[host]

    return resolve


@pytest.mark.parametrize("address", LOOPBACK)
def test_a_name_resolving_to_a_non_public_address_is_refused(address: str) -> None:
    with pytest.raises(WebhookUrlRefused) as refused:
        validate_webhook_url("https://hooks.test/x", resolve=stub({"hooks.test": [address]}))
    assert refused.value.field == "webhook_url"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/latest/meta-data/",  # an address in the URL is checked as resolved
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "http://hooks.test/hook",  # http without the loopback setting
        "ftp://hooks.test/hook",
        "https://user:pass@hooks.test/hook",
        "https:///no-host",
        "https://localhost/hook",  # loopback, not allowed by default
        "https://hooks.test:99999/",
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(WebhookUrlRefused):
        validate_webhook_url(url, resolve=stub({"hooks.test": ["127.0.0.1"], "localhost": ["::1"]}))


def test_an_unresolvable_host_is_refused() -> None:
    with pytest.raises(WebhookUrlRefused, match="does not resolve"):
        validate_webhook_url("https://nowhere.test/", resolve=stub({}))


def test_an_accepted_url_carries_its_checked_addresses() -> None:
    target = validate_webhook_url(
        "https://hooks.test/hooks?x=1",
        allow_loopback=True,
        resolve=stub({"hooks.test": ["127.0.0.1", "::1"]}),
    )
    assert (target.host, target.port, target.path) == ("hooks.test", 443, "/hooks?x=1")
    assert target.addresses == ("127.0.0.1", "::1")


def test_loopback_needs_the_local_setting_and_then_is_all_that_is_accepted() -> None:
    resolve = stub({"localhost": ["127.0.0.1"], "elsewhere.test": ["127.0.0.1"]})
    with pytest.raises(WebhookUrlRefused):
        validate_webhook_url("http://127.0.0.1:9/hook", resolve=resolve)
    target = validate_webhook_url("http://localhost:9/hook", allow_loopback=True, resolve=resolve)
    assert target.addresses == ("127.0.0.1",)
    with pytest.raises(WebhookUrlRefused, match="does not resolve"):
        validate_webhook_url("http://nowhere.test/hook", allow_loopback=True, resolve=resolve)


@pytest.mark.parametrize(
    ("url", "dns"),
    [
        ("https://nowhere.test/hook", {}),
        ("ftp://hooks.test/hook", {"hooks.test": ["127.0.0.1"]}),
        ("https://user:secret@hooks.test/hook", {"hooks.test": ["127.0.0.1"]}),
    ],
)
def test_the_api_refuses_a_webhook_url_it_cannot_trust_with_422(
    api: Api, url: str, dns: dict[str, list[str]]
) -> None:
    api.stack.resolver.update(dns)
    writer = bearer(api.issue("team-a", ["jobs:write"])["key"])
    body = {
        "job_type": "asr",
        "items": [{"id": "a", "upload": True, "ext": "wav"}],
        "webhook_url": url,
    }
    response = api.http.post("/v1/jobs", json=body, headers=writer)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("webhook_url_refused", "webhook_url")
    assert "secret" not in error["message"]  # a credential in the URL is never echoed
