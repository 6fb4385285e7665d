"""The store queries of the KPIs beyond the customers' ledgers (which the metrics service reads):
orders refunds name that no ledger beside them holds, who was last seen when, follow-ups and
acknowledgements.

A report reads the ledgers of the people active in its span (see the README's "KPIs" for why),
not the records. On a sharded cluster the counts of people and a span's follow-ups go to every
shard on purpose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from c360.kpis.facts import OrderFact, order_fact
from c360.kpis.followups import FOLLOW_UP_FIELDS, StoredFollowUp, stored_follow_up
from c360.metrics.ledger import epoch_ms, order_entry
from c360.store import Database

_PAGE = 1000


class KpiRepository:
    def __init__(self, db: Database) -> None:
        self._records = db["records"]
        self._profiles = db["profiles"]
        self._follow_ups = db["follow_ups"]
        self._acks = db["feedback_acks"]

    async def orders(self, record_ids: Iterable[str]) -> dict[str, OrderFact]:
        """Stored orders by record id, wherever they were placed (a refund's order in another
        profile, or in none yet)."""
        wanted = sorted(set(record_ids))
        found: dict[str, OrderFact] = {}
        projection = {"profile_id": 1, "occurred_at": 1, "data": 1}
        for start in range(0, len(wanted), _PAGE):
            query = {"_id": {"$in": wanted[start : start + _PAGE]}, "kind": "order"}
            async for doc in self._records.find(query, projection):
                entry = order_entry(doc["_id"], epoch_ms(doc["occurred_at"]), doc["data"])
                found[doc["_id"]] = order_fact(doc.get("profile_id", ""), entry)
        return found

    async def last_seen(self, profile_ids: Iterable[str]) -> dict[str, int | None]:
        """When each of these live profiles was last seen (epoch ms; None: never); absorbed
        and unknown profiles are left out."""
        wanted = sorted(set(profile_ids))
        found: dict[str, int | None] = {}
        for start in range(0, len(wanted), _PAGE):
            query = {"_id": {"$in": wanted[start : start + _PAGE]}}
            async for doc in self._profiles.find(query, {"last_seen_ms": 1, "merged_into": 1}):
                if "merged_into" not in doc:
                    found[doc["_id"]] = doc.get("last_seen_ms")
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

    async def follow_ups(self, start_ms: int, end_ms: int) -> AsyncIterator[StoredFollowUp]:
        """Follow-ups opened in ``[start, end)`` (the fields of :mod:`c360.kpis.followups`)."""
        query = {"opened_ms": {"$gte": start_ms, "$lt": end_ms}}
        async for doc in self._follow_ups.find(query, FOLLOW_UP_FIELDS):
            yield stored_follow_up(doc)

    async def acknowledged(self, record_ids: Iterable[str]) -> dict[str, int]:
        """When each of these pieces of feedback was acknowledged (record id → epoch ms)."""
        wanted = sorted(set(record_ids))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), _PAGE):
            query = {"_id": {"$in": wanted[start : start + _PAGE]}}
            async for doc in self._acks.find(query, {"at_ms": 1}):
                found[doc["_id"]] = doc["at_ms"]
        return found
