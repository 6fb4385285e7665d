"""Every query of the privacy domain: ``privacy_requests`` (the requests, their events and the
erasure journal), ``suppressions`` and ``contact_tombstones`` (keyed hashes, nothing else),
``privacy_receipts``, the erasure's reads and deletions across the collections that can hold a
person (named by the steps of :mod:`c360.privacy.erasure`), what an access export reads, and
what retention removes.

What leaves this module is typed (:mod:`.types`); storage field names stay here and in
:mod:`.documents`. An access export hands some stored documents over whole: those leave as
:class:`~c360.privacy.types.Held`, the document as it is stored beside the facts read from it.
"""

# Over 500 lines, kept whole: every query of the privacy domain is in its repository module, as
# in every domain (an erasure reads and deletes across every collection that can hold a person).

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from c360.audit.types import Action
from c360.privacy.documents import (
    delivery_doc,
    journal_fields,
    pass_path,
    request_doc,
    request_fields,
    request_of,
    slug,
)
from c360.privacy.erasure import Delete
from c360.privacy.rules import OPEN, RequestType, Status
from c360.privacy.types import (
    Delivery,
    Found,
    Held,
    PrivacyRequest,
    Receipt,
    ScopeIdentity,
    ScopeMerge,
    ScopeRecord,
    Suppression,
    SuppressionKind,
    Tombstone,
)
from c360.store import Database, Document
from c360.store.bulk import find_each, insert_new
from schemas.identifiers import IdentifierType

PAGE = 1000
MAX_ATTEMPTS = 20
"""Writes of a list kept whole, each conditional on the version read, before giving up."""


