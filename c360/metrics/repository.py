"""Queries on ``profile_metrics``: one aggregate per profile (``_id`` = the profile id)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pymongo import ReplaceOne, UpdateOne
from pymongo.errors import DuplicateKeyError

from c360.store import Database, Document


class MetricsRepository:
    """``profile_metrics``: one aggregate per profile, replaced under a version check.

    ``pending`` lists the ingest batches that announced records for the profile and have not
    folded them in yet; ``pending_since_ms`` is the oldest of them (what a restart looks for).
    """

    def __init__(self, db: Database) -> None:
        self._metrics = db["profile_metrics"]

    async def announce(self, profile_ids: Iterable[str], token: str, at_ms: int) -> None:
        """Mark these profiles as awaiting a batch's records (one round trip)."""
        wanted = sorted(set(profile_ids))
        if not wanted:
            return
        await self._metrics.bulk_write(
            [
                UpdateOne(
                    {"_id": profile_id},
                    {
                        "$addToSet": {"pending": token},
                        "$inc": {"version": 1},
                        "$min": {"pending_since_ms": at_ms},
                    },
                    upsert=True,
                )
                for profile_id in wanted
            ],
            ordered=False,
        )

    async def get_many(self, profile_ids: Iterable[str]) -> dict[str, Document]:
        wanted = list(set(profile_ids))
        if not wanted:
            return {}
        return {doc["_id"]: doc async for doc in self._metrics.find({"_id": {"$in": wanted}})}

    async def replace_all(self, docs: Sequence[tuple[Document, int]]) -> int:
        """Replace each doc if its stored version is still the given one; how many were."""
        if not docs:
            return 0
        result = await self._metrics.bulk_write(
            [ReplaceOne({"_id": doc["_id"], "version": version}, doc) for doc, version in docs],
            ordered=False,
        )
        return result.matched_count

    async def create(self, doc: Document) -> bool:
        try:
            await self._metrics.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def delete(self, profile_id: str, version: int) -> bool:
        result = await self._metrics.delete_one({"_id": profile_id, "version": version})
        return result.deleted_count == 1

    async def stale(self, before_ms: int) -> list[str]:
        """Profiles with batches announced before ``before_ms`` and never folded in."""
        query = {"pending_since_ms": {"$lt": before_ms}}
        return [doc["_id"] async for doc in self._metrics.find(query, {"_id": 1})]

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
