"""Queries on ``profile_metrics``: one aggregate per profile (``_id`` = the profile id), each
write conditional on the version read, so concurrent writers never lose each other's work."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pymongo import DeleteOne, ReplaceOne

from c360.metrics.aggregate import Aggregate
from c360.store import Database, Document
from c360.store.bulk import WHOLE_BATCH, insert_new


@dataclass(frozen=True, slots=True)
class StoredAggregate:
    """A profile's stored aggregate and its version (raised by every write)."""

    profile_id: str
    version: int
    aggregate: Aggregate


@dataclass(frozen=True, slots=True)
class AggregateWrite:
    """A profile's new aggregate, written only if the stored one is still at ``expected``
    (None: only if there is none); ``ltv_reporting`` is its lifetime value in the reporting
    currency (what value tiers rank; None for a profile with no value at all)."""

    profile_id: str
    aggregate: Aggregate
    expected: int | None
    ltv_reporting: int | None = None


class MetricsRepository:
    def __init__(self, db: Database) -> None:
        self._metrics = db["profile_metrics"]

    async def get_many(self, profile_ids: Iterable[str]) -> dict[str, StoredAggregate]:
        wanted = list(set(profile_ids))
        if not wanted:
            return {}
        projection = {"version": 1, "agg": 1}
        cursor = self._metrics.find({"_id": {"$in": wanted}}, projection, batch_size=WHOLE_BATCH)
        return {
            doc["_id"]: StoredAggregate(
                doc["_id"], doc.get("version", 0), Aggregate.from_doc(doc.get("agg"))
            )
            async for doc in cursor
        }

    async def write(self, writes: Sequence[AggregateWrite]) -> int:
        """Create or replace aggregates, each only if the stored version is still the expected
        one (the creations and the replacements in flight together); returns how many were
        written."""
        inserts: list[Document] = []
        replaces: list[ReplaceOne[Document]] = []
        for write in writes:
            doc: Document = {
                "_id": write.profile_id,
                "version": (write.expected or 0) + 1,
                "agg": write.aggregate.to_doc(),
            }
            if write.ltv_reporting is not None:  # the sparse index holds only those with value
                doc["ltv_reporting"] = write.ltv_reporting
            if write.expected is None:
                inserts.append(doc)
            else:
                expected = {"_id": write.profile_id, "version": write.expected}
                replaces.append(ReplaceOne(expected, doc))

        async def replace() -> int:
            if not replaces:
                return 0
            return (await self._metrics.bulk_write(replaces, ordered=False)).matched_count

        # Another writer created some first: insert_new returns those, and raises on any other
        # error.
        taken, replaced = await asyncio.gather(insert_new(self._metrics, inserts), replace())
        return len(inserts) - len(taken) + replaced

    async def delete(self, stored: Sequence[StoredAggregate]) -> int:
        """Remove these aggregates if still at the version read; returns how many were."""
        if not stored:
            return 0
        result = await self._metrics.bulk_write(
            [DeleteOne({"_id": s.profile_id, "version": s.version}) for s in stored],
            ordered=False,
        )
        return result.deleted_count

    async def ltv_cutoffs(self, percentiles: Sequence[float]) -> list[int]:
        """The reporting-currency LTV at each percentile among buyers (positive LTV)."""
        buyers = {"ltv_reporting": {"$gt": 0}}
        total = await self._metrics.count_documents(buyers)
        cutoffs = []
        for percentile in percentiles:
            position = min(int(percentile * total), max(total - 1, 0))
            cursor = self._metrics.find(buyers, {"ltv_reporting": 1})
            found = await cursor.sort("ltv_reporting", 1).skip(position).limit(1).to_list()
            cutoffs.append(found[0]["ltv_reporting"] if found else 0)
        return cutoffs

    async def all_ids(self) -> list[str]:
        return [doc["_id"] async for doc in self._metrics.find({}, {"_id": 1})]
