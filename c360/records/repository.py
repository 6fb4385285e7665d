"""Queries on ``records``: one document per source record, ``_id`` = ``{source}:{kind}:{id}``.

What profiles, contact and the API read comes back as :class:`Record`; the ingest pipeline and
merges, which write the documents they read (``records.documents``), get documents.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection

from c360.records.documents import RECORD_FIELDS, stated, stored_record, timeline_key
from c360.records.types import Record, StoredRevision
from c360.store import Database, Document
from c360.store.bulk import WHOLE_BATCH, find_each, insert_new

_MOVES_IN_FLIGHT = 32
_REPOINT_PAGE = 1000

# Records that say nothing of the customer being active: what we sent them, and what a mail
# server said of an address. They do not move first/last seen (nor, so, recency).
NOT_ACTIVITY = ("outbound_contact", "contact_point_status")


def _stored(doc: Document, seen: StoredRevision) -> Document:
    """The stored revision ``seen`` of ``doc``, by its whole shard key: it is replaced only if
    still there (None matches a record no profile holds: the field is missing)."""
    return {"_id": doc["_id"], "profile_id": seen.profile_id, "content_hash": seen.content_hash}


@dataclass(frozen=True)
class TimelineQuery:
    """One page of a profile's timeline: ``limit`` records older than ``before_key``, of some
    kinds, that happened between ``since`` and ``until`` (inclusive)."""

    profile_id: str
    limit: int
    before_key: str | None = None
    kinds: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def filter(self) -> Document:
        query: Document = {"profile_id": self.profile_id}
        if self.kinds:
            query["kind"] = {"$in": list(self.kinds)}
        keys: Document = {}
        upper = [self.before_key] if self.before_key is not None else []
        if self.until is not None:
            upper.append(timeline_key(self.until, "\uffff"))
        if upper:
            keys["$lt"] = min(upper)
        if self.since is not None:
            keys["$gte"] = timeline_key(self.since, "")
        if keys:
            query["timeline_key"] = keys
        return query


async def held_records(
    records: AsyncCollection[Document], wanted: Mapping[str, Iterable[str]]
) -> dict[tuple[str, str], Record]:
    """Records by id, each of the profile that holds it: profile id → record ids. Returns
    (profile id, record id) → stored record, for those that profile holds; one query (by the
    shard key's ``$in``: the shards of these profiles only)."""
    asked = {p: set(ids) for p, ids in wanted.items() if ids}
    if not asked:
        return {}
    query = {
        "profile_id": {"$in": sorted(asked)},
        "_id": {"$in": sorted(set().union(*asked.values()))},
    }
    cursor = records.find(query, RECORD_FIELDS, batch_size=WHOLE_BATCH)
    return {
        (doc["profile_id"], doc["_id"]): stored_record(doc)
        async for doc in cursor
        if doc["_id"] in asked.get(doc["profile_id"], ())
    }


class RecordRepository:
    def __init__(self, db: Database) -> None:
        self._records = db["records"]

    async def get(self, record_id: str) -> Record | None:
        doc = await self._records.find_one({"_id": record_id}, RECORD_FIELDS)
        return None if doc is None else stored_record(doc)

    async def revisions(self, record_ids: Iterable[str]) -> dict[str, StoredRevision]:
        wanted = list(set(record_ids))
        if not wanted:
            return {}
        projection = {"revision": 1, "content_hash": 1, "profile_id": 1, "batch": 1, "stated": 1}
        cursor = self._records.find({"_id": {"$in": wanted}}, projection, batch_size=WHOLE_BATCH)
        docs = [doc async for doc in cursor]
        # Stored before the count was kept: counted as it stands, so that every revision
        # compares by count (a mixed order, some by hash alone, was no order at all).
        uncounted = [doc["_id"] for doc in docs if doc.get("stated") is None]
        if uncounted:
            counting = {"data": 1, "identifiers": 1}
            found = self._records.find(
                {"_id": {"$in": uncounted}}, counting, batch_size=WHOLE_BATCH
            )
            counts = {
                doc["_id"]: stated(doc.get("data", {})) + len(doc.get("identifiers", []))
                async for doc in found
            }
        else:
            counts = {}
        return {
            doc["_id"]: StoredRevision(
                doc["revision"],
                doc["content_hash"],
                doc.get("profile_id"),
                doc.get("batch"),
                doc.get("stated", counts.get(doc["_id"])),
            )
            for doc in docs
        }

    async def get_many(self, record_ids: Iterable[str]) -> list[Document]:
        wanted = list(set(record_ids))
        if not wanted:
            return []
        return await self._records.find({"_id": {"$in": wanted}}, batch_size=WHOLE_BATCH).to_list()

    async def write(
        self, inserts: Sequence[Document], replaces: Sequence[tuple[Document, StoredRevision]]
    ) -> set[str]:
        """Insert new records and replace stored revisions: the inserts, the replaces and each
        replace of a revision that moves to another profile are commands of their own, in flight
        together (a round trip's wait for all of them).

        A replace applies only if the stored revision is still the one we read, where we read
        it. Returns the ids whose write did not apply because another writer got there first
        (or removed the record); the caller re-reads.
        """
        staying = [
            (doc, seen) for doc, seen in replaces if doc.get("profile_id") == seen.profile_id
        ]
        moving = [(doc, seen) for doc, seen in replaces if doc.get("profile_id") != seen.profile_id]

        async def replace_staying() -> int:
            if not staying:
                return 0
            ops = [ReplaceOne(_stored(doc, seen), doc) for doc, seen in staying]
            return (await self._records.bulk_write(ops, ordered=False)).matched_count

        async def replace_moving() -> int:
            # A revision now linked to another profile may belong on another shard: see _move.
            matched = 0
            for start in range(0, len(moving), _MOVES_IN_FLIGHT):
                results = await asyncio.gather(
                    *(
                        self._records.replace_one(_stored(doc, seen), doc)
                        for doc, seen in moving[start : start + _MOVES_IN_FLIGHT]
                    )
                )
                matched += sum(r.matched_count for r in results)
            return matched

        lost, matched_staying, matched_moving = await asyncio.gather(
            insert_new(self._records, inserts), replace_staying(), replace_moving()
        )
        if matched_staying + matched_moving < len(replaces):  # some lost a race: which
            wanted = {doc["_id"]: doc["content_hash"] for doc, _ in replaces}
            stored = await self.revisions(wanted)
            # Another revision written, or the record removed meanwhile (an erasure, retention)
            lost |= {
                rid
                for rid, h in wanted.items()
                if rid not in stored or stored[rid].content_hash != h
            }
        return lost

    async def repoint(self, moves: Mapping[str, str]) -> None:
        """Move every record of each profile to another (merges: absorbed → survivor), page
        after page (a short page is the last)."""
        if not moves:
            return
        projection = {"_id": 1, "profile_id": 1}
        while found := await find_each(
            self._records, "profile_id", moves, None, projection, limit=_REPOINT_PAGE, spread=True
        ):
            await self._move(
                [(d["_id"], d["profile_id"], {"profile_id": moves[d["profile_id"]]}) for d in found]
            )
            if len(found) < _REPOINT_PAGE:
                return

    async def _move(self, moves: Sequence[tuple[str, str | None, Document]]) -> None:
        """Give records another profile: (record id, its profile now or None, the fields to set).

        The profile id leads the shard key, so a record may move to another shard, which
        MongoDB does only for a write naming the whole key (profile id and _id) alone in its
        command: one update per record, a few in flight at a time.
        """

        async def move(record_id: str, current: str | None, changes: Document) -> None:
            await self._records.update_one(
                {"_id": record_id, "profile_id": current}, {"$set": changes}
            )

        for start in range(0, len(moves), _MOVES_IN_FLIGHT):
            await asyncio.gather(*(move(*m) for m in moves[start : start + _MOVES_IN_FLIGHT]))

    async def linked_by(self, profile_ids: Iterable[str], keys: Iterable[str]) -> dict[str, str]:
        """These profiles' records that were linked through one of ``keys``: id → profile."""
        query = {"linked_by": {"$in": list(keys)}}
        projection = {"_id": 1, "profile_id": 1}
        docs = await find_each(
            self._records, "profile_id", profile_ids, query, projection, spread=True
        )
        return {doc["_id"]: doc["profile_id"] for doc in docs}

    async def assign(self, records: Mapping[str, str], profile_id: str) -> None:
        """Give records (id → the profile holding it now) to ``profile_id`` (an unmerge)."""
        await self._move(
            [
                (rid, now, {"profile_id": profile_id})
                for rid, now in records.items()
                if now != profile_id
            ]
        )

    async def people_of(self, profile_ids: Iterable[str]) -> dict[str, list[Document]]:
        """Each profile's person record payloads, oldest first, in one round trip."""
        people = await self.of_kind(profile_ids, "person")
        return {
            p: [dict(r.payload) for r in sorted(records, key=lambda r: r.position)]
            for p, records in people.items()
        }

    async def of_kind(self, profile_ids: Iterable[str], kind: str) -> dict[str, list[Record]]:
        """Each profile's records of one kind (what traits and consent are folded from)."""
        wanted = list(set(profile_ids))
        found: dict[str, list[Record]] = {p: [] for p in wanted}
        query = {"kind": kind}
        docs = await find_each(
            self._records, "profile_id", wanted, query, RECORD_FIELDS, spread=True
        )
        for doc in docs:
            found[doc["profile_id"]].append(stored_record(doc))
        return found

    async def held(self, wanted: Mapping[str, Iterable[str]]) -> dict[tuple[str, str], Record]:
        """Records by id, each of the profile that holds it (see :func:`held_records`)."""
        return await held_records(self._records, wanted)

    async def of_profiles(self, profile_ids: Iterable[str]) -> dict[str, list[Document]]:
        """Every record of each profile, with what metrics are computed from (one round trip
        for up to 32 profiles)."""
        found: dict[str, list[Document]] = {p: [] for p in profile_ids}
        projection = {"profile_id": 1, "kind": 1, "source": 1, "occurred_at": 1, "data": 1}
        for doc in await find_each(
            self._records, "profile_id", found, None, projection, spread=True
        ):
            found[doc["profile_id"]].append(doc)
        return found

    async def cases(
        self, profile_ids: Sequence[str], *, closed: bool, limit: int
    ) -> dict[str, list[Record]]:
        """Each profile's latest service cases, closed or not, in one round trip.

        One ``$unionWith`` branch per profile, each an index walk of that profile's timeline.
        """
        statuses = ["solved", "closed"]
        status = {"$in": statuses} if closed else {"$nin": statuses}

        def branch(profile_id: str) -> list[Document]:
            return [
                {
                    "$match": {
                        "profile_id": profile_id,
                        "kind": "service_case",
                        "data.status": status,
                    }
                },
                {"$sort": {"timeline_key": -1}},
                {"$limit": limit},
            ]

        found: dict[str, list[Record]] = {p: [] for p in profile_ids}
        if not profile_ids:
            return found
        first, *rest = dict.fromkeys(profile_ids)
        pipeline = branch(first) + [
            {"$unionWith": {"coll": self._records.name, "pipeline": branch(p)}} for p in rest
        ]
        async for doc in await self._records.aggregate(pipeline):
            found[doc["profile_id"]].append(stored_record(doc))
        return found

    async def count_of(self, profile_id: str) -> int:
        return await self._records.count_documents({"profile_id": profile_id})

    async def span(self, profile_id: str) -> tuple[dt.datetime, dt.datetime] | None:
        """The earliest and latest occurred_at of the profile's own activity (two index walks)."""
        query = {"profile_id": profile_id, "kind": {"$nin": list(NOT_ACTIVITY)}}
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
            # null matches the missing field, and routes to where unlinked records are.
            query = {"kind": "return", "source": source, "profile_id": None}
            found += await find_each(
                self._records,
                "data.order_external_id",
                external_ids,
                query,
                {"occurred_at": 1, "source": 1, "data": 1},
            )
        return found

    async def link(self, links: Mapping[str, tuple[str, str]]) -> None:
        """Link records that have no profile yet: record id → (profile id, linked_by)."""
        await self._move(
            [
                (record_id, None, {"profile_id": profile_id, "linked_by": linked_by})
                for record_id, (profile_id, linked_by) in links.items()
            ]
        )

    async def profile_of(self, record_ids: Iterable[str]) -> dict[str, str]:
        """Record id → profile id, for the given records that are stored and linked."""
        wanted = list(set(record_ids))
        if not wanted:
            return {}
        cursor = self._records.find(
            {"_id": {"$in": wanted}, "profile_id": {"$exists": True}},
            {"profile_id": 1},
            batch_size=WHOLE_BATCH,
        )
        return {doc["_id"]: doc["profile_id"] async for doc in cursor}

    async def order_currencies(self, record_ids: Iterable[str]) -> dict[str, str]:
        """Order record id → its currency, for the given orders that are stored."""
        wanted = list(set(record_ids))
        if not wanted:
            return {}
        # The whole payload: the embedded server returns nothing of a dotted projection.
        query = {"_id": {"$in": wanted}, "kind": "order"}
        cursor = self._records.find(query, {"data": 1}, batch_size=WHOLE_BATCH)
        return {doc["_id"]: doc["data"]["total"]["currency"] async for doc in cursor}

    async def timelines(self, queries: Sequence[TimelineQuery]) -> list[list[Record]]:
        """Pages of several timelines, newest first, in one round trip.

        Each query is one ``$unionWith`` branch (an index walk of ``timeline``), tagged so its
        records come back to it; a single query is a plain find.
        """
        if not queries:
            return []
        if len(queries) == 1:
            query = queries[0]
            cursor = self._records.find(query.filter(), RECORD_FIELDS).sort("timeline_key", -1)
            return [[stored_record(doc) for doc in await cursor.limit(query.limit).to_list()]]

        def branch(index: int) -> list[Document]:
            query = queries[index]
            return [
                {"$match": query.filter()},
                {"$sort": {"timeline_key": -1}},
                {"$limit": query.limit},
                {"$addFields": {"_branch": index}},
            ]

        pipeline = branch(0) + [
            {"$unionWith": {"coll": self._records.name, "pipeline": branch(i)}}
            for i in range(1, len(queries))
        ]
        pages: list[list[Record]] = [[] for _ in queries]
        async for doc in await self._records.aggregate(pipeline):
            pages[doc["_branch"]].append(stored_record(doc))
        for page in pages:  # the union keeps each branch's order; be explicit anyway
            page.sort(key=lambda r: r.position, reverse=True)
        return pages
