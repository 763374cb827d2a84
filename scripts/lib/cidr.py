"""Why a SERVER_ALLOWED_CIDR entry may not open the GPU server's port (step-001, step-310).

    cidr.py CIDR MIN_PREFIX     prints the problem, or nothing when CIDR may be allowed

A range is refused when it is not an IPv4 CIDR block (address/prefix length; the server's
ingress rules are IPv4) or when it is wider than ``/MIN_PREFIX``
(``SERVER_ALLOWED_CIDR_MIN_PREFIX``): ``/0`` is the whole internet, and a short prefix is
most of it. Only the text is parsed; nothing is contacted.
"""

from __future__ import annotations

import ipaddress
import sys

__all__ = ["main", "problem"]


def problem(text: str, min_prefix: int) -> str:
    """Why ``text`` may not be allowed in, or ``""`` when it may."""
    if not 0 <= min_prefix <= 32:
        return f"SERVER_ALLOWED_CIDR_MIN_PREFIX={min_prefix} must be between 0 and 32"
    not_cidr = (
        f"SERVER_ALLOWED_CIDR holds '{text}', which is not an IPv4 CIDR block "
        "(an address/prefix length, such as your own address/32)"
    )
    if "/" not in text:
        return not_cidr
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return not_cidr
    if network.version != 4:
        return f"{not_cidr}; IPv6 ranges are not supported (the server's rules are IPv4)"
    if network.prefixlen < min_prefix:
        reach = f"{network.num_addresses} addresses"
        if network.prefixlen == 0:
            reach = "the whole internet"
        return (
            f"SERVER_ALLOWED_CIDR={text} would open the server to {reach}: ranges wider than "
            f"/{min_prefix} (SERVER_ALLOWED_CIDR_MIN_PREFIX) are refused; name your own network"
        )
    return ""


def main(argv: list[str]) -> int:
    text, min_prefix = argv
    try:
        limit = int(min_prefix)
    except ValueError:
        sys.stdout.write(f"SERVER_ALLOWED_CIDR_MIN_PREFIX='{min_prefix}' must be a whole number\n")
        return 0
    found = problem(text, limit)
    if found:
        sys.stdout.write(found + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
