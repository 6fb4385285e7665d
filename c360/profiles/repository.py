"""Queries on ``profiles``.

Computed parts of a profile (``activity`` now, metrics later) are written as whole
sub-documents under an optimistic ``version``: read, compute, write if the version is unchanged.
That is correct on any MongoDB without transactions, and it avoids updating single date fields
in place, which the embedded development server stores wrongly (as strings).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pymongo import UpdateOne

from c360.store import Database, Document
from c360.store.bulk import insert_new


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

    async def mark_merged(self, absorbed: str, survivor: str) -> None:
        await self._profiles.update_one({"_id": absorbed}, {"$set": {"merged_into": survivor}})

    async def create(self, docs: Sequence[Document]) -> set[str]:
        """Insert new profiles; return the ids that already existed (created meanwhile)."""
        return await insert_new(self._profiles, docs)

    async def save_parts(self, updates: Sequence[tuple[Document, Document]]) -> set[str]:
        """Write computed sub-documents, each if its profile's version is still the one read.

        ``updates`` pairs a profile as read with the fields to set. Returns the ids whose version
        had moved on (another writer was faster); the caller re-reads and recomputes those.
        """
        if not updates:
            return set()
        result = await self._profiles.bulk_write(
            [
                UpdateOne(
                    {"_id": seen["_id"], "version": seen.get("version", 0)},
                    {"$set": parts, "$inc": {"version": 1}},
                )
                for seen, parts in updates
            ],
            ordered=False,
        )
        if result.matched_count == len(updates):
            return set()
        now = await self.get_many(seen["_id"] for seen, _ in updates)
        return {
            seen["_id"]
            for seen, _ in updates
            if now[seen["_id"]].get("version", 0) != seen.get("version", 0) + 1
        }
