"""Signed one-click unsubscribe links (RFC 8058) and their tokens.

A link carries what it unsubscribes (profile, channel, contact point, purpose) signed with the
deployment's secret and timestamped (``itsdangerous``): a changed character or an expired link
is refused, and nothing needs storing to check one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from c360.errors import InvalidInput

_SALT = "c360.unsubscribe"


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


class LinkSigner:
    def __init__(self, secret: str, max_age: dt.timedelta) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._max_age = max_age

    def sign(self, what: Unsubscribe) -> str:
        return self._serializer.dumps(
            [what.profile_id, what.channel, what.purpose, what.contact_point]
        )

    def read(self, token: str, now: dt.datetime | None = None) -> Unsubscribe:
        try:
            values, signed_at = self._serializer.loads(token, return_timestamp=True)
        except BadSignature as exc:
            raise LinkRefused(
                "this unsubscribe link is not valid (its signature does not match)"
            ) from exc
        if (now or dt.datetime.now(dt.UTC)) - signed_at > self._max_age:
            raise LinkExpired(
                f"this unsubscribe link expired ({signed_at:%Y-%m-%d} + {self._max_age.days} days)"
            )
        profile_id, channel, purpose, contact_point = values
        return Unsubscribe(profile_id, channel, purpose, contact_point)
