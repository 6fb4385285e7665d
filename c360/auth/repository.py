"""Queries on ``api_keys``: one document per key, holding only the secret's hash."""

from __future__ import annotations

import datetime as dt

from c360.store import Database, Document


class ApiKeyRepository:
    def __init__(self, db: Database) -> None:
        self._keys = db["api_keys"]

    @property
    def collection(self) -> str:
        """``database.api_keys``: which keys these are, for what remembers them."""
        return self._keys.full_name

    async def add(self, doc: Document) -> None:
        await self._keys.insert_one(doc)

    async def get(self, key_id: str) -> Document | None:
        return await self._keys.find_one({"_id": key_id})

    async def all(self) -> list[Document]:
        return await self._keys.find({}, {"secret_hash": 0}).sort("_id", 1).to_list()

    async def revoke(self, key_id: str, now: dt.datetime) -> bool:
        result = await self._keys.update_one(
            {"_id": key_id, "revoked": {"$exists": False}}, {"$set": {"revoked": {"at": now}}}
        )
        return result.modified_count == 1
