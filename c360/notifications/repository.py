"""``outbox``: every notification to send, its delivery attempts and its fate.

An entry's ``_id`` is its idempotency key, derived from what it announces (a follow-up's event),
so writing it again changes nothing. A worker claims an entry by moving its next attempt time
forward in one conditional update (no two workers hold it at once; a worker that dies lets the
claim lapse and another tries again), then records the attempt and what follows.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from c360.store import Database, Document
from c360.store.bulk import find_each, insert_new

MAX_LOGGED_ERROR = 500


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _at(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # every attempt failed: an admin may retry it
    CANCELLED = "cancelled"  # what it announced was withdrawn before any attempt


@dataclass(frozen=True)
class Attempt:
    at: dt.datetime
    status_code: int | None  # None: no answer (refused, timed out)
    error: str | None
    seconds: float


@dataclass(frozen=True)
class Notification:
    id: str  # also the idempotency key the receiver sees
    follow_up_id: str
    event: int
    type: str
    team: str
    url: str
    body: str  # the exact bytes signed and sent, every attempt
    status: DeliveryStatus
    attempts: int
    next_at: dt.datetime
    created_at: dt.datetime
    delivered_at: dt.datetime | None = None
    log: tuple[Attempt, ...] = ()
    claim: str | None = None


def notification_doc(n: Notification) -> Document:
    return {
        "_id": n.id,
        "follow_up_id": n.follow_up_id,
        "event": n.event,
        "type": n.type,
        "team": n.team,
        "url": n.url,
        "body": n.body,
        "status": n.status.value,
        "attempts": n.attempts,
        "next_ms": _ms(n.next_at),
        "created_ms": _ms(n.created_at),
        "page_key": f"{_ms(n.created_at):013d}|{n.id}",
        "log": [],
    }


def _attempt(doc: Mapping[str, Any]) -> Attempt:
    return Attempt(_at(doc["at_ms"]), doc.get("status_code"), doc.get("error"), doc["seconds"])


def _notification(doc: Mapping[str, Any]) -> Notification:
    return Notification(
        id=doc["_id"],
        follow_up_id=doc["follow_up_id"],
        event=doc["event"],
        type=doc["type"],
        team=doc["team"],
        url=doc["url"],
        body=doc["body"],
        status=DeliveryStatus(doc["status"]),
        attempts=doc["attempts"],
        next_at=_at(doc["next_ms"]),
        created_at=_at(doc["created_ms"]),
        delivered_at=_at(doc["delivered_ms"]) if "delivered_ms" in doc else None,
        log=tuple(_attempt(a) for a in doc.get("log", ())),
        claim=doc.get("claim"),
    )


class OutboxRepository:
    def __init__(self, db: Database) -> None:
        self._outbox = db["outbox"]

    async def add(self, entries: Sequence[Notification]) -> None:
        """Write entries not written yet (an entry's id is its content's: a re-run adds none)."""
        await insert_new(self._outbox, [notification_doc(n) for n in entries])

    async def remove(self, ids: Iterable[str]) -> int:
        """Delete these entries, whatever their status; returns how many there were."""
        wanted = list(ids)
        if not wanted:
            return 0
        return (await self._outbox.delete_many({"_id": {"$in": wanted}})).deleted_count

    async def get(self, notification_id: str) -> Notification | None:
        doc = await self._outbox.find_one({"_id": notification_id})
        return None if doc is None else _notification(doc)

    async def due(self, now: dt.datetime, limit: int) -> list[Notification]:
        query = {"status": DeliveryStatus.PENDING.value, "next_ms": {"$lte": _ms(now)}}
        cursor = self._outbox.find(query).sort("next_ms", 1).limit(limit)
        return [_notification(doc) async for doc in cursor]

    async def claim(self, entry: Notification, token: str, until: dt.datetime) -> bool:
        """Take an entry for one attempt, unless another worker took it since it was read."""
        result = await self._outbox.update_one(
            {
                "_id": entry.id,
                "status": DeliveryStatus.PENDING.value,
                "next_ms": _ms(entry.next_at),
            },
            {"$set": {"next_ms": _ms(until), "claim": token}},
        )
        return result.matched_count == 1

    async def record(
        self,
        entry_id: str,
        token: str,
        attempt: Attempt,
        status: DeliveryStatus,
        next_at: dt.datetime,
    ) -> bool:
        """An attempt's outcome, by the worker that claimed the entry. The log is written
        whole: only the claim's holder writes it (and a ``$push`` of a document is stored as a
        string by the embedded development server)."""
        current = await self._outbox.find_one({"_id": entry_id, "claim": token}, {"log": 1})
        if current is None:
            return False
        logged: Document = {"at_ms": _ms(attempt.at), "seconds": round(attempt.seconds, 4)}
        if attempt.status_code is not None:
            logged["status_code"] = attempt.status_code
        if attempt.error is not None:
            logged["error"] = attempt.error[:MAX_LOGGED_ERROR]
        changes: Document = {
            "status": status.value,
            "next_ms": _ms(next_at),
            "log": [*current.get("log", []), logged],
        }
        if status is DeliveryStatus.DELIVERED:
            changes["delivered_ms"] = _ms(attempt.at)
        result = await self._outbox.update_one(
            {"_id": entry_id, "claim": token},
            {
                "$set": changes,
                "$inc": {"attempts": 1},
                "$unset": {"claim": ""},
            },
        )
        return result.matched_count == 1

    async def ids_of_follow_ups(self, follow_up_ids: Iterable[str]) -> list[str]:
        """The ids of every entry about these follow-ups, whatever their status."""
        docs = await find_each(self._outbox, "follow_up_id", follow_up_ids, None, {"_id": 1})
        return [doc["_id"] for doc in docs]

    async def cancel_unattempted(self, follow_up_id: str) -> tuple[int, int]:
        """Cancel a follow-up's entries no attempt was made of; returns (cancelled, others
        that were attempted or delivered)."""
        query = {"follow_up_id": follow_up_id}
        cancelled = attempted = 0
        async for doc in self._outbox.find(query, {"status": 1, "attempts": 1, "next_ms": 1}):
            if doc["status"] == DeliveryStatus.PENDING.value and doc["attempts"] == 0:
                result = await self._outbox.update_one(
                    {"_id": doc["_id"], "attempts": 0, "status": DeliveryStatus.PENDING.value},
                    {"$set": {"status": DeliveryStatus.CANCELLED.value}},
                )
                cancelled += result.modified_count
                attempted += 1 - result.modified_count
            elif doc["status"] != DeliveryStatus.CANCELLED.value:
                attempted += 1
        return cancelled, attempted

    async def page(
        self, status: DeliveryStatus | None, first: int, after: str | None
    ) -> tuple[list[tuple[str, Notification]], bool]:
        """Entries with their cursors, newest first."""
        query: Document = {} if status is None else {"status": status.value}
        if after is not None:
            query["page_key"] = {"$lt": after}
        cursor = self._outbox.find(query).sort("page_key", -1).limit(first + 1)
        docs = await cursor.to_list()
        return [(d["page_key"], _notification(d)) for d in docs[:first]], len(docs) > first

    async def counts(self) -> dict[str, int]:
        pipeline: list[Document] = [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]
        return {row["_id"]: row["n"] async for row in await self._outbox.aggregate(pipeline)}

    async def retry(self, ids: Iterable[str] | None, now: dt.datetime) -> int:
        """Dead entries (these, or all) back to pending, due now, with their attempts kept."""
        query: Document = {"status": DeliveryStatus.DEAD.value}
        if ids is not None:
            query["_id"] = {"$in": list(ids)}
        result = await self._outbox.update_many(
            query, {"$set": {"status": DeliveryStatus.PENDING.value, "next_ms": _ms(now)}}
        )
        return result.modified_count

    async def of_follow_up(self, follow_up_id: str) -> list[Notification]:
        cursor = self._outbox.find({"follow_up_id": follow_up_id}).sort("event", 1)
        return [_notification(doc) async for doc in cursor]
