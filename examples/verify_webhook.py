"""Verify a job completion webhook, as a receiver does (Standard Webhooks).

    pip install standardwebhooks
    verify(body, headers, "whsec_...")  # the webhook_secret shown when the key was issued

The README shows this file; tests/jobs_api/test_webhooks.py verifies real deliveries with it.
"""

from __future__ import annotations

from typing import Any

from standardwebhooks import Webhook


def verify(body: bytes, headers: dict[str, str], secret: str) -> dict[str, Any]:
    """The payload if ``webhook-signature`` is right and ``webhook-timestamp`` is recent
    (5 minutes); raises ``standardwebhooks.WebhookVerificationError`` otherwise. Drop
    repeats by ``webhook-id``: it is the same for every attempt of one delivery."""
    payload: dict[str, Any] = Webhook(secret).verify(body, headers)
    return payload