class RequestRepository:
    def __init__(self, db: Database) -> None:
        self._requests = db["privacy_requests"]

    async def insert(self, request: PrivacyRequest) -> None:
        await self._requests.insert_one(request_doc(request))

    async def insert_new(self, request: PrivacyRequest) -> bool:
        """Insert unless a request of this id is stored already (False): one write, so two
        deliveries of one request at once store it once."""
        try:
            await self._requests.insert_one(request_doc(request))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, request_id: str) -> PrivacyRequest | None:
        doc = await self._requests.find_one({"_id": request_id})
        return None if doc is None else request_of(doc)

    async def save(self, before: PrivacyRequest, after: PrivacyRequest) -> PrivacyRequest | None:
        """Write what changed from ``before`` to ``after`` if the request is still the version
        read (``before``); returns it after, or None when someone changed it meanwhile. Lists
        (events, extensions) are set whole: one conditional write, no read-modify-write race.
        The journal's counts and done steps are the steps' own writes, never this one's."""
        old = {**request_fields(before), **journal_fields(before)}
        new = {**request_fields(after), **journal_fields(after)}
        changes = {k: v for k, v in new.items() if old.get(k) != v and k != "version"}
        update: Document = {"$inc": {"version": 1}}
        if changes:
            update["$set"] = changes
        if gone := [k for k in old if k not in new]:
            update["$unset"] = dict.fromkeys(gone, "")
        doc = await self._requests.find_one_and_update(
            {"_id": before.id, "version": before.version},
            update,
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else request_of(doc)

    async def add_delivery(self, request_id: str, delivery: Delivery) -> bool:
        """A delivery of the request's export after those it holds. The list is written whole,
        conditional on the version read, and read again when another write came between (a
        ``$push`` of a document is stored as a string by the embedded development server).
        False: no such request."""
        for _ in range(MAX_ATTEMPTS):
            doc = await self._requests.find_one(
                {"_id": request_id}, {"deliveries": 1, "version": 1}
            )
            if doc is None:
                return False
            deliveries = [*doc.get("deliveries", ()), delivery_doc(delivery)]
            written = await self._requests.update_one(
                {"_id": request_id, "version": doc.get("version", 0)},
                {"$set": {"deliveries": deliveries}, "$inc": {"version": 1}},
            )
            if written.modified_count:
                return True
        raise RuntimeError(f"the request {request_id} changed {MAX_ATTEMPTS} times meanwhile")

    async def open_of_type(self, kind: RequestType, but: str) -> list[PrivacyRequest]:
        """The other requests of this type still open (a few: they are answered within a
        month)."""
        query = {
            "_id": {"$ne": but},
            "type": kind.value,
            "status": {"$in": [s.value for s in OPEN]},
        }
        return [request_of(doc) async for doc in self._requests.find(query)]

    async def page(
        self, statuses: Sequence[Status] | None, due_before: dt.datetime | None, limit: int
    ) -> list[PrivacyRequest]:
        """Newest first; ``due_before``: only those whose deadline is earlier."""
        query: Document = {}
        if statuses is not None:
            query["status"] = {"$in": [s.value for s in statuses]}
        if due_before is not None:
            query["deadline_ms"] = {"$lt": int(due_before.timestamp() * 1000)}
        cursor = self._requests.find(query).sort("received_ms", -1).limit(limit)
        return [request_of(doc) async for doc in cursor]

    async def left_completions(
        self, statuses: Sequence[Status], received_before: dt.datetime, limit: int
    ) -> list[PrivacyRequest]:
        """Requests c360 made to complete an erasure (``completes``), in these statuses and
        received before then, oldest first."""
        query = {
            "completes": {"$exists": True},
            "status": {"$in": [s.value for s in statuses]},
            "received_ms": {"$lt": int(received_before.timestamp() * 1000)},
        }
        cursor = self._requests.find(query).sort("received_ms", 1).limit(limit)
        return [request_of(doc) async for doc in cursor]

    async def completions_of(self, request_id: str, statuses: Sequence[Status]) -> list[str]:
        """The ids of the requests completing this erasure that are in these statuses."""
        query = {"completes": request_id, "status": {"$in": [s.value for s in statuses]}}
        return [doc["_id"] async for doc in self._requests.find(query, {"_id": 1})]

    async def note_count(self, request_id: str, number: int, step: str, count: int) -> None:
        """A step's count in a pass, taken before it first ran (a re-run keeps the first)."""
        field = f"{pass_path(number)}.counts.{slug(step)}"
        await self._requests.update_one(
            {"_id": request_id, field: {"$exists": False}}, {"$set": {field: count}}
        )

    async def step_done(self, request_id: str, number: int, step: str) -> None:
        await self._requests.update_one(
            {"_id": request_id}, {"$set": {f"{pass_path(number)}.done.{slug(step)}": True}}
        )

    async def naming(self, keys: Sequence[str], but: str) -> list[PrivacyRequest]:
        """Other requests that still hold one of these identity keys, less erasures still
        open (they forget what they hold when they close). A few; read whole, as the
        identifiers are an array the embedded store does not query."""
        wanted = set(keys)
        query = {"_id": {"$ne": but}, "identifiers": {"$exists": True}}
        found = []
        async for doc in self._requests.find(query):
            request = request_of(doc)
            erasing = request.type is RequestType.ERASURE and request.status in OPEN
            if not erasing and wanted.intersection(request.keys):
                found.append(request)
        return found

    async def forget_identifiers(
        self, request_id: str, hashes: Sequence[str], notes: PrivacyRequest
    ) -> None:
        """Keep only the keyed hashes of what the request named, and its events and
        extensions as ``notes`` has them (those naming the person without their note)."""
        kept = request_doc(notes)
        await self._requests.update_one(
            {"_id": request_id},
            {
                "$set": {
                    "identifier_hashes": list(hashes),
                    "events": kept["events"],
                    "extensions": kept["extensions"],
                },
                "$unset": {"identifiers": "", "journal.scope": ""},
            },
        )


class SuppressionRepository:
    """``suppressions``: ``_id`` is the keyed hash; ``kind`` (identifier, profile, record,
    dead letter) and the erasure ``request`` it came from, so lifting a person lifts all of
    theirs."""

    def __init__(self, db: Database) -> None:
        self._suppressions = db["suppressions"]

    async def add(self, suppressions: Sequence[Suppression]) -> None:
        docs = [_suppression_doc(s) for s in suppressions]
        for start in range(0, len(docs), PAGE):
            await insert_new(self._suppressions, docs[start : start + PAGE])

    async def found(self, hashes: Iterable[str]) -> dict[str, Suppression]:
        """Those of the hashes the list holds, by hash."""
        wanted = list(set(hashes))
        if not wanted:
            return {}
        cursor = self._suppressions.find({"_id": {"$in": wanted}}, {"kind": 1, "request": 1})
        return {doc["_id"]: _suppression(doc) async for doc in cursor}

    async def held(self, digest: str) -> Suppression | None:
        """One identifier's suppression, None when there is none."""
        doc = await self._suppressions.find_one(
            {"_id": digest, "kind": SuppressionKind.IDENTIFIER.value}
        )
        return None if doc is None else _suppression(doc)

    async def lift(self, digest: str) -> Suppression | None:
        """Remove one identifier's suppression; returns it, None when there was none."""
        doc = await self._suppressions.find_one_and_delete(
            {"_id": digest, "kind": SuppressionKind.IDENTIFIER.value}
        )
        return None if doc is None else _suppression(doc)

    async def identifiers_left(self, request_id: str) -> int:
        return await self._suppressions.count_documents(
            {"request": request_id, "kind": SuppressionKind.IDENTIFIER.value}
        )

    async def lift_request(self, request_id: str) -> int:
        """Every suppression one erasure left (its records' and dead letters' too)."""
        result = await self._suppressions.delete_many({"request": request_id})
        return result.deleted_count


def _suppression_doc(suppression: Suppression) -> Document:
    doc: Document = {"_id": suppression.digest, "kind": suppression.kind.value}
    if suppression.request is not None:
        doc["request"] = suppression.request
    if suppression.at is not None:
        doc["at"] = suppression.at
    return doc


def _suppression(doc: Mapping[str, Any]) -> Suppression:
    return Suppression(doc["_id"], SuppressionKind(doc["kind"]), doc.get("request"), doc.get("at"))


class TombstoneRepository:
    """``contact_tombstones``: ``_id`` is the keyed hash of a contact point's identity key,
    ``at`` when its holder was erased."""

    def __init__(self, db: Database) -> None:
        self._tombstones = db["contact_tombstones"]

    async def add(self, tombstones: Sequence[Tombstone]) -> None:
        await insert_new(self._tombstones, [{"_id": t.digest, "at": t.at} for t in tombstones])

    async def of(self, hashes: Iterable[str]) -> dict[str, dt.datetime]:
        wanted = list(set(hashes))
        if not wanted:
            return {}
        cursor = self._tombstones.find({"_id": {"$in": wanted}})
        return {doc["_id"]: doc["at"] async for doc in cursor}


class ReceiptRepository:
    def __init__(self, db: Database) -> None:
        self._receipts = db["privacy_receipts"]

    async def put(self, receipt: Receipt) -> None:
        doc = {
            "_id": receipt.request_id,
            "body": dict(receipt.body),
            "signature": receipt.signature,
            "public_key": receipt.public_key,
        }
        await insert_new(self._receipts, [doc])  # a re-run keeps the first receipt

    async def get(self, request_id: str) -> Receipt | None:
        doc = await self._receipts.find_one({"_id": request_id})
        if doc is None:
            return None
        return Receipt(doc["_id"], doc["body"], doc["signature"], doc["public_key"])


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

    async def keys_of(self, profile_ids: Sequence[str]) -> list[str]:
        """The identity keys these profiles hold."""
        docs = await find_each(self._db["identities"], "profile_id", profile_ids, None, {"_id": 1})
        return [doc["_id"] for doc in docs]

    async def people_of(self, profile_ids: Sequence[str]) -> list[str]:
        """The ids of these profiles' person records (name search points at these)."""
        docs = await find_each(
            self._db["records"], "profile_id", profile_ids, {"kind": "person"}, {"_id": 1}
        )
        return [doc["_id"] for doc in docs]

    async def names_of(self, profile_ids: Sequence[str]) -> list[str]:
        """The names these profiles' person records give: full, given and family names."""
        fields = ("given_name", "family_name", "full_name")
        projection = {f"data.{f}": 1 for f in fields}
        docs = await find_each(
            self._db["records"], "profile_id", profile_ids, {"kind": "person"}, projection
        )
        found = {doc.get("data", {}).get(f) for doc in docs for f in fields}
        return sorted(n for n in found if isinstance(n, str) and n.strip())

    # --- What a request's scope holds (its preview) -------------------------------------------

    async def merged_state(self, profile_ids: Sequence[str]) -> list[tuple[str, str | None]]:
        """Each of these profiles that exists, with the profile it was merged into (if any)."""
        docs = await find_each(self._db["profiles"], "_id", profile_ids, None, {"merged_into": 1})
        return sorted((doc["_id"], doc.get("merged_into")) for doc in docs)

    async def identities_of(self, profile_ids: Sequence[str]) -> list[ScopeIdentity]:
        """The identities these profiles hold now."""
        docs = await find_each(self._db["identities"], "profile_id", profile_ids)
        return [
            ScopeIdentity(
                key=doc["_id"],
                type=IdentifierType(doc["type"]),
                value=doc["value"],
                source=doc.get("source"),
                profile_id=doc["profile_id"],
                claimed_via=doc.get("claimed_via"),
            )
            for doc in docs
        ]

    async def merges_absorbing(self, profile_ids: Sequence[str]) -> list[ScopeMerge]:
        """The merges that stand (not undone, nor being undone) and absorbed one of these."""
        standing = {"status": {"$in": ["started", "done"]}}
        docs = await find_each(self._db["merges"], "absorbed", profile_ids, standing)
        return [
            ScopeMerge(
                id=doc["_id"],
                absorbed=doc["absorbed"],
                survivor=doc["survivor"],
                rule=doc["rule"],
                actor=doc.get("actor", "ingest"),
                at=doc["started"]["at"],
                reason=doc.get("reason"),
                moved=tuple(doc.get("moved_identities", ())),
            )
            for doc in docs
        ]

    async def scope_records(self, profile_ids: Sequence[str]) -> AsyncIterator[list[ScopeRecord]]:
        """These profiles' records as a preview counts them (kind, linking keys, a person
        record's names), a page at a time (constant memory)."""
        names = ("given_name", "family_name", "full_name")
        projection: Document = {
            "kind": 1,
            "profile_id": 1,
            "identity_keys": 1,
            "timeline_key": 1,
            **{f"data.{n}": 1 for n in names},
        }
        async for page in _records_of(self._db, profile_ids, projection):
            yield [
                ScopeRecord(
                    kind=doc["kind"],
                    profile_id=doc["profile_id"],
                    keys=tuple(doc.get("identity_keys", ())),
                    names=_names(doc, names) if doc["kind"] == "person" else (),
                )
                for doc in page
            ]

    async def record_ids(self, profile_ids: Sequence[str]) -> AsyncIterator[list[str]]:
        """The ids of these profiles' records, a page at a time (constant memory)."""
        async for page in _records_of(self._db, profile_ids, {"_id": 1, "timeline_key": 1}):
            yield [doc["_id"] for doc in page]

    async def found(
        self, keys: Sequence[str], records: Sequence[str], dead_letters: Sequence[str]
    ) -> Found:
        """What is stored under these identity keys, record ids and dead letter ids."""
        owners = await self.owners(keys) if keys else {}
        held: dict[str, str | None] = {}
        if records:
            cursor = self._db["records"].find({"_id": {"$in": list(records)}}, {"profile_id": 1})
            held = {doc["_id"]: doc.get("profile_id") async for doc in cursor}
        letters: list[str] = []
        if dead_letters:
            cursor = self._db["dead_letters"].find({"_id": {"$in": list(dead_letters)}}, {"_id": 1})
            letters = [doc["_id"] async for doc in cursor]
        return Found(owners, held, tuple(letters))

    # --- Generic steps ----------------------------------------------------------------------

    async def count(self, step: Delete, values: Sequence[str]) -> int:
        collection = self._db[step.collection]
        total = 0
        for value in values:
            total += await collection.count_documents({step.by: value})
        return total

    async def delete(self, step: Delete, values: Sequence[str]) -> None:
        """By an indexed equality per value, then by ``_id``: the embedded server scans the
        whole collection for a filtered delete, MongoDB walks the index either way. The
        equality is written ``$in`` of one value: the embedded server's index finds nothing
        for a plain equality on an array field (``profiles``), though it counts it."""
        collection = self._db[step.collection]
        for value in values:
            query = {step.by: {"$in": [value]}}
            while ids := [
                doc["_id"] async for doc in collection.find(query, {"_id": 1}).limit(PAGE)
            ]:
                await collection.delete_many({step.by: value, "_id": {"$in": ids}})

    # --- Special steps ----------------------------------------------------------------------

    async def unlinked_records(self, keys: Sequence[str], ids: Sequence[str] = ()) -> list[str]:
        """Records no profile holds that name one of these identity keys, or have these ids."""
        found: list[str] = []
        for field, values in (("identity_keys", keys), ("_id", ids)):
            if values:
                query = {field: {"$in": list(values)}, "profile_id": {"$exists": False}}
                found += [doc["_id"] async for doc in self._db["records"].find(query, {"_id": 1})]
        return list(dict.fromkeys(found))

    async def waiting_returns(self) -> AsyncIterator[list[tuple[str, str]]]:
        """Returns no profile holds (stored before their order), each with its order's record
        id, a page at a time (a scan of the unlinked returns: erasures are rare)."""
        after = ""
        while True:
            # null matches the missing field, and routes to where unlinked records are.
            query = {"kind": "return", "profile_id": None, "_id": {"$gt": after}}
            cursor = self._db["records"].find(query, {"source": 1, "data": 1}).sort("_id", 1)
            docs = await cursor.limit(PAGE).to_list()
            if not docs:
                return
            yield [
                (doc["_id"], f"{doc['source']}:order:{doc['data']['order_external_id']}")
                for doc in docs
            ]
            after = docs[-1]["_id"]

    async def delete_ids(self, collection: str, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), PAGE):
            await self._db[collection].delete_many(
                {"_id": {"$in": list(ids[start : start + PAGE])}}
            )

    async def dead_letters_naming(self, pattern: str, keys: Sequence[str]) -> list[str]:
        """Dead letters whose raw input matches the pattern (a scan: erasures are rare), or
        that their connector named by one of these identity keys (a source's customer id)."""
        return [doc["_id"] async for doc in _naming(self._db, pattern, keys, {"_id": 1})]

    async def audit_entries(self, profile_ids: Sequence[str], pattern: str) -> list[Any]:
        """The ids of audit entries about these profiles, or whose detail names the person,
        that still hold a detail (what was searched for, a mutation's arguments)."""
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


