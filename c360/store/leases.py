"""Leases in the store: one holder at a time for work that several processes could start.

``leases`` holds one document per lease name: who holds it and until when (epoch ms). Taking
it is one conditional upsert — it matches only a lapsed lease or one the caller holds already;
otherwise the upsert's insert meets the existing ``_id`` and fails — so of several API
processes only one holds it, without a transaction. A holder renews it every round; if it dies,
another takes over once it lapses. Hosts compare their clocks through it: keep them in NTP sync.
"""

from __future__ import annotations

import datetime as dt

import pymongo
from pymongo.errors import DuplicateKeyError

from c360.store import Database


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class LeaseRepository:
    def __init__(self, db: Database) -> None:
        self._leases = db["leases"]

    async def take(self, name: str, holder: str, now: dt.datetime, ttl: dt.timedelta) -> bool:
        """Take or renew ``name`` for ``ttl``; False while someone else holds it."""
        query = {"_id": name, "$or": [{"until_ms": {"$lt": _ms(now)}}, {"holder": holder}]}
        update = {"$set": {"holder": holder, "until_ms": _ms(now + ttl)}}
        try:
            await self._leases.update_one(query, update, upsert=True)
        except DuplicateKeyError:
            return False
        return True

    async def release(self, name: str, holder: str, *, within_s: float) -> None:
        """Give it up now (a clean shutdown), if still held by ``holder``; raises a
        ``PyMongoError`` if the store has not answered within ``within_s`` (a store gone at
        shutdown: the lease lapses by itself)."""
        with pymongo.timeout(within_s):
            await self._leases.delete_one({"_id": name, "holder": holder})

    async def holder(self, name: str, now: dt.datetime) -> str | None:
        doc = await self._leases.find_one({"_id": name, "until_ms": {"$gte": _ms(now)}})
        return None if doc is None else str(doc["holder"])
