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
from c360.contact.types import Confirmation
from c360.identity.repository import identifier_of
from c360.profiles.types import ProfileIdentifier
from c360.records.documents import RECORD_FIELDS, stored_record
from c360.records.types import Record
from c360.store import Database, Document
from c360.store.bulk import find_each
from c360.store.epoch import epoch_ms, from_epoch_ms


@dataclass(frozen=True)
class ProfileFacts:
    """Per profile: its identifiers and the records the policy reads."""

    identities: dict[str, list[ProfileIdentifier]]
    records: dict[str, list[Record]]


def _records_query(contacts_since: dt.datetime | None, cases: bool) -> Document:
    # One $in, not an $or with a time range for the contacts: the embedded server answers
    # the $or by a scan (hundreds of ms); the contacts' window is applied when grouping.
    kinds = [*DECISION_KINDS, CASE_KIND] if cases else list(DECISION_KINDS)
    if contacts_since is not None:
        kinds.append(CONTACT_KIND)
    return {"kind": {"$in": [kind.value for kind in kinds]}}


def _records_of(
    profile_ids: Sequence[str], docs: Sequence[Document], contacts_since: dt.datetime | None
) -> dict[str, list[Record]]:
    found: dict[str, list[Record]] = {p: [] for p in profile_ids}
    for doc in docs:
        if doc.get("profile_id") not in found:
            continue
        if doc["kind"] == CONTACT_KIND and (
            contacts_since is None or doc["occurred_at"] <= contacts_since
        ):
            continue
        found[doc["profile_id"]].append(stored_record(doc))
    return found


def _confirmation(doc: Document) -> Confirmation:
    used = doc.get("used_ms")
    return Confirmation(
        token_hash=doc["_id"],
        profile_id=doc["profile_id"],
        channel=doc["channel"],
        purpose=doc["purpose"],
        contact_point=doc.get("contact_point"),
        requested=doc["requested"],
        requested_by=doc.get("requested_by"),
        created_at=from_epoch_ms(doc["created_ms"]),
        expires_at=from_epoch_ms(doc["expires_ms"]),
        used_at=None if used is None else from_epoch_ms(used),
    )


class ContactRepository:
    def __init__(self, db: Database) -> None:
        self._records = db["records"]
        self._identities = db["identities"]
        self._profiles = db["profiles"]
        self._tokens = db["consent_tokens"]

    async def records(
        self, profile_ids: Sequence[str], contacts_since: dt.datetime | None, *, cases: bool
    ) -> dict[str, list[Record]]:
        """For a few profiles by id, in one round trip."""
        query = _records_query(contacts_since, cases)
        docs = await find_each(self._records, "profile_id", profile_ids, query, RECORD_FIELDS)
        return _records_of(profile_ids, docs, contacts_since)

    async def facts_between(
        self, profile_ids: Sequence[str], contacts_since: dt.datetime | None
    ) -> ProfileFacts:
        """For a run of profiles sorted by id: one range each on identities and records (one
        equality per profile would be one branch or one ``$in`` scan per profile)."""
        if not profile_ids:
            return ProfileFacts({}, {})
        span = {"profile_id": {"$gte": profile_ids[0], "$lte": profile_ids[-1]}}
        identities: dict[str, list[ProfileIdentifier]] = {p: [] for p in profile_ids}
        for doc in await self._identities.find(span).to_list():
            if doc["profile_id"] in identities:
                identities[doc["profile_id"]].append(identifier_of(doc))
        return ProfileFacts(identities, await self.records_between(profile_ids, contacts_since))

    async def records_between(
        self, profile_ids: Sequence[str], contacts_since: dt.datetime | None
    ) -> dict[str, list[Record]]:
        """The records of a run of profiles sorted by id: one range."""
        span = {"profile_id": {"$gte": profile_ids[0], "$lte": profile_ids[-1]}}
        query = {**span, **_records_query(contacts_since, cases=False)}
        records = await self._records.find(query, RECORD_FIELDS).to_list()
        return _records_of(profile_ids, records, contacts_since)

    async def live_after(self, after: str | None, limit: int) -> list[str]:
        """The next live (not absorbed) profiles in ``_id`` order."""
        query: Document = {"merged_into": {"$exists": False}}
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self._profiles.find(query, {"_id": 1}).sort("_id", 1).limit(limit)
        return [doc["_id"] async for doc in cursor]

    # --- Double opt-in tokens (``_id``: the token's SHA-256; times in epoch ms) -----------------

    async def add_token(self, confirmation: Confirmation) -> None:
        doc: Document = {
            "_id": confirmation.token_hash,
            "profile_id": confirmation.profile_id,
            "channel": confirmation.channel,
            "purpose": confirmation.purpose,
            "contact_point": confirmation.contact_point,
            "requested": confirmation.requested,
            "created_ms": epoch_ms(confirmation.created_at),
            "expires_ms": epoch_ms(confirmation.expires_at),
        }
        if confirmation.requested_by is not None:
            doc["requested_by"] = confirmation.requested_by
        await self._tokens.insert_one(doc)

    async def use_token(self, token_hash: str, now: dt.datetime) -> Confirmation | None:
        """Mark the token used, once, if it has not expired; returns it, else None."""
        now_ms = epoch_ms(now)
        doc = await self._tokens.find_one_and_update(
            {"_id": token_hash, "used_ms": {"$exists": False}, "expires_ms": {"$gt": now_ms}},
            {"$set": {"used_ms": now_ms}},
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _confirmation(doc)

    async def token(self, token_hash: str) -> Confirmation | None:
        doc = await self._tokens.find_one({"_id": token_hash})
        return None if doc is None else _confirmation(doc)