def _names(doc: Document, fields: Sequence[str]) -> tuple[str, ...]:
    """The names a person record's document gives, read under ``data`` projected field by
    field: nested as MongoDB returns it, or under the dotted name as the embedded store does."""
    found = []
    for name in fields:
        value = doc.get("data", {}).get(name, doc.get(f"data.{name}"))
        if isinstance(value, str) and value.strip():
            found.append(value)
    return tuple(found)


async def _records_of(
    db: Database, profile_ids: Sequence[str], projection: Document | None = None
) -> AsyncIterator[list[Document]]:
    """These profiles' records, newest first, a page at a time (constant memory)."""
    for profile_id in profile_ids:
        after: str | None = None
        while True:
            query: Document = {"profile_id": profile_id}
            if after is not None:
                query["timeline_key"] = {"$lt": after}
            cursor = db["records"].find(query, projection).sort("timeline_key", -1).limit(PAGE)
            docs = await cursor.to_list()
            if not docs:
                break
            yield docs
            after = docs[-1]["timeline_key"]


RECORD_CONTENT = ("kind", "external_id", "occurred_at", "identifiers", "data", "revision")
"""What an export gives of a record: its canonical payload (the rest is where it came from)."""


class ExportRepository:
    """What an access export reads: the person's stored documents, handed over whole."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def profiles(self, profile_ids: Sequence[str]) -> list[Held]:
        docs = await find_each(self._db["profiles"], "_id", profile_ids)
        return [Held("profiles", d["_id"], d, profile_id=d["_id"]) for d in docs]

    async def identities(self, profile_ids: Sequence[str]) -> list[Held]:
        docs = await find_each(self._db["identities"], "profile_id", profile_ids)
        return [Held("identities", d["_id"], d, d["profile_id"], kind=d["type"]) for d in docs]

    async def records(self, profile_ids: Sequence[str]) -> AsyncIterator[list[Held]]:
        """Their records, newest first, a page at a time (constant memory)."""
        async for page in _records_of(self._db, profile_ids):
            yield [
                Held(
                    "records",
                    doc["_id"],
                    {k: doc[k] for k in RECORD_CONTENT if k in doc},
                    profile_id=doc.get("profile_id"),
                    system=doc["source"],
                    kind=doc["kind"],
                    occurred_at=doc["occurred_at"],
                )
                for doc in page
            ]

    async def merges(self, profile_ids: Sequence[str], own_keys: Collection[str]) -> list[Held]:
        """Merges either side of which is one of these profiles, as stored, less what a merge
        with a profile that is not one of these (the other person of a merge undone) says of
        that person: the identity keys it moved from that profile that are not in
        ``own_keys`` are counted (``moved_identities_withheld``), not shown, and the reasons
        written for the merge and its undoing (free text, which may name them) are withheld
        (``reason_withheld``)."""
        found: dict[str, Held] = {}
        for field in ("absorbed", "survivor"):
            for doc in await find_each(self._db["merges"], field, profile_ids):
                if doc["absorbed"] not in profile_ids or doc["survivor"] not in profile_ids:
                    doc = _of_another(
                        doc, own_keys, moved_from_them=doc["absorbed"] not in profile_ids
                    )
                found.setdefault(
                    doc["_id"],
                    Held(
                        "merges",
                        doc["_id"],
                        doc,
                        profile_id=doc.get("survivor"),
                        rule=doc.get("rule"),
                    ),
                )
        return list(found.values())

    async def match_suggestions(self, profile_ids: Sequence[str]) -> list[Held]:
        docs = await find_each(self._db["match_suggestions"], "profiles", profile_ids)
        return [Held("match_suggestions", str(d["_id"]), d) for d in docs]

    async def of_profiles(self, collection: str, profile_ids: Sequence[str]) -> list[Held]:
        """The documents of a collection kept per profile (follow-ups with their events,
        feedback acknowledgements) that are about these profiles."""
        docs = await find_each(self._db[collection], "profile_id", profile_ids)
        return [Held(collection, str(d["_id"]), d, profile_id=d.get("profile_id")) for d in docs]

    async def audit(self, profile_ids: Sequence[str]) -> AsyncIterator[list[Held]]:
        """The access-audit entries about these profiles, oldest first, a page at a time; an
        entry of an act that was about another person's profile too (a merge with theirs) has
        its detail withheld (``detail_withheld``): its arguments are free text that may name
        them."""
        for profile_id in profile_ids:
            after = ""
            while True:
                query = {"profile_id": profile_id, "seq": {"$gt": after}}
                cursor = self._db["audit_log"].find(query).sort("seq", 1).limit(PAGE)
                docs = await cursor.to_list()
                if not docs:
                    break
                yield [
                    Held(
                        "audit_log",
                        str(doc["_id"]),
                        await self._without_others(doc, profile_ids),
                        profile_id=doc.get("profile_id"),
                        kind=doc.get("action"),
                        key_id=doc.get("key_id"),
                    )
                    for doc in docs
                ]
                after = docs[-1]["seq"]

    async def _without_others(self, doc: Document, profile_ids: Sequence[str]) -> Document:
        """The entry, less its detail when the same act was entered about a profile not among
        these: the entries of one act share the time their ``seq`` starts with (an index
        range), its operation, its caller and its detail (the act's arguments: another change
        the same request made, about someone else, has its own). Only a change's entries are
        looked at: a read names no more than what it read of each profile."""
        if doc.get("action") != Action.MUTATION or not doc.get("detail"):
            return doc
        instant = str(doc["seq"]).partition("-")[0]
        others = await self._db["audit_log"].find_one(
            {
                "seq": {"$gte": f"{instant}-", "$lt": f"{instant}."},  # "." sorts after "-"
                "operation": doc.get("operation"),
                "key_id": doc.get("key_id"),
                "detail": doc["detail"],
                "profile_id": {"$nin": [*profile_ids, None]},
            },
            {"_id": 1},
        )
        if others is None:
            return doc
        return {k: v for k, v in doc.items() if k != "detail"} | {"detail_withheld": True}

    async def dead_letters_naming(self, pattern: str, keys: Sequence[str]) -> list[Held]:
        """Dead letters whose raw input matches the pattern (a scan: exports are rare), or
        that their connector named by one of these identity keys."""
        return [
            Held("dead_letters", doc["_id"], doc, system=doc.get("connector"))
            async for doc in _naming(self._db, pattern, keys)
        ]


def _of_another(doc: Document, own_keys: Collection[str], *, moved_from_them: bool) -> Document:
    """A merge with another person's profile as an export hands it over: the identity keys it
    moved from their profile counted, not shown, and its reasons withheld."""
    shown = dict(doc)
    moved = doc.get("moved_identities") or []
    if moved and moved_from_them:
        own = [key for key in moved if key in own_keys]
        shown["moved_identities"] = own
        shown["moved_identities_withheld"] = len(moved) - len(own)
    undo = doc.get("undo")
    if "reason" in doc or (isinstance(undo, Mapping) and "reason" in undo):
        shown.pop("reason", None)
        if isinstance(undo, Mapping):
            shown["undo"] = {k: v for k, v in undo.items() if k != "reason"}
        shown["reason_withheld"] = True
    return shown


async def _naming(
    db: Database, pattern: str, keys: Sequence[str], projection: Document | None = None
) -> AsyncIterator[Document]:
    """The dead letters naming a person, each once: by the keys their connector read (an index
    walk), then by their text (a scan). Two queries, not one ``$or``: MongoDB scans for an
    ``$or`` any of whose branches no index serves."""
    queries: list[Document] = []
    if keys:
        queries.append({"names": {"$in": list(keys)}})
    if pattern:
        queries.append({"raw": {"$regex": pattern}})
    seen: set[str] = set()
    for query in queries:
        async for doc in db["dead_letters"].find(query, projection):
            if doc["_id"] not in seen:
                seen.add(doc["_id"])
                yield doc


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
