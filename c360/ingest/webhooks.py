"""Webhook signatures: nothing is stored from a request whose sender cannot be verified."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

from c360.errors import C360Error
from schemas.quoting import shown

ZENDESK_MAX_SKEW = dt.timedelta(minutes=5)
"""How old (or early) a signed Zendesk timestamp may be: older requests could be replays."""


class InvalidSignature(C360Error):
    status_code = 401


class WebhookNotConfigured(C360Error):
    status_code = 404


def _expected(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _matches(expected: str, signature: str) -> bool:
    """A constant-time comparison of the signature a header carries (any characters: a
    header may hold bytes no signature has, which ``compare_digest`` refuses in a string)."""
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def verify_shopify(secret: str | None, body: bytes, signature: str | None) -> None:
    """``X-Shopify-Hmac-Sha256``: base64 HMAC-SHA256 of the raw body with the shared secret."""
    if not secret:
        raise WebhookNotConfigured("no Shopify webhook secret is configured")
    if not signature or not _matches(_expected(secret, body), signature):
        raise InvalidSignature("missing or wrong X-Shopify-Hmac-Sha256")


def verify_zendesk(
    secret: str | None,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: dt.datetime,
) -> None:
    """``X-Zendesk-Webhook-Signature``: base64 HMAC-SHA256 of timestamp + body; fresh timestamp."""
    if not secret:
        raise WebhookNotConfigured("no Zendesk webhook secret is configured")
    if not signature or not timestamp:
        raise InvalidSignature("missing X-Zendesk-Webhook-Signature or its timestamp")
    expected = _expected(secret, timestamp.encode() + body)
    if not _matches(expected, signature):
        raise InvalidSignature("wrong X-Zendesk-Webhook-Signature")
    try:
        sent = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidSignature(f"unreadable signature timestamp {shown(timestamp)}") from None
    if sent.tzinfo is None or abs(now - sent) > ZENDESK_MAX_SKEW:
        raise InvalidSignature("signature timestamp too old or in the future (replay?)")
