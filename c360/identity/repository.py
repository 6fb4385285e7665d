"""Queries on ``identities``: one document per normalised identifier, ``_id`` = identity key.

The unique ``_id`` is the invariant "one identifier, one profile": claiming an identifier is an
insert, and of two workers claiming the same one, exactly one wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from c360.store import Database, Document
from c360.store.bulk import insert_new


class IdentityRepository:
    def __init__(self, db: Database) -> None:
        self._identities = db["identities"]

    async def owners(self, keys: Iterable[str]) -> dict[str, str]:
        """Identity key → owning profile id, for the keys that are known."""
        wanted = list(set(keys))
        if not wanted:
            return {}
        cursor = self._identities.find({"_id": {"$in": wanted}}, {"profile_id": 1})
        return {doc["_id"]: doc["profile_id"] async for doc in cursor}

    async def claim(self, docs: Sequence[Document]) -> set[str]:
        """Insert new identities; return the keys someone else claimed first."""
        return await insert_new(self._identities, docs)

    async def of_profiles(self, profile_ids: Iterable[str]) -> dict[str, list[Document]]:
        """Profile id → its identities (sorted by key), for many profiles in one round trip."""
        wanted = list(set(profile_ids))
        found: dict[str, list[Document]] = {profile_id: [] for profile_id in wanted}
        if wanted:
            cursor = self._identities.find({"profile_id": {"$in": wanted}}).sort("_id", 1)
            async for doc in cursor:
                found[doc["profile_id"]].append(doc)
        return found

    async def owner(self, key: str) -> str | None:
        doc = await self._identities.find_one({"_id": key}, {"profile_id": 1})
        return None if doc is None else str(doc["profile_id"])
