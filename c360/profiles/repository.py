"""Queries on ``profiles`` and on the identities linked to them, handed upward as
:class:`Profile` and :class:`ProfileIdentifier`.

Activity times are kept as epoch milliseconds (``c360.store.epoch``): updated in place with
``$min`` and ``$max`` they are atomic and idempotent on any MongoDB.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Collection, Iterable, Mapping

from pymongo import UpdateOne

from c360.identity.repository import identifier_of
from c360.profiles.types import Profile, ProfileIdentifier, Span
from c360.store import Database, Document
from c360.store.bulk import WHOLE_BATCH, find_each, insert_new
from c360.store.epoch import epoch_ms, from_epoch_ms


def _profile(doc: Document) -> Profile:
    first, last = doc.get("first_seen_ms"), doc.get("last_seen_ms")
    return Profile(
        id=doc["_id"],
        created_at=doc.get("created_at"),
        first_seen_at=None if first is None else from_epoch_ms(first),
        last_seen_at=None if last is None else from_epoch_ms(last),
        merged_into=doc.get("merged_into"),
    )


def _epoch_span(span: Span) -> tuple[int, int]:
    return epoch_ms(span[0]), epoch_ms(span[1])


class ProfileRepository:
    def __init__(self, db: Database) -> None:
        self._profiles = db["profiles"]
        self._identities = db["identities"]

    async def get(self, profile_id: str) -> Profile | None:
        doc = await self._profiles.find_one({"_id": profile_id})
        return None if doc is None else _profile(doc)

    async def get_many(self, profile_ids: Iterable[str]) -> list[Profile]:
        wanted = list(set(profile_ids))
        if not wanted:
            return []
        docs = await self._profiles.find({"_id": {"$in": wanted}}, batch_size=WHOLE_BATCH).to_list()
        return [_profile(doc) for doc in docs]

    async def identifiers(self, profile_ids: Iterable[str]) -> dict[str, list[ProfileIdentifier]]:
        """Profile id → its identifiers, sorted by key, for many profiles in one round trip."""
        wanted = list(set(profile_ids))
        found: dict[str, list[ProfileIdentifier]] = {profile_id: [] for profile_id in wanted}
        docs = await find_each(self._identities, "profile_id", wanted, spread=True)
        for doc in sorted(docs, key=lambda d: str(d["_id"])):
            found[doc["profile_id"]].append(identifier_of(doc))
        return found

    async def merged(self, profile_ids: Iterable[str]) -> set[str]:
        """Those of these profiles that were absorbed into another."""
        wanted = list(set(profile_ids))
        if not wanted:
            return set()
        query = {"_id": {"$in": wanted}, "merged_into": {"$exists": True}}
        cursor = self._profiles.find(query, {"_id": 1}, batch_size=WHOLE_BATCH)
        return {doc["_id"] async for doc in cursor}

    async def live_ids(self) -> AsyncIterator[str]:
        """Every profile not absorbed into another."""
        query = {"merged_into": {"$exists": False}}
        async for doc in self._profiles.find(query, {"_id": 1}):
            yield doc["_id"]

    async def mark_merged(self, moves: Mapping[str, str]) -> None:
        """Mark each absorbed profile merged into its survivor, in one round trip."""
        if not moves:
            return
        await self._profiles.bulk_write(
            [
                UpdateOne({"_id": absorbed}, {"$set": {"merged_into": survivor}})
                for absorbed, survivor in moves.items()
            ],
            ordered=False,
        )

    async def unmark_merged(self, absorbed: str) -> None:
        await self._profiles.update_one({"_id": absorbed}, {"$unset": {"merged_into": ""}})

    async def set_activity(self, profile_id: str, span: Span | None) -> None:
        """Replace the activity span (after an unmerge took records away)."""
        if span is None:
            update: Document = {"$unset": {"first_seen_ms": "", "last_seen_ms": ""}}
        else:
            first, last = _epoch_span(span)
            update = {"$set": {"first_seen_ms": first, "last_seen_ms": last}}
        await self._profiles.update_one({"_id": profile_id}, update)

    async def record_activity(self, spans: Mapping[str, Span | None], now: dt.datetime) -> None:
        """Create missing profiles and widen first/last seen, in one round trip; a profile
        whose span is None is only created when missing.

        ``$min``/``$max`` make it atomic and idempotent: concurrent or repeated runs converge.
        """
        if not spans:
            return
        await self._profiles.bulk_write(
            [
                UpdateOne({"_id": profile_id}, _widen(span, now), upsert=True)
                for profile_id, span in spans.items()
            ],
            ordered=False,
        )


def _widen(span: Span | None, now: dt.datetime) -> Document:
    update: Document = {"$setOnInsert": {"created_at": now}}
    if span is not None:
        first, last = _epoch_span(span)
        update["$min"] = {"first_seen_ms": first}
        update["$max"] = {"last_seen_ms": last}
    return update


class SearchRepository:
    """Prefix lookups for profile search.

    Identifiers are found by their key (``email:ana@…``, ``phone:+34…``) on ``identities``.
    Names are words of person records in ``name_terms``, one document per word and record
    (``_id`` = ``{word}|{record id}``, so a prefix is a range of ``_id``), and lead to records,
    which follow merges, and from them to profiles. (One document per word rather than an
    array on the record: the embedded development server does not query arrays by range.)
    """

    def __init__(self, db: Database) -> None:
        self._identities = db["identities"]
        self._records = db["records"]
        self._terms = db["name_terms"]

    async def by_identity_prefix(self, prefix: str, limit: int) -> set[str]:
        query = {"_id": {"$gte": prefix, "$lt": prefix + "\uffff"}}
        cursor = self._identities.find(query, {"profile_id": 1}).limit(limit)
        return {doc["profile_id"] async for doc in cursor}

    async def by_name_prefix(self, term: str, limit: int) -> set[str]:
        query = {"_id": {"$gte": f"{term}", "$lt": f"{term}\uffff"}}
        cursor = self._terms.find(query, {"record": 1}).limit(limit)
        record_ids = list({doc["record"] async for doc in cursor})
        if not record_ids:
            return set()
        people = self._records.find({"_id": {"$in": record_ids}}, {"profile_id": 1})
        return {doc["profile_id"] async for doc in people if "profile_id" in doc}

    async def index_names(
        self, terms: Mapping[str, list[str]], first: Collection[str] = ()
    ) -> None:
        """Replace the name words of these records (one to three round trips); those in
        ``first`` are stored for the first time, so no earlier words of theirs are looked for."""
        if not terms:
            return
        earlier = [record for record in terms if record not in first]
        found = await find_each(self._terms, "record", earlier, None, {"_id": 1})
        stale = [doc["_id"] for doc in found]
        if stale:
            await self._terms.delete_many({"_id": {"$in": stale}})
        docs = [
            {"_id": f"{word}|{record_id}", "record": record_id}
            for record_id, words in terms.items()
            for word in words
        ]
        await insert_new(self._terms, docs)
