"""Queries on ``dead_letters`` (every rejected input item, with its raw text and the reason)
and on ``ingest_batches`` (the journal of batches being written)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pymongo import DeleteOne, InsertOne, UpdateOne
from pymongo.errors import BulkWriteError

from c360.store import Database, Document
from c360.store.bulk import duplicate_key_indexes
from connectors import ItemError


def dead_letter_id(connector: str, raw: str) -> str:
    """The same bad item rejected again (a re-import) is one dead letter, not two."""
    return hashlib.sha256(f"{connector}\0{raw}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Rejection:
    """One time an item was rejected: when, by which import, where in it, and why."""

    at: dt.datetime
    origin: str
    position: str
    reason: str


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A rejected input item as kept: its raw text and its latest rejection."""

    id: str
    connector: str
    raw: str
    first_rejected_at: dt.datetime
    last_rejection: Rejection
    attempts: int


def _dead_letter(doc: Document) -> StoredDeadLetter:
    last = doc["last_rejection"]
    return StoredDeadLetter(
        id=doc["_id"],
        connector=doc["connector"],
        raw=doc["raw"],
        first_rejected_at=doc["first_rejected_at"],
        last_rejection=Rejection(last["at"], last["origin"], last["position"], last["reason"]),
        attempts=doc["attempts"],
    )


class DeadLetterRepository:
    def __init__(self, db: Database) -> None:
        self._dead_letters = db["dead_letters"]

    async def add(
        self, connector: str, origin: str, errors: Sequence[ItemError], now: dt.datetime
    ) -> None:
        if not errors:
            return
        await self._dead_letters.bulk_write(
            [
                UpdateOne(
                    {"_id": dead_letter_id(connector, error.raw)},
                    _rejected_again(connector, origin, error, now),
                    upsert=True,
                )
                for error in errors
            ],
            ordered=False,
        )

    async def waiting(self) -> int:
        """How many dead letters there are, from the collection's metadata (no scan)."""
        return await self._dead_letters.estimated_document_count()

    async def recent(
        self, connector: str | None = None, limit: int = 100
    ) -> list[StoredDeadLetter]:
        """The most recently rejected items first."""
        query: Document = {} if connector is None else {"connector": connector}
        cursor = self._dead_letters.find(query).sort("last_rejection.at", -1).limit(limit)
        return [_dead_letter(doc) async for doc in cursor]

    async def page(
        self, connector: str, after_id: str | None, limit: int
    ) -> list[StoredDeadLetter]:
        """A stable walk over one connector's dead letters, by id."""
        query: Document = {"connector": connector}
        if after_id is not None:
            query["_id"] = {"$gt": after_id}
        cursor = self._dead_letters.find(query).sort("_id", 1).limit(limit)
        return [_dead_letter(doc) async for doc in cursor]

    async def get_many(self, ids: Sequence[str]) -> list[StoredDeadLetter]:
        cursor = self._dead_letters.find({"_id": {"$in": list(ids)}})
        return [_dead_letter(doc) async for doc in cursor]

    async def remove(self, ids: Sequence[str]) -> None:
        if ids:
            await self._dead_letters.delete_many({"_id": {"$in": list(ids)}})


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """An ingest batch being written: its content key, when it started, the profiles it
    merged others into (what its matching compares again) and the profiles whose metrics it
    may change (what a run that finds it abandoned recomputes)."""

    key: str
    started_at: dt.datetime
    survivors: frozenset[str] = frozenset()
    profiles: frozenset[str] = frozenset()

    def widened(self, other: JournalEntry) -> JournalEntry:
        return replace(
            self,
            survivors=self.survivors | other.survivors,
            profiles=self.profiles | other.profiles,
        )


class BatchJournal:
    """``ingest_batches``: each ingest batch is announced here before it writes anything
    derived, and leaves once every collection derived from its records has taken them in
    (name search, match features and keys, metrics), so a batch cut short is known to the run
    that reads the same input again, and, once it is older than a grace period, to any run
    (which recomputes the metrics of the profiles it names). ``_id`` is the batch's content key.
    """

    def __init__(self, db: Database) -> None:
        self._batches = db["ingest_batches"]

    async def begin(self, entry: JournalEntry, finished: str | None) -> JournalEntry | None:
        """Announce a batch, closing the one before it (``finished``) in the same round trip;
        returns the entry an earlier run left for the same batch, if any."""
        ops: list[DeleteOne | InsertOne[Document]] = []
        if finished is not None:
            ops.append(DeleteOne({"_id": finished}))
        ops.append(InsertOne(_document(entry)))
        try:
            await self._batches.bulk_write(ops, ordered=True)
        except BulkWriteError as exc:
            duplicate_key_indexes(exc)  # anything else is raised again
            found = await self._batches.find_one({"_id": entry.key})
            return None if found is None else _entry(found)
        return None

    async def finish(self, key: str) -> None:
        await self._batches.delete_one({"_id": key})

    async def widen(self, entry: JournalEntry) -> None:
        """What a run found still to do for a batch an earlier run left unfinished."""
        await self._batches.replace_one({"_id": entry.key}, _document(entry))

    async def abandoned(self, before: dt.datetime) -> list[JournalEntry]:
        """Entries started before ``before`` whose metrics were not repaired yet (a handful at
        most: the collection holds only unfinished batches)."""
        query = {"started_ms": {"$lt": _ms(before)}, "repaired": {"$exists": False}}
        return [_entry(doc) async for doc in self._batches.find(query)]

    async def repaired(self, keys: Sequence[str]) -> None:
        """Their metrics are recomputed; the entries stay for a run of the same input, which
        redoes the rest of what derives from their records."""
        if keys:
            await self._batches.update_many({"_id": {"$in": list(keys)}}, {"$set": {"repaired": 1}})


def _document(entry: JournalEntry) -> Document:
    return {
        "_id": entry.key,
        "started": {"at": entry.started_at},  # a sub-document: the embedded store keeps dates
        "started_ms": _ms(entry.started_at),  # what the query for abandoned ones compares
        "survivors": sorted(entry.survivors),
        "profiles": sorted(entry.profiles),
    }


def _entry(doc: Document) -> JournalEntry:
    return JournalEntry(
        key=doc["_id"],
        started_at=doc["started"]["at"],
        survivors=frozenset(doc.get("survivors", ())),
        profiles=frozenset(doc.get("profiles", ())),
    )


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _rejected_again(connector: str, origin: str, error: ItemError, now: dt.datetime) -> Document:
    """The update that keeps a rejection: the letter made once, its latest rejection, one more
    attempt, and the identity keys the connector read of whom it names (``names``, indexed:
    an erasure finds the letter by them)."""
    update: Document = {
        "$setOnInsert": {"connector": connector, "raw": error.raw, "first_rejected_at": now},
        # One sub-document, set whole: the latest rejection of this item.
        "$set": {
            "last_rejection": {
                "at": now,
                "origin": origin,
                "position": error.position,
                "reason": error.reason,
            }
        },
        "$inc": {"attempts": 1},
    }
    if error.names:
        update["$addToSet"] = {"names": {"$each": list(error.names)}}
    return update
