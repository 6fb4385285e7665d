"""Console sessions: signing in with an API key, the session each request resumes, signing out.

A session is kept server-side: the browser holds only an opaque random token (in an HTTP-only
cookie), the store only the token's SHA-256, the key's id and a CSRF token. The API key itself
is checked once, at sign-in, and then never stored or sent again: every request finds the key
by its id and refuses it once revoked, so revoking a key ends its console sessions at once.

A session ends at the first of: ``ttl`` after sign-in (however active), ``idle`` after its last
request, sign-out, or its key's revocation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from c360.auth.service import (
    NOT_A_KEY,
    ApiKeyService,
    Caller,
    Forbidden,
    Permission,
    Unauthenticated,
    looks_like_key,
)
from c360.console.repository import SessionRepository, StoredSession

ACTIVITY_STEP_MS = 60_000
"""Last activity is written at most once a minute: a busy page costs no write per request."""


class CsrfRefused(Forbidden):
    """A change to the console's session or data without the page's own token."""


@dataclass(frozen=True)
class ConsoleSession:
    caller: Caller
    csrf_token: str
    expires_at: dt.datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class SessionService:
    def __init__(
        self,
        sessions: SessionRepository,
        keys: ApiKeyService,
        ttl: dt.timedelta,
        idle: dt.timedelta,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self.ttl = ttl
        self.idle = idle

    async def sign_in(self, api_key: str, now: dt.datetime) -> tuple[str, ConsoleSession]:
        """A new session for a key whose role reads profiles: (its token, the session).
        Refused (401) for an unknown or revoked key, 403 for a role without the GraphQL API."""
        key = api_key.strip()
        if not key:
            raise Unauthenticated("an API key is needed to sign in")
        if not looks_like_key(key):
            raise Unauthenticated(NOT_A_KEY)
        caller = await self._keys.authenticate(f"Bearer {key}")
        assert caller is not None  # a header was given
        if not caller.may(Permission.READ_PROFILES):
            raise Forbidden(f"{caller.role} keys cannot use the console: it reads profiles")
        await self._sessions.remove_ended(now)
        token = secrets.token_urlsafe(32)
        stored = StoredSession(
            token_hash=_hash(token),
            key_id=caller.key_id,
            csrf_token=secrets.token_urlsafe(32),
            created_ms=_ms(now),
            expires_ms=_ms(now + self.ttl),
            active_ms=_ms(now),
        )
        await self._sessions.add(stored, now + self.ttl)
        return token, ConsoleSession(caller, stored.csrf_token, now + self.ttl)

    async def resume(self, token: str | None, now: dt.datetime) -> ConsoleSession | None:
        """The live session a cookie's token names, its activity moved on; None when there is
        none: never issued, signed out, ended by time, or its key revoked."""
        if not token:
            return None
        stored = await self._sessions.get(_hash(token))
        now_ms = _ms(now)
        if stored is None or now_ms >= stored.expires_ms:
            return None
        if now_ms >= stored.active_ms + int(self.idle.total_seconds() * 1000):
            return None
        key = await self._keys.get(stored.key_id)
        if key is None or key.revoked_at is not None:
            return None
        if now_ms - stored.active_ms >= ACTIVITY_STEP_MS:
            await self._sessions.touch(stored.token_hash, stored.active_ms, now_ms)
        caller = Caller(key_id=stored.key_id, name=key.name, role=key.role)
        expires = dt.datetime.fromtimestamp(stored.expires_ms / 1000, dt.UTC)
        return ConsoleSession(caller, stored.csrf_token, expires)

    async def sign_out(self, token: str | None) -> None:
        if token:
            await self._sessions.remove(_hash(token))


def check_csrf(session: ConsoleSession, presented: str | None) -> None:
    """The token the console's page was given must come back with every change it makes."""
    if not presented or not hmac.compare_digest(presented.encode(), session.csrf_token.encode()):
        raise CsrfRefused("the console's CSRF token is missing or wrong: reload the page")
