"""Queries on ``dead_letters``: every rejected input item, with its raw text and the reason."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from pymongo import UpdateOne

from c360.store import Database, Document
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
