"""Queries on ``profile_metrics``: one aggregate per profile (``_id`` = the profile id), each
write conditional on the version read, so concurrent writers never lose each other's work.

Beside the aggregate, in the same document and so written with it, the profile's ledger
(:mod:`c360.metrics.ledger`) with a summary of the aggregate, and the days the ledger has
entries on (``ledger_days``, a multikey index): what reports across customers read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field

from pymongo import DeleteOne, ReplaceOne

from c360.metrics.aggregate import Aggregate
from c360.metrics.documents import (
    aggregate_doc,
    aggregate_of,
    ledger_doc,
    ledger_of,
    summary_doc,
    summary_of,
)
from c360.metrics.figures import Summary
from c360.metrics.ledger import Ledger
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
    summary: Summary = field(default_factory=Summary)


@dataclass(frozen=True, slots=True)
class StoredLedger:
    """A profile's ledger and the summary of its aggregate, as reports read them."""

    profile_id: str
    ledger: Ledger
    summary: Summary


_WITH_LEDGER = {"version": 1, "agg": 1, "ledger": 1}
_WITHOUT_LEDGER = {"version": 1, "agg": 1}
_LEDGER = {"ledger": 1}
_PAGE = 1000


class MetricsRepository:
    def __init__(self, db: Database) -> None:
        self._metrics = db["profile_metrics"]

    async def get_many(
        self, profile_ids: Iterable[str], *, ledger: bool = False
    ) -> dict[str, StoredAggregate]:
        """The stored aggregates; with their ledgers when ``ledger`` (what a write that folds
        into them needs: one read without would write the ledger back empty)."""
        wanted = list(set(profile_ids))
        if not wanted:
            return {}
        projection = _WITH_LEDGER if ledger else _WITHOUT_LEDGER
        cursor = self._metrics.find({"_id": {"$in": wanted}}, projection, batch_size=WHOLE_BATCH)
        return {
            doc["_id"]: StoredAggregate(
                doc["_id"],
                doc.get("version", 0),
                aggregate_of(doc.get("agg"), (doc.get("ledger") or {}) if ledger else None),
            )
            async for doc in cursor
        }

    async def write(self, writes: Sequence[AggregateWrite]) -> set[str]:
        """Create or replace aggregates, each only if the stored version is still the expected
        one (the creations and the replacements in flight together); returns the profiles whose
        write another writer's came before (what is stored is not what was to be written)."""
        inserts: list[Document] = []
        replaces: list[ReplaceOne[Document]] = []
        written: list[Document] = []
        for write in writes:
            ledger = write.aggregate.ledger
            doc: Document = {
                "_id": write.profile_id,
                "version": (write.expected or 0) + 1,
                "agg": aggregate_doc(write.aggregate),
                "ledger": {**ledger_doc(ledger), "summary": summary_doc(write.summary)},
                "ledger_days": ledger.days(),
            }
            if write.ltv_reporting is not None:  # the sparse index holds only those with value
                doc["ltv_reporting"] = write.ltv_reporting
            written.append(doc)
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
        if len(inserts) - len(taken) + replaced == len(writes):
            return set()
        # Some did not land; which, the store says (a write counts only when its version and
        # what it wrote are both stored).
        wanted = {doc["_id"]: doc for doc in written}
        stored = self._metrics.find({"_id": {"$in": sorted(wanted)}}, batch_size=WHOLE_BATCH)
        landed = {
            doc["_id"]
            async for doc in stored
            if all(doc.get(k) == v for k, v in wanted[doc["_id"]].items())
        }
        return set(wanted) - landed

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
        """The reporting-currency LTV at each percentile among buyers (positive LTV).

        Read often (every evaluation of alert rules that read tiers), so by the ``ltv`` index
        alone: the buyers counted by a ``$count`` (``count_documents`` groups with ``$sum``,
        which the embedded server does document by document), and each value found by walking
        the index from its nearer end, without reading a document."""
        buyers = {"ltv_reporting": {"$gt": 0}}
        pipeline: list[Document] = [{"$match": buyers}, {"$count": "n"}]
        counted = await (await self._metrics.aggregate(pipeline)).to_list()
        total = int(counted[0]["n"]) if counted else 0
        cutoffs = []
        for percentile in percentiles:
            position = min(int(percentile * total), max(total - 1, 0))
            from_top = max(total - 1 - position, 0)
            direction, skip = (-1, from_top) if from_top < position else (1, position)
            cursor = self._metrics.find(buyers, {"ltv_reporting": 1, "_id": 0})
            found = await cursor.sort("ltv_reporting", direction).skip(skip).limit(1).to_list()
            cutoffs.append(found[0]["ltv_reporting"] if found else 0)
        return cutoffs

    async def ledgers_on(self, first_day: int, last_day: int) -> AsyncIterator[StoredLedger]:
        """The ledgers with an entry on a day of ``[first_day, last_day]`` (UTC epoch day
        numbers): one range of the multikey index. Every shard holds some, so every shard is
        asked, on purpose."""
        query = {"ledger_days": {"$elemMatch": {"$gte": first_day, "$lte": last_day}}}
        async for doc in self._metrics.find(query, _LEDGER):
            yield _stored_ledger(doc)

    async def ledgers(self, profile_ids: Iterable[str]) -> list[StoredLedger]:
        """These profiles' ledgers (those that have one), a page of ids per round trip."""
        wanted = sorted(set(profile_ids))
        found: list[StoredLedger] = []
        for start in range(0, len(wanted), _PAGE):
            query = {"_id": {"$in": wanted[start : start + _PAGE]}}
            found += [_stored_ledger(doc) async for doc in self._metrics.find(query, _LEDGER)]
        return found

    async def all_ids(self) -> list[str]:
        return [doc["_id"] async for doc in self._metrics.find({}, {"_id": 1})]


def _stored_ledger(doc: Document) -> StoredLedger:
    ledger = doc.get("ledger") or {}
    return StoredLedger(doc["_id"], ledger_of(ledger), summary_of(ledger.get("summary")))
