"""Queries on ``api_keys`` (one document per key, holding only the secret's hash) and on the
rate limits' buckets."""

from __future__ import annotations

import datetime as dt

from pymongo.errors import DuplicateKeyError

from c360.auth.types import ApiKey, Role, StoredKey
from c360.store import Database, Document


def _key(doc: Document) -> ApiKey:
    return ApiKey(
        id=doc["_id"],
        name=doc["name"],
        role=Role(doc["role"]),
        created_at=doc["created"]["at"],
        revoked_at=doc.get("revoked", {}).get("at"),
    )


class ApiKeyRepository:
    def __init__(self, db: Database) -> None:
        self._keys = db["api_keys"]

    @property
    def collection(self) -> str:
        """``database.api_keys``: which keys these are, for what remembers them."""
        return self._keys.full_name

    async def add(self, key: ApiKey, secret_hash: str) -> None:
        # Sub-documents, set whole: the embedded store mangles dates set in place.
        await self._keys.insert_one(
            {
                "_id": key.id,
                "name": key.name,
                "role": key.role.value,
                "secret_hash": secret_hash,
                "created": {"at": key.created_at},
            }
        )

    async def get(self, key_id: str) -> StoredKey | None:
        doc = await self._keys.find_one({"_id": key_id})
        return None if doc is None else StoredKey(_key(doc), doc["secret_hash"])

    async def all(self) -> list[ApiKey]:
        docs = await self._keys.find({}, {"secret_hash": 0}).sort("_id", 1).to_list()
        return [_key(doc) for doc in docs]

    async def revoke(self, key_id: str, now: dt.datetime) -> bool:
        result = await self._keys.update_one(
            {"_id": key_id, "revoked": {"$exists": False}}, {"$set": {"revoked": {"at": now}}}
        )
        return result.modified_count == 1


class RateLimitRepository:
    """``rate_limits``: one document per API key and bucket holding its GCRA state, ``tat``
    (the theoretical arrival time, epoch microseconds). Each change is one conditional update
    of one document, atomic on MongoDB without a transaction: of two processes taking the same
    token, one matches and the other does not."""

    def __init__(self, db: Database) -> None:
        self._buckets = db["rate_limits"]

    async def advance(self, bucket: str, now_us: int, cost_us: int, latest_us: int) -> bool:
        """A busy bucket (``now <= tat <= latest``) takes ``cost``: tat moves on by it."""
        result = await self._buckets.update_one(
            {"_id": bucket, "tat": {"$gte": now_us, "$lte": latest_us}},
            {"$inc": {"tat": cost_us}},
        )
        return result.matched_count == 1

    async def restart(self, bucket: str, now_us: int, cost_us: int) -> bool:
        """An idle bucket (``tat < now``, or none yet) takes ``cost`` from now."""
        try:
            result = await self._buckets.update_one(
                {"_id": bucket, "tat": {"$lt": now_us}},
                {"$set": {"tat": now_us + cost_us}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # the bucket exists and is busy: not idle
        return result.matched_count == 1 or result.upserted_id is not None

    async def tat(self, bucket: str) -> int | None:
        doc = await self._buckets.find_one({"_id": bucket})
        return None if doc is None else int(doc["tat"])
