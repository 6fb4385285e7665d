"""Queries of the contact policy: what it reads of profiles, and double opt-in tokens.

Facts are read for a few profiles by id (one equality branch per profile, see ``find_each``)
or, for audiences, for a run of live profiles in ``_id`` order by one range on ``profile_id``:
an index range on MongoDB and on the embedded server alike, whatever the number of profiles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pymongo import ReturnDocument

from c360.contact.facts import CASE_KIND, CONTACT_KIND, DECISION_KINDS
from c360.store import Database, Document
from c360.store.bulk import find_each

_RECORD_FIELDS = {"kind": 1, "source": 1, "occurred_at": 1, "revision": 1, "data": 1}
_RECORD_FIELDS |= {"profile_id": 1}


@dataclass(frozen=True)
class FactDocs:
    """Per profile: its identities and the records the policy reads."""

    identities: dict[str, list[Document]]
    records: dict[str, list[Document]]


def _records_query(contacts_since: dt.datetime | None, cases: bool) -> Document:
    # One $in, not an $or with a time range for the contacts: the embedded server answers
    # the $or by a scan (hundreds of ms); the contacts' window is applied when grouping.
    kinds = [*DECISION_KINDS, CASE_KIND] if cases else list(DECISION_KINDS)
    if contacts_since is not None:
        kinds.append(CONTACT_KIND)
    return {"kind": {"$in": kinds}}


def _group(
    profile_ids: Sequence[str],
    docs: Sequence[Document],
    contacts_since: dt.datetime | None = None,
) -> dict[str, list[Document]]:
    found: dict[str, list[Document]] = {p: [] for p in profile_ids}
    for doc in docs:
        if doc.get("profile_id") not in found:
            continue
        if doc.get("kind") == CONTACT_KIND and (
            contacts_since is None or doc["occurred_at"] <= contacts_since
        ):
            continue
        found[doc["profile_id"]].append(doc)
    return found


class ContactRepository:
    def __init__(self, db: Database) -> None:
        self._records = db["records"]
        self._identities = db["identities"]
        self._profiles = db["profiles"]
        self._tokens = db["consent_tokens"]

    async def records(
        self, profile_ids: Sequence[str], contacts_since: dt.datetime | None, *, cases: bool
    ) -> dict[str, list[Document]]:
        """For a few profiles by id, in one round trip."""
        query = _records_query(contacts_since, cases)
        docs = await find_each(self._records, "profile_id", profile_ids, query, _RECORD_FIELDS)
        return _group(profile_ids, docs, contacts_since)

    async def facts_between(
        self, profile_ids: Sequence[str], contacts_since: dt.datetime | None
    ) -> FactDocs:
        """For a run of profiles sorted by id: one range each on identities and records (one
        equality per profile would be one branch or one ``$in`` scan per profile)."""
        if not profile_ids:
            return FactDocs({}, {})
        span = {"profile_id": {"$gte": profile_ids[0], "$lte": profile_ids[-1]}}
        identities = await self._identities.find(span).to_list()
        return FactDocs(
            _group(profile_ids, identities),
            await self.records_between(profile_ids, contacts_since),
        )

    async def records_between(
        self, profile_ids: Sequence[str], contacts_since: dt.datetime | None
    ) -> dict[str, list[Document]]:
        """The records of a run of profiles sorted by id: one range."""
        span = {"profile_id": {"$gte": profile_ids[0], "$lte": profile_ids[-1]}}
        query = {**span, **_records_query(contacts_since, cases=False)}
        records = await self._records.find(query, _RECORD_FIELDS).to_list()
        return _group(profile_ids, records, contacts_since)

    async def live_after(self, after: str | None, limit: int) -> list[str]:
        """The next live (not absorbed) profiles in ``_id`` order."""
        query: Document = {"merged_into": {"$exists": False}}
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self._profiles.find(query, {"_id": 1}).sort("_id", 1).limit(limit)
        return [doc["_id"] async for doc in cursor]

    # --- Double opt-in tokens (``_id``: the token's SHA-256; times in epoch ms) -----------------

    async def add_token(self, doc: Document) -> None:
        await self._tokens.insert_one(doc)

    async def use_token(self, token_hash: str, now_ms: int) -> Document | None:
        """Mark the token used, once, if it has not expired; returns it, else None."""
        return await self._tokens.find_one_and_update(
            {"_id": token_hash, "used_ms": {"$exists": False}, "expires_ms": {"$gt": now_ms}},
            {"$set": {"used_ms": now_ms}},
            return_document=ReturnDocument.AFTER,
        )

    async def token(self, token_hash: str) -> Document | None:
        return await self._tokens.find_one({"_id": token_hash})
