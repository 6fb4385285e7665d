"""Queries on ``audit_log``: one document per request and profile it disclosed or changed.

``seq`` orders entries: the append time in zero-padded epoch microseconds and a random suffix
(``0001767225600000000-9f2c01ab``), one sortable string, so a page is one index range whether
it is filtered by profile, by key or not at all, and a time window is a range of the same key.
One document per profile (not a list of ids) keeps "who read this person" an equality on an
indexed field. ``at`` carries the TTL index that expires entries after the retention period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import DESCENDING

from c360.audit.types import Action, AuditEntry
from c360.store import Database, Document

SEQ_DIGITS = 19  # epoch microseconds, zero-padded: sortable as text until the year 318857


def seq_bound(instant: dt.datetime) -> str:
    """The first ``seq`` of an instant (a time window's bound); a naive one is UTC."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    micros = round(instant.timestamp() * 1_000_000)
    return f"{micros:0{SEQ_DIGITS}d}"


@dataclass(frozen=True)
class AuditQuery:
    profile_id: str | None = None
    key_id: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None  # inclusive


def _document(entry: AuditEntry) -> Document:
    doc: Document = {
        "seq": entry.seq,
        "at": entry.at,
        "key_id": entry.key_id,
        "key_name": entry.key_name,
        "role": entry.role,
        "action": entry.action.value,
        "operation": entry.operation,
        "what": list(entry.what),
    }
    # Absent, never null: the embedded store misses explicit nulls in queries.
    for name, value in (
        ("profile_id", entry.profile_id),
        ("detail", entry.detail),
        ("request_id", entry.request_id),
    ):
        if value is not None:
            doc[name] = value
    return doc


def _entry(doc: Document) -> AuditEntry:
    return AuditEntry(
        seq=doc["seq"],
        at=doc["at"],
        key_id=doc["key_id"],
        key_name=doc["key_name"],
        role=doc["role"],
        action=Action(doc["action"]),
        operation=doc.get("operation", ""),
        what=tuple(doc.get("what", ())),
        detail=doc.get("detail"),
        profile_id=doc.get("profile_id"),
        request_id=doc.get("request_id"),
    )


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self._log = db["audit_log"]
        self._db = db

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        if entries:
            await self._log.insert_many([_document(e) for e in entries], ordered=False)

    async def page(self, query: AuditQuery, after: str | None, limit: int) -> list[AuditEntry]:
        """Newest first: at most ``limit`` entries older than the cursor ``after`` (a seq)."""
        conditions: dict[str, Any] = {}
        for name in ("profile_id", "key_id", "action"):
            value = getattr(query, name)
            if value is not None:
                conditions[name] = value
        window: dict[str, str] = {}
        if query.since is not None:
            window["$gte"] = seq_bound(query.since)
        uppers = [after] if after is not None else []
        if query.until is not None:
            uppers.append(seq_bound(query.until + dt.timedelta(microseconds=1)))
        if uppers:
            window["$lt"] = min(uppers)
        if window:
            conditions["seq"] = window
        cursor = self._log.find(conditions, {"_id": 0}).sort("seq", DESCENDING).limit(limit)
        return [_entry(doc) for doc in await cursor.to_list()]

    async def prune(self, before: dt.datetime) -> int:
        """Removes entries appended before ``before``: what the TTL index does on MongoDB, for
        a store whose TTL monitor is late or absent."""
        result = await self._log.delete_many({"at": {"$lt": before}})
        return result.deleted_count

    async def keep_for(self, seconds: int) -> None:
        """The TTL index on ``at``; a changed retention is applied to the existing index."""
        for info in (await self._log.index_information()).values():
            if info["key"] == [("at", 1)]:
                if info.get("expireAfterSeconds") != seconds:
                    await self._db.command(
                        {
                            "collMod": self._log.name,
                            "index": {"keyPattern": {"at": 1}, "expireAfterSeconds": seconds},
                        }
                    )
                return
        await self._log.create_index("at", name="expiry", expireAfterSeconds=seconds)
