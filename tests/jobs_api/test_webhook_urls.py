"""Webhook URL refusal, decided on parsed and resolved addresses (a stub resolver; no traffic).

The non-loopback addresses below are *inputs to the refusal logic only*: the parser and the
stub resolver hand them over, nothing ever connects to them (the resolver answers from a
dict, and refused URLs are never called).
"""

from __future__ import annotations

from typing import Any

import pytest

from jobs_api.exceptions import WebhookUrlRefused
from jobs_api.webhooks.urls import validate_webhook_url
from tests.jobs_api.conftest import Api, bearer

# Refusal inputs (never contacted): EC2 metadata (IPv4 and IPv6), private, shared, ULA, mapped.
METADATA_V4 = "169.254.169.254"
METADATA_V6 = "fd00:ec2::254"
PRIVATE = ("10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fc00::1", "::ffff:10.0.0.1")
PUBLIC = "2606:4700:4700::1111"  # a global address, only ever returned by the stub resolver


def stub(table: dict[str, list[str]]) -> Any:
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"{host}: not in the stub")
        return table[host]

    return resolve


@pytest.mark.parametrize("address", [METADATA_V4, METADATA_V6, *PRIVATE, "0.0.0.0", "::"])
def test_a_name_resolving_to_a_non_public_address_is_refused(address: str) -> None:
    with pytest.raises(WebhookUrlRefused) as refused:
        validate_webhook_url("https://hooks.test/x", resolve=stub({"hooks.test": [address]}))
    assert refused.value.field == "webhook_url"


def test_one_bad_address_among_good_ones_is_enough_to_refuse() -> None:
    resolve = stub({"mixed.test": [PUBLIC, METADATA_V4]})
    with pytest.raises(WebhookUrlRefused):
        validate_webhook_url("https://mixed.test/x", resolve=resolve)


@pytest.mark.parametrize(
    "url",
    [
        f"https://{METADATA_V4}/latest/meta-data/",
        f"https://[{METADATA_V6}]/",
        "https://[::ffff:169.254.169.254]/",
        "http://public.test/hook",  # http without the loopback setting
        "ftp://public.test/hook",
        "https://user:pass@public.test/hook",
        "https:///no-host",
        "https://localhost/hook",  # loopback, not allowed by default
        "https://public.test:99999/",
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(WebhookUrlRefused):
        validate_webhook_url(url, resolve=stub({"public.test": [PUBLIC], "localhost": ["::1"]}))


def test_an_unresolvable_host_is_refused() -> None:
    with pytest.raises(WebhookUrlRefused, match="does not resolve"):
        validate_webhook_url("https://nowhere.test/", resolve=stub({}))


def test_a_public_https_url_is_accepted_with_its_checked_addresses() -> None:
    target = validate_webhook_url(
        "https://public.test/hooks?x=1", resolve=stub({"public.test": [PUBLIC]})
    )
    assert (target.host, target.port, target.path) == ("public.test", 443, "/hooks?x=1")
    assert target.addresses == (PUBLIC,)


def test_loopback_needs_the_local_setting_and_http_only_goes_there() -> None:
    resolve = stub({"localhost": ["127.0.0.1"], "public.test": [PUBLIC]})
    with pytest.raises(WebhookUrlRefused):
        validate_webhook_url("http://127.0.0.1:9/hook", resolve=resolve)
    target = validate_webhook_url("http://localhost:9/hook", allow_loopback=True, resolve=resolve)
    assert target.addresses == ("127.0.0.1",)
    with pytest.raises(WebhookUrlRefused, match="loopback addresses only"):
        validate_webhook_url("http://public.test/hook", allow_loopback=True, resolve=resolve)
    with pytest.raises(WebhookUrlRefused):  # the setting never opens private addresses
        validate_webhook_url(f"https://{METADATA_V4}/", allow_loopback=True, resolve=resolve)


@pytest.mark.parametrize(
    ("url", "dns"),
    [
        (f"http://{METADATA_V4}/latest/meta-data/iam/", {}),
        ("https://metadata.test/hook", {"metadata.test": [METADATA_V4]}),
        ("https://intranet.test/hook", {"intranet.test": [PRIVATE[0]]}),
    ],
)
def test_the_api_refuses_a_private_or_metadata_webhook_with_422(
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
    assert response.json()["error"] == {
        "code": "webhook_url_refused",
        "message": response.json()["error"]["message"],
        "field": "webhook_url",
    }
    assert "private" in response.json()["error"]["message"]
