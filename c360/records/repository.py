"""Queries on ``records``: one document per source record, ``_id`` = ``{source}:{kind}:{id}``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

from c360.store import Database, Document
from c360.store.bulk import duplicate_key_indexes, replace_value


@dataclass(frozen=True, slots=True)
class StoredRevision:
    revision: dt.datetime
    content_hash: str

    def older_than(self, other: StoredRevision) -> bool:
        """Revisions order by time; equal times by content hash, so every order converges."""
        return (self.revision, self.content_hash) < (other.revision, other.content_hash)


_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def timeline_key(occurred_at: dt.datetime, record_id: str) -> str:
    """Sorts like (occurred_at, record id): zero-padded microseconds since year 1, then the id.

    Digits rather than an ISO timestamp: the embedded server compares ISO-looking strings as
    dates, which breaks range queries on them.
    """
    micros = (occurred_at - _EPOCH) // dt.timedelta(microseconds=1)
    return f"{micros:018d}|{record_id}"


class RecordRepository:
    def __init__(self, db: Database) -> None:
        self._records = db["records"]

    async def revisions(self, record_ids: Iterable[str]) -> dict[str, StoredRevision]:
        wanted = list(set(record_ids))
        if not wanted:
            return {}
        cursor = self._records.find({"_id": {"$in": wanted}}, {"revision": 1, "content_hash": 1})
        return {
            doc["_id"]: StoredRevision(doc["revision"], doc["content_hash"]) async for doc in cursor
        }

    async def write(
        self, inserts: Sequence[Document], replaces: Sequence[tuple[Document, StoredRevision]]
    ) -> set[str]:
        """Insert new records and replace stored revisions, in one round trip.

        A replace applies only if the stored revision is still the one we read. Returns the ids
        whose write did not apply because another writer got there first; the caller re-reads.
        """
        ops: list[InsertOne[Document] | ReplaceOne[Document]] = [InsertOne(d) for d in inserts]
        ops += [
            ReplaceOne({"_id": doc["_id"], "content_hash": seen.content_hash}, doc)
            for doc, seen in replaces
        ]
        if not ops:
            return set()
        lost: set[str] = set()
        try:
            result = await self._records.bulk_write(ops, ordered=False)
            matched = result.matched_count
        except BulkWriteError as exc:
            # Inserts come first in ``ops``, and only they can meet an existing _id.
            lost = {inserts[index]["_id"] for index in duplicate_key_indexes(exc)}
            matched = exc.details.get("nMatched", 0)
        if matched < len(replaces):  # some replace lost a race: find out which
            wanted = {doc["_id"]: doc["content_hash"] for doc, _ in replaces}
            stored = await self.revisions(wanted)
            lost |= {rid for rid, h in wanted.items() if stored[rid].content_hash != h}
        return lost

    async def repoint(self, from_profile: str, to_profile: str) -> None:
        await replace_value(self._records, "profile_id", from_profile, to_profile)

    async def linked_by(self, profile_ids: Iterable[str], keys: Iterable[str]) -> list[str]:
        """Ids of these profiles' records that were linked through one of ``keys``."""
        query = {"profile_id": {"$in": list(profile_ids)}, "linked_by": {"$in": list(keys)}}
        cursor = self._records.find(query, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def assign(self, record_ids: Sequence[str], profile_id: str) -> None:
        for start in range(0, len(record_ids), 1000):
            await self._records.update_many(
                {"_id": {"$in": list(record_ids[start : start + 1000])}},
                {"$set": {"profile_id": profile_id}},
            )

    async def people_of(self, profile_ids: Iterable[str]) -> dict[str, list[Document]]:
        """Each profile's person record payloads, oldest first, in one round trip."""
        wanted = list(set(profile_ids))
        found: dict[str, list[Document]] = {p: [] for p in wanted}
        if wanted:
            cursor = self._records.find(
                {"profile_id": {"$in": wanted}, "kind": "person"},
                {"data": 1, "profile_id": 1, "timeline_key": 1},
            )
            docs = sorted([d async for d in cursor], key=lambda d: d["timeline_key"])
            for doc in docs:
                found[doc["profile_id"]].append(doc["data"])
        return found

    async def of_kind(self, profile_ids: Iterable[str], kind: str) -> dict[str, list[Document]]:
        """Each profile's records of one kind (what traits and consent are folded from)."""
        wanted = list(set(profile_ids))
        found: dict[str, list[Document]] = {p: [] for p in wanted}
        if wanted:
            projection = {"source": 1, "occurred_at": 1, "revision": 1, "data": 1, "profile_id": 1}
            query = {"profile_id": {"$in": wanted}, "kind": kind}
            async for doc in self._records.find(query, projection):
                found[doc["profile_id"]].append(doc)
        return found

    async def count_of(self, profile_id: str) -> int:
        return await self._records.count_documents({"profile_id": profile_id})

    async def span(self, profile_id: str) -> tuple[dt.datetime, dt.datetime] | None:
        """The earliest and latest occurred_at of the profile's records (two index reads)."""
        query = {"profile_id": profile_id}
        first = await self._records.find_one(query, {"occurred_at": 1}, sort=[("timeline_key", 1)])
        last = await self._records.find_one(query, {"occurred_at": 1}, sort=[("timeline_key", -1)])
        if first is None or last is None:
            return None
        return first["occurred_at"], last["occurred_at"]

    async def unlinked_returns(self, order_ids: Iterable[str]) -> list[Document]:
        """Returns stored before their order (``{source}:order:{id}`` ids) and still unlinked."""
        by_source: dict[str, list[str]] = {}
        for order_id in order_ids:
            source, _, external_id = order_id.partition(":order:")
            by_source.setdefault(source, []).append(external_id)
        found: list[Document] = []
        for source, external_ids in by_source.items():
            cursor = self._records.find(
                {
                    "data.order_external_id": {"$in": external_ids},
                    "kind": "return",
                    "source": source,
                    "profile_id": {"$exists": False},
                },
                {"occurred_at": 1, "source": 1, "data": 1},
            )
            found += await cursor.to_list()
        return found

    async def link(self, links: Mapping[str, tuple[str, str]]) -> None:
        """Link records that have no profile yet: record id → (profile id, linked_by)."""
        if links:
            await self._records.bulk_write(
                [
                    UpdateOne(
                        {"_id": record_id, "profile_id": {"$exists": False}},
                        {"$set": {"profile_id": profile_id, "linked_by": linked_by}},
                    )
                    for record_id, (profile_id, linked_by) in links.items()
                ],
                ordered=False,
            )

    async def profile_of(self, record_ids: Iterable[str]) -> dict[str, str]:
        """Record id → profile id, for the given records that are stored and linked."""
        wanted = list(set(record_ids))
        if not wanted:
            return {}
        cursor = self._records.find(
            {"_id": {"$in": wanted}, "profile_id": {"$exists": True}}, {"profile_id": 1}
        )
        return {doc["_id"]: doc["profile_id"] async for doc in cursor}

    async def timeline(
        self,
        profile_id: str,
        *,
        limit: int,
        before_key: str | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[Document]:
        """A profile's records, newest first: ``limit`` of them older than ``before_key``."""
        query: Document = {"profile_id": profile_id}
        if kinds:
            query["kind"] = {"$in": list(kinds)}
        if before_key is not None:
            query["timeline_key"] = {"$lt": before_key}
        cursor = self._records.find(query).sort("timeline_key", -1).limit(limit)
        return await cursor.to_list()
