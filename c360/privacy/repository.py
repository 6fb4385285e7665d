"""Every query of the privacy domain: ``privacy_requests`` (the requests, their events and the
erasure journal), ``suppressions`` and ``contact_tombstones`` (keyed hashes, nothing else),
``privacy_receipts``, and the erasure's reads and deletions across the collections that can
hold a person (named by the steps of :mod:`c360.privacy.erasure`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from pymongo import ReturnDocument

from c360.privacy.erasure import Delete
from c360.store import Database, Document
from c360.store.bulk import find_each, insert_new

PAGE = 1000


class RequestRepository:
    def __init__(self, db: Database) -> None:
        self._requests = db["privacy_requests"]

    async def insert(self, doc: Document) -> None:
        await self._requests.insert_one(doc)

    async def get(self, request_id: str) -> Document | None:
        return await self._requests.find_one({"_id": request_id})

    async def change(
        self, request: Document, changes: Document, unset: Sequence[str] = ()
    ) -> Document | None:
        """Apply ``changes`` if the request is still the version read (``request``); returns
        it after, or None when someone changed it meanwhile. Lists (events, extensions) are
        set whole: one conditional write, no read-modify-write race."""
        update: Document = {"$set": changes, "$inc": {"version": 1}}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        return await self._requests.find_one_and_update(
            {"_id": request["_id"], "version": request.get("version", 0)},
            update,
            return_document=ReturnDocument.AFTER,
        )

    async def page(
        self, statuses: Sequence[str] | None, due_before_ms: int | None, limit: int
    ) -> list[Document]:
        """Newest first; ``due_before_ms``: only those whose deadline is earlier."""
        query: Document = {}
        if statuses is not None:
            query["status"] = {"$in": list(statuses)}
        if due_before_ms is not None:
            query["deadline_ms"] = {"$lt": due_before_ms}
        cursor = self._requests.find(query).sort("received_ms", -1).limit(limit)
        return await cursor.to_list()

    async def note_count(self, request_id: str, step: str, count: int) -> None:
        """A step's count, taken before it first ran (a re-run keeps the first one)."""
        field = f"journal.counts.{_slug(step)}"
        await self._requests.update_one(
            {"_id": request_id, field: {"$exists": False}}, {"$set": {field: count}}
        )

    async def step_done(self, request_id: str, step: str) -> None:
        await self._requests.update_one(
            {"_id": request_id}, {"$set": {f"journal.done.{_slug(step)}": True}}
        )


def _slug(step: str) -> str:
    return step.replace(" ", "_")


def journal_count(request: Document, step: str) -> int | None:
    value = request.get("journal", {}).get("counts", {}).get(_slug(step))
    return None if value is None else int(value)


def journal_done(request: Document, step: str) -> bool:
    return bool(request.get("journal", {}).get("done", {}).get(_slug(step)))


class SuppressionRepository:
    """``suppressions``: ``_id`` is the keyed hash; ``kind`` (identifier, record, dead letter)
    and the erasure ``request`` it came from, so lifting a person lifts all of theirs."""

    def __init__(self, db: Database) -> None:
        self._suppressions = db["suppressions"]

    async def add(self, docs: Sequence[Document]) -> None:
        for start in range(0, len(docs), PAGE):
            await insert_new(self._suppressions, docs[start : start + PAGE])

    async def found(self, hashes: Iterable[str]) -> set[str]:
        wanted = list(set(hashes))
        if not wanted:
            return set()
        cursor = self._suppressions.find({"_id": {"$in": wanted}}, {"_id": 1})
        return {doc["_id"] async for doc in cursor}

    async def lift(self, digest: str) -> Document | None:
        """Remove one identifier's suppression; returns it, None when there was none."""
        return await self._suppressions.find_one_and_delete({"_id": digest, "kind": "identifier"})

    async def identifiers_left(self, request_id: str) -> int:
        return await self._suppressions.count_documents(
            {"request": request_id, "kind": "identifier"}
        )

    async def lift_request(self, request_id: str) -> int:
        """Every suppression one erasure left (its records' and dead letters' too)."""
        result = await self._suppressions.delete_many({"request": request_id})
        return result.deleted_count


class TombstoneRepository:
    """``contact_tombstones``: ``_id`` is the keyed hash of a contact point's identity key,
    ``at`` when its holder was erased."""

    def __init__(self, db: Database) -> None:
        self._tombstones = db["contact_tombstones"]

    async def add(self, docs: Sequence[Document]) -> None:
        await insert_new(self._tombstones, docs)

    async def of(self, hashes: Iterable[str]) -> dict[str, dt.datetime]:
        wanted = list(set(hashes))
        if not wanted:
            return {}
        cursor = self._tombstones.find({"_id": {"$in": wanted}})
        return {doc["_id"]: doc["at"] async for doc in cursor}


