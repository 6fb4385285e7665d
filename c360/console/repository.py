"""Queries on ``console_sessions``: one document per signed-in console, by the SHA-256 of its
session token (the token itself lives only in the browser's cookie).

Times the session is checked against are epoch milliseconds (integers: what every store
updates faithfully); ``expires_at``, a date written once at sign-in, carries the TTL index that
removes ended sessions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from c360.store import Database


@dataclass(frozen=True)
class StoredSession:
    token_hash: str
    key_id: str
    csrf_token: str
    created_ms: int
    expires_ms: int
    active_ms: int  # the last request, to the minute (see SessionService)


class SessionRepository:
    def __init__(self, db: Database) -> None:
        self._sessions = db["console_sessions"]

    async def add(self, session: StoredSession, expires_at: dt.datetime) -> None:
        await self._sessions.insert_one(
            {
                "_id": session.token_hash,
                "key_id": session.key_id,
                "csrf": session.csrf_token,
                "created_ms": session.created_ms,
                "expires_ms": session.expires_ms,
                "active_ms": session.active_ms,
                "expires_at": expires_at,
            }
        )

    async def get(self, token_hash: str) -> StoredSession | None:
        doc = await self._sessions.find_one({"_id": token_hash})
        if doc is None:
            return None
        return StoredSession(
            token_hash=doc["_id"],
            key_id=doc["key_id"],
            csrf_token=doc["csrf"],
            created_ms=doc["created_ms"],
            expires_ms=doc["expires_ms"],
            active_ms=doc["active_ms"],
        )

    async def touch(self, token_hash: str, seen_ms: int, now_ms: int) -> None:
        """Moves the last activity on, unless another request did meanwhile."""
        await self._sessions.update_one(
            {"_id": token_hash, "active_ms": seen_ms}, {"$set": {"active_ms": now_ms}}
        )

    async def remove(self, token_hash: str) -> None:
        await self._sessions.delete_one({"_id": token_hash})

    async def remove_ended(self, before: dt.datetime) -> int:
        """Sessions past their absolute end: what the TTL index removes on MongoDB, for a
        store whose TTL monitor is late or absent."""
        result = await self._sessions.delete_many({"expires_at": {"$lt": before}})
        return result.deleted_count
