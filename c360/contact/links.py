"""One-click unsubscribe links (RFC 8058) and their tokens.

A link carries what it unsubscribes (profile, channel, contact point, purpose), encrypted and
authenticated with a key derived from the deployment's secret (Fernet: AES-128-CBC and
HMAC-SHA256, timestamped): whoever holds a link learns nothing from it (no profile id, no
address), a changed character is refused, and nothing needs storing to check one, so an export
of a million members writes nothing.

Links issued before they were encrypted (signed with ``itsdangerous``, readable) keep working
until they expire (``C360_UNSUBSCRIBE_LINK_TTL_DAYS``): a customer's old e-mail must still
unsubscribe them.

Every token is checked whole before it is used: a payload that is not the four values, a
channel or purpose c360 does not know, a timestamp in the future — all refused with a reason
(403), never a server error, even when the token is signed with the real secret.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadData, BadSignature, URLSafeTimedSerializer

from c360.errors import InvalidInput
from schemas.quoting import shown
from schemas.records import ALL_PURPOSES, ContactChannel

_SALT = "c360.unsubscribe"
# Clocks of the instances that issue and check links may differ this much.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)


class LinkRefused(InvalidInput):
    status_code = 403


class LinkExpired(LinkRefused):
    status_code = 410


@dataclass(frozen=True)
class Unsubscribe:
    profile_id: str
    channel: str
    purpose: str
    contact_point: str | None


def _fernet_key(secret: str) -> bytes:
    """A key of its own for links, derived from the deployment's secret (HKDF-SHA256)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SALT.encode())
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


class LinkSigner:
    def __init__(
        self, secret: str, max_age: dt.timedelta, purposes: Collection[str] | None = None
    ) -> None:
        self._fernet = Fernet(_fernet_key(secret))
        self._legacy = URLSafeTimedSerializer(secret, salt=_SALT)
        self._max_age = max_age
        self._purposes = None if purposes is None else {*purposes, ALL_PURPOSES}

    def sign(self, what: Unsubscribe, now: dt.datetime | None = None) -> str:
        """An opaque token for ``what`` (URL-safe)."""
        payload = json.dumps(
            [what.profile_id, what.channel, what.purpose, what.contact_point],
            separators=(",", ":"),
        ).encode()
        at = int((now or dt.datetime.now(dt.UTC)).timestamp())
        return self._fernet.encrypt_at_time(payload, at).decode().rstrip("=")

    def read(self, token: str, now: dt.datetime | None = None) -> Unsubscribe:
        """What a token unsubscribes; refused when tampered with, malformed, expired, issued
        in the future, or for a channel or purpose c360 does not know."""
        now = now or dt.datetime.now(dt.UTC)
        values, issued = self._opened(token)
        if issued > now + MAX_CLOCK_SKEW:
            raise LinkRefused("this unsubscribe link is not valid (it was issued in the future)")
        if now - issued > self._max_age:
            raise LinkExpired(
                f"this unsubscribe link expired ({issued:%Y-%m-%d} + {self._max_age.days} days)"
            )
        return self._checked(values)

    def _opened(self, token: str) -> tuple[Any, dt.datetime]:
        padded = token + "=" * (-len(token) % 4)
        try:
            issued = self._fernet.extract_timestamp(padded)
            payload = self._fernet.decrypt(padded)
        except (InvalidToken, ValueError, binascii.Error):
            return self._opened_legacy(token)
        try:
            values = json.loads(payload)
        except ValueError as exc:
            raise LinkRefused("this unsubscribe link is not valid (unreadable)") from exc
        return values, dt.datetime.fromtimestamp(issued, dt.UTC)

    def _opened_legacy(self, token: str) -> tuple[Any, dt.datetime]:
        """A link signed (not encrypted) before links were encrypted."""
        try:
            values, signed_at = self._legacy.loads(token, return_timestamp=True)
        except BadSignature as exc:
            raise LinkRefused(
                "this unsubscribe link is not valid (its signature does not match)"
            ) from exc
        except BadData as exc:  # signed with the secret, but no JSON
            raise LinkRefused("this unsubscribe link is not valid (unreadable)") from exc
        return values, signed_at

    def _checked(self, values: Any) -> Unsubscribe:
        if (
            not isinstance(values, list)
            or len(values) != 4
            or not all(isinstance(v, str) for v in values[:3])
            or not isinstance(values[3], str | None)
        ):
            raise LinkRefused("this unsubscribe link is not valid (it does not say what it is for)")
        profile_id, channel, purpose, contact_point = values
        if channel not in {c.value for c in ContactChannel}:
            raise LinkRefused(f"this unsubscribe link names no known channel ({shown(channel)})")
        if self._purposes is not None and purpose not in self._purposes:
            raise LinkRefused(f"this unsubscribe link names no known purpose ({shown(purpose)})")
        return Unsubscribe(profile_id, channel, purpose, contact_point)
