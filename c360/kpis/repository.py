"""Every store query of the KPIs: the records of a span by kind and time (an index on both), the
orders refunds name, and counts of people by when they were last seen.

KPIs read the records themselves, not a copy kept for them: see the README's "KPIs" section for
why. A span's records of one kind are one index range; on a sharded cluster every shard holds
some (records are placed by profile), so these reads go to every shard on purpose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable

from c360.kpis.followups import FOLLOW_UP_FIELDS
from c360.store import Database, Document

_PAGE = 1000
PAYLOAD = {"profile_id": 1, "occurred_at": 1, "source": 1, "data": 1}
WHO_AND_WHEN = {"profile_id": 1, "occurred_at": 1}


class KpiRepository:
    def __init__(self, db: Database) -> None:
        self._records = db["records"]
        self._profiles = db["profiles"]
        self._follow_ups = db["follow_ups"]
        self._acks = db["feedback_acks"]

    async def records(
        self, kind: str, start: dt.datetime, end: dt.datetime, *, payload: bool = True
    ) -> AsyncIterator[Document]:
        """The records of ``kind`` that happened in ``[start, end)`` and belong to a profile
        (``payload``: with what they say, else only whose they are and when)."""
        query = {"kind": kind, "occurred_at": {"$gte": start, "$lt": end}}
        # Whole payloads: the embedded server returns nothing of a dotted projection.
        async for doc in self._records.find(query, PAYLOAD if payload else WHO_AND_WHEN):
            if "profile_id" in doc:  # a refund whose order has not arrived counts once linked
                yield doc

    async def orders(self, record_ids: Iterable[str]) -> dict[str, Document]:
        """Stored orders by record id (the orders of refunds, wherever they were placed)."""
        wanted = sorted(set(record_ids))
        found: dict[str, Document] = {}
        for start in range(0, len(wanted), _PAGE):
            query = {"_id": {"$in": wanted[start : start + _PAGE]}, "kind": "order"}
            async for doc in self._records.find(query, {"_id": 1, **PAYLOAD}):
                found[doc["_id"]] = doc
        return found

    async def churn(self, start_ms: int, end_ms: int, churned_ms: int) -> tuple[int, int]:
        """People who churned in ``[start, end)`` (last seen so far ``churned_ms`` before it,
        and seen before it began), and people active when it began (seen before it, and within
        ``churned_ms`` before it). Live profiles only: an absorbed one is its survivor."""
        live = {"merged_into": {"$exists": False}}
        churned = await self._profiles.count_documents(
            {
                "last_seen_ms": {"$gte": start_ms - churned_ms, "$lt": end_ms - churned_ms},
                "first_seen_ms": {"$lt": start_ms},
                **live,
            }
        )
        active = await self._profiles.count_documents(
            {
                "last_seen_ms": {"$gte": start_ms - churned_ms},
                "first_seen_ms": {"$lt": start_ms},
                **live,
            }
        )
        return churned, active

    async def follow_ups(self, start_ms: int, end_ms: int) -> AsyncIterator[Document]:
        """Follow-ups opened in ``[start, end)`` (the fields of :mod:`c360.kpis.followups`)."""
        query = {"opened_ms": {"$gte": start_ms, "$lt": end_ms}}
        async for doc in self._follow_ups.find(query, FOLLOW_UP_FIELDS):
            yield doc

    async def acknowledged(self, record_ids: Iterable[str]) -> dict[str, int]:
        """When each of these pieces of feedback was acknowledged (record id → epoch ms)."""
        wanted = sorted(set(record_ids))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), _PAGE):
            query = {"_id": {"$in": wanted[start : start + _PAGE]}}
            async for doc in self._acks.find(query, {"at_ms": 1}):
                found[doc["_id"]] = doc["at_ms"]
        return found
