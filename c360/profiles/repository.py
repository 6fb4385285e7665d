"""Queries on ``profiles``.

Activity times are kept as epoch milliseconds (integers): updated in place with ``$min`` and
``$max`` they are atomic and idempotent on any MongoDB, whereas the embedded development server
stores a date updated in place as a string.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from pymongo import UpdateOne

from c360.store import Database, Document


class ProfileRepository:
    def __init__(self, db: Database) -> None:
        self._profiles = db["profiles"]

    async def get(self, profile_id: str) -> Document | None:
        return await self._profiles.find_one({"_id": profile_id})

    async def merged(self, profile_ids: Iterable[str]) -> set[str]:
        """Those of these profiles that were absorbed into another."""
        wanted = list(set(profile_ids))
        if not wanted:
            return set()
        query = {"_id": {"$in": wanted}, "merged_into": {"$exists": True}}
        return {doc["_id"] async for doc in self._profiles.find(query, {"_id": 1})}

    async def mark_merged(self, absorbed: str, survivor: str) -> None:
        await self._profiles.update_one({"_id": absorbed}, {"$set": {"merged_into": survivor}})

    async def unmark_merged(self, absorbed: str) -> None:
        await self._profiles.update_one({"_id": absorbed}, {"$unset": {"merged_into": ""}})

    async def set_activity(self, profile_id: str, span: tuple[int, int] | None) -> None:
        """Replace the activity span (after an unmerge took records away)."""
        if span is None:
            update: Document = {"$unset": {"first_seen_ms": "", "last_seen_ms": ""}}
        else:
            update = {"$set": {"first_seen_ms": span[0], "last_seen_ms": span[1]}}
        await self._profiles.update_one({"_id": profile_id}, update)

    async def record_activity(self, spans: Mapping[str, tuple[int, int]], now: dt.datetime) -> None:
        """Create missing profiles and widen first/last seen (epoch ms), in one round trip.

        ``$min``/``$max`` make it atomic and idempotent: concurrent or repeated runs converge.
        """
        if not spans:
            return
        await self._profiles.bulk_write(
            [
                UpdateOne(
                    {"_id": profile_id},
                    {
                        "$setOnInsert": {"created_at": now},
                        "$min": {"first_seen_ms": first},
                        "$max": {"last_seen_ms": last},
                    },
                    upsert=True,
                )
                for profile_id, (first, last) in spans.items()
            ],
            ordered=False,
        )
