"""Queries on ``profiles``."""

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

    async def get_many(self, profile_ids: Iterable[str]) -> dict[str, Document]:
        wanted = list(set(profile_ids))
        if not wanted:
            return {}
        return {doc["_id"]: doc async for doc in self._profiles.find({"_id": {"$in": wanted}})}

    async def record_activity(
        self, spans: Mapping[str, tuple[dt.datetime, dt.datetime]], now: dt.datetime
    ) -> None:
        """Create missing profiles and widen each one's first/last-seen span, in one round trip.

        Upserts, so a profile whose identifiers were claimed by a crashed run is created here.
        """
        if not spans:
            return
        await self._profiles.bulk_write(
            [
                UpdateOne(
                    {"_id": profile_id},
                    {
                        "$setOnInsert": {"created_at": now},
                        "$min": {"first_seen_at": first},
                        "$max": {"last_seen_at": last},
                        "$set": {"updated_at": now},
                    },
                    upsert=True,
                )
                for profile_id, (first, last) in spans.items()
            ],
            ordered=False,
        )
