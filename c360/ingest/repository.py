"""Queries on ``dead_letters``: every rejected input item, with its raw text and the reason."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from pymongo import DeleteOne, InsertOne, UpdateOne
from pymongo.errors import BulkWriteError

from c360.store import Database, Document
from c360.store.bulk import duplicate_key_indexes
from connectors import ItemError


def dead_letter_id(connector: str, raw: str) -> str:
    """The same bad item rejected again (a re-import) is one dead letter, not two."""
    return hashlib.sha256(f"{connector}\0{raw}".encode()).hexdigest()[:32]


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
                    {
                        "$setOnInsert": {
                            "connector": connector,
                            "raw": error.raw,
                            "first_rejected_at": now,
                        },
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
                    },
                    upsert=True,
                )
                for error in errors
            ],
            ordered=False,
        )

    async def waiting(self) -> int:
        """How many dead letters there are, from the collection's metadata (no scan)."""
        return await self._dead_letters.estimated_document_count()

    async def recent(self, connector: str | None = None, limit: int = 100) -> list[Document]:
        """The most recently rejected items first."""
        query: Document = {} if connector is None else {"connector": connector}
        cursor = self._dead_letters.find(query).sort("last_rejection.at", -1).limit(limit)
        return await cursor.to_list()

    async def page(self, connector: str, after_id: str | None, limit: int) -> list[Document]:
        """A stable walk over one connector's dead letters, by id."""
        query: Document = {"connector": connector}
        if after_id is not None:
            query["_id"] = {"$gt": after_id}
        return await self._dead_letters.find(query).sort("_id", 1).limit(limit).to_list()

    async def remove(self, ids: Sequence[str]) -> None:
        if ids:
            await self._dead_letters.delete_many({"_id": {"$in": list(ids)}})


class BatchJournal:
    """``ingest_batches``: each ingest batch is announced here before it writes anything, and
    leaves once every collection derived from its records has taken them in (name search,
    match features and keys, metrics), so a batch cut short is known to the run that reads
    the same input again. ``_id`` is the batch's content key; the entry keeps the profiles the
    batch merged others into (``survivors``): what its matching must compare again, which a new
    plan no longer shows once the merges are done.
    """

    def __init__(self, db: Database) -> None:
        self._batches = db["ingest_batches"]

    async def begin(self, entry: Document, finished: str | None) -> Document | None:
        """Announce a batch, closing the one before it (``finished``) in the same round trip;
        returns the entry an earlier run left for the same batch, if any."""
        ops: list[DeleteOne | InsertOne[Document]] = []
        if finished is not None:
            ops.append(DeleteOne({"_id": finished}))
        ops.append(InsertOne(entry))
        try:
            await self._batches.bulk_write(ops, ordered=True)
        except BulkWriteError as exc:
            duplicate_key_indexes(exc)  # anything else is raised again
            return await self._batches.find_one({"_id": entry["_id"]})
        return None

    async def finish(self, key: str) -> None:
        await self._batches.delete_one({"_id": key})

    async def widen(self, entry: Document) -> None:
        """What a run found still to do for a batch an earlier run left unfinished."""
        await self._batches.replace_one({"_id": entry["_id"]}, entry)
