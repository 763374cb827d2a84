"""Which webhook URLs may be called: checked when a job is made and again before each POST.

A URL must be ``https://`` with a host and no credentials, and *every* address its host
resolves to must be a public (global) one: private, shared, link-local (the EC2 metadata
service among them), unique-local, multicast, reserved and unspecified addresses are
refused, IPv4-mapped IPv6 is judged by its IPv4 address. With ``WEBHOOK_ALLOW_LOOPBACK``
(local stacks and tests only) loopback addresses are allowed too, over ``http://`` as well.

The sender connects to the addresses checked here (:class:`WebhookTarget.addresses`), not
to a second resolution, so a DNS answer that changes in between cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from jobs_api.exceptions import WebhookUrlRefused

__all__ = ["Resolver", "WebhookTarget", "system_resolver", "validate_webhook_url"]

Resolver = Callable[[str, int], Sequence[str]]
MAX_URL_LENGTH = 2048
FIELD = "webhook_url"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]


def _refuse(message: str) -> WebhookUrlRefused:
    return WebhookUrlRefused(message, field=FIELD)


def _address_allowed(text: str, allow_loopback: bool) -> bool:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


def validate_webhook_url(
    url: str, *, allow_loopback: bool = False, resolve: Resolver = system_resolver
) -> WebhookTarget:
    """The checked target of ``url``, or :class:`WebhookUrlRefused` saying why not."""
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise _refuse(f"not a URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in {"https", "http"} or not parts.hostname:
        raise _refuse("must be an https:// URL with a host")
    if scheme == "http" and not allow_loopback:
        raise _refuse("must be https://")
    if parts.username is not None or parts.password is not None:
        raise _refuse("must not carry credentials (user:password@)")
    host = parts.hostname
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = list(resolve(host, port))
        except (OSError, UnicodeError):
            raise _refuse(f"the host {host!r} does not resolve") from None
    if not addresses:
        raise _refuse(f"the host {host!r} does not resolve")
    if not all(_address_allowed(a, allow_loopback) for a in addresses):
        raise _refuse(
            "the host resolves to a private, link-local, metadata or otherwise non-public "
            "address" + ("" if allow_loopback else " (loopback is refused too)")
        )
    if scheme == "http" and not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise _refuse("http:// is allowed for loopback addresses only; use https://")
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return WebhookTarget(url, scheme, host, port, path, tuple(addresses))