class ReceiptRepository:
    def __init__(self, db: Database) -> None:
        self._receipts = db["privacy_receipts"]

    async def put(self, doc: Document) -> None:
        await insert_new(self._receipts, [doc])  # a re-run keeps the first receipt

    async def get(self, request_id: str) -> Document | None:
        return await self._receipts.find_one({"_id": request_id})


class ErasureRepository:
    """Reads and deletions across the collections that hold a person."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- Who the person is ------------------------------------------------------------------

    async def owners(self, keys: Sequence[str]) -> dict[str, str]:
        """Identity key → profile id, for the keys that have an owner."""
        docs = await find_each(self._db["identities"], "_id", keys, None, {"profile_id": 1})
        return {doc["_id"]: doc["profile_id"] for doc in docs}

    async def absorbed_into(self, profile_ids: Sequence[str]) -> list[str]:
        """Profiles merged into these (one hop; the caller follows the chain)."""
        docs = await find_each(self._db["profiles"], "merged_into", profile_ids, None, {"_id": 1})
        return [doc["_id"] for doc in docs]

    async def merged_into(self, profile_id: str) -> str | None:
        doc = await self._db["profiles"].find_one({"_id": profile_id}, {"merged_into": 1})
        return None if doc is None else doc.get("merged_into")

    async def identities_of(self, profile_ids: Sequence[str]) -> list[Document]:
        return await find_each(self._db["identities"], "profile_id", profile_ids)

    async def people_of(self, profile_ids: Sequence[str]) -> list[Document]:
        """The person records of these profiles (their names, and name search's pointers)."""
        return await find_each(
            self._db["records"], "profile_id", profile_ids, {"kind": "person"}, {"data": 1}
        )

    async def record_ids(self, profile_ids: Sequence[str]) -> AsyncIterator[list[str]]:
        """The ids of these profiles' records, a page at a time (constant memory)."""
        for profile_id in profile_ids:
            after: str | None = None
            while True:
                query: Document = {"profile_id": profile_id}
                if after is not None:
                    query["timeline_key"] = {"$lt": after}
                cursor = (
                    self._db["records"]
                    .find(query, {"_id": 1, "timeline_key": 1})
                    .sort("timeline_key", -1)
                    .limit(PAGE)
                )
                docs = await cursor.to_list()
                if not docs:
                    break
                yield [doc["_id"] for doc in docs]
                after = docs[-1]["timeline_key"]

    async def records_of(self, profile_ids: Sequence[str]) -> AsyncIterator[list[Document]]:
        """These profiles' whole records, newest first, a page at a time (constant memory)."""
        for profile_id in profile_ids:
            after: str | None = None
            while True:
                query: Document = {"profile_id": profile_id}
                if after is not None:
                    query["timeline_key"] = {"$lt": after}
                cursor = self._db["records"].find(query).sort("timeline_key", -1).limit(PAGE)
                docs = await cursor.to_list()
                if not docs:
                    break
                yield docs
                after = docs[-1]["timeline_key"]

    async def documents(self, collection: str, field: str, values: Sequence[str]) -> list[Document]:
        """Documents whose ``field`` is one of ``values`` (a few per person)."""
        return await find_each(self._db[collection], field, values)

    async def audit_of(self, profile_ids: Sequence[str]) -> AsyncIterator[list[Document]]:
        """The access-audit entries about these profiles, oldest first, a page at a time."""
        for profile_id in profile_ids:
            after = ""
            while True:
                query = {"profile_id": profile_id, "seq": {"$gt": after}}
                cursor = self._db["audit_log"].find(query).sort("seq", 1).limit(PAGE)
                docs = await cursor.to_list()
                if not docs:
                    break
                yield docs
                after = docs[-1]["seq"]

    async def dead_letters(self, ids: Sequence[str]) -> list[Document]:
        return await find_each(self._db["dead_letters"], "_id", ids)

    async def requests_naming(self, keys: Sequence[str], but: str) -> list[Document]:
        """Other privacy requests that still hold one of these identity keys (a few; read
        whole, as the identifiers are an array the embedded store does not query)."""
        wanted = set(keys)
        cursor = self._db["privacy_requests"].find(
            {"_id": {"$ne": but}, "identifiers": {"$exists": True}}, {"identifiers": 1}
        )
        return [
            doc
            async for doc in cursor
            if wanted.intersection(i["key"] for i in doc.get("identifiers", []))
        ]

    async def forget_identifiers(self, request_id: str, hashes: list[str]) -> None:
        await self._db["privacy_requests"].update_one(
            {"_id": request_id},
            {
                "$set": {"identifier_hashes": hashes},
                "$unset": {"identifiers": "", "journal.scope": ""},
            },
        )

    # --- Generic steps ----------------------------------------------------------------------

    async def count(self, step: Delete, values: Sequence[str]) -> int:
        collection = self._db[step.collection]
        total = 0
        for value in values:
            total += await collection.count_documents({step.by: value})
        return total

    async def delete(self, step: Delete, values: Sequence[str]) -> None:
        """By an indexed equality per value, then by ``_id``: the embedded server scans the
        whole collection for a filtered delete, MongoDB walks the index either way."""
        collection = self._db[step.collection]
        for value in values:
            while ids := [
                doc["_id"]
                async for doc in collection.find({step.by: value}, {"_id": 1}).limit(PAGE)
            ]:
                await collection.delete_many({step.by: value, "_id": {"$in": ids}})

    # --- Special steps ----------------------------------------------------------------------

    async def notifications_of(self, profiles: Sequence[str]) -> list[str]:
        """The outbox entries of the follow-ups these profiles hold (the outbox names the
        follow-up, not the customer)."""
        follow_ups = [
            doc["_id"]
            async for doc in self._db["follow_ups"].find(
                {"profile_id": {"$in": list(profiles)}}, {"_id": 1}
            )
        ]
        if not follow_ups:
            return []
        cursor = self._db["outbox"].find({"follow_up_id": {"$in": follow_ups}}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def unlinked_records(self, keys: Sequence[str]) -> list[str]:
        """Records no profile holds that name one of these identity keys."""
        query = {"identity_keys": {"$in": list(keys)}, "profile_id": {"$exists": False}}
        cursor = self._db["records"].find(query, {"_id": 1})
        return [doc["_id"] async for doc in cursor] if keys else []

    async def delete_ids(self, collection: str, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), PAGE):
            await self._db[collection].delete_many(
                {"_id": {"$in": list(ids[start : start + PAGE])}}
            )

    async def dead_letters_naming(self, pattern: str) -> list[str]:
        """Dead letters whose raw input matches the pattern (a scan: erasures are rare)."""
        if not pattern:
            return []
        cursor = self._db["dead_letters"].find({"raw": {"$regex": pattern}}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def audit_entries(self, profile_ids: Sequence[str], pattern: str) -> list[Any]:
        """Audit entries about these profiles, or whose detail names the person, that still
        hold a detail (what was searched for, a mutation's arguments)."""
        log = self._db["audit_log"]
        found: list[Any] = []
        for profile_id in profile_ids:
            query = {"profile_id": profile_id, "detail": {"$exists": True}}
            found += [doc["_id"] async for doc in log.find(query, {"_id": 1})]
        if pattern:
            query = {"detail": {"$regex": pattern}}
            found += [doc["_id"] async for doc in log.find(query, {"_id": 1})]
        return list(dict.fromkeys(found))

    async def scrub_audit(self, ids: Sequence[Any]) -> None:
        """Entries kept (who did what, when) with their personal data removed."""
        for start in range(0, len(ids), PAGE):
            await self._db["audit_log"].update_many(
                {"_id": {"$in": list(ids[start : start + PAGE])}},
                {"$unset": {"detail": ""}, "$set": {"erased": True}},
            )


class RetentionRepository:
    """What retention removes: records past their kind's window, a page at a time (a scan of
    ``records`` by kind and time: a periodic job, not a hot path), and old dead letters."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def expired(self, kind: str, before: dt.datetime) -> list[tuple[str, str | None]]:
        cursor = (
            self._db["records"]
            .find({"kind": kind, "occurred_at": {"$lt": before}}, {"profile_id": 1})
            .limit(PAGE)
        )
        return [(doc["_id"], doc.get("profile_id")) async for doc in cursor]

    async def delete_records(self, page: Sequence[tuple[str, str | None]]) -> None:
        """By id with the profile (the shard key) where the record has one."""
        by_profile: dict[str | None, list[str]] = {}
        for record_id, profile_id in page:
            by_profile.setdefault(profile_id, []).append(record_id)
        for profile_id, ids in by_profile.items():
            query: Document = {"_id": {"$in": ids}}
            if profile_id is not None:
                query["profile_id"] = profile_id
            await self._db["records"].delete_many(query)

    async def note_pending(self, profiles: Iterable[str]) -> None:
        """Profiles whose records are about to go: recomputed by this run or, if it is cut
        short, by the next."""
        await insert_new(self._db["retention_pending"], [{"_id": p} for p in sorted(profiles)])

    async def pending(self) -> list[str]:
        return [doc["_id"] async for doc in self._db["retention_pending"].find({}, {"_id": 1})]

    async def clear_pending(self, profiles: Sequence[str]) -> None:
        for start in range(0, len(profiles), PAGE):
            chunk = list(profiles[start : start + PAGE])
            await self._db["retention_pending"].delete_many({"_id": {"$in": chunk}})

    async def prune_dead_letters(self, before: dt.datetime) -> int:
        result = await self._db["dead_letters"].delete_many({"last_rejection.at": {"$lt": before}})
        return result.deleted_count
