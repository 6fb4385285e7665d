"""How a notification is signed, and how a receiver checks it.

``X-C360-Signature: sha256=<hex>`` is HMAC-SHA256, keyed with the team's webhook secret, over
the ``X-C360-Timestamp`` header's value (Unix seconds, as sent) followed by the raw body. The
receiver recomputes it, compares in constant time, and refuses timestamps too far from its
clock (a replay); ``Idempotency-Key`` lets it drop a notification delivered twice.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-C360-Signature"
TIMESTAMP_HEADER = "X-C360-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-C360-Event"
SCHEME = "sha256="
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + body, hashlib.sha256)
    return SCHEME + digest.hexdigest()


def verify(
    secret: str,
    header: str | None,
    timestamp: str | None,
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    if header is None or timestamp is None or not timestamp.isascii() or not timestamp.isdigit():
        return False
    sent = int(timestamp)
    if abs(now - sent) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, sent, body), header)
