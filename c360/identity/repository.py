"""Queries on ``identities``: one document per normalised identifier, ``_id`` = identity key.

The unique ``_id`` is the invariant "one identifier, one profile": claiming an identifier is an
insert, and of two workers claiming the same one, exactly one wins.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import ReplaceOne, UpdateOne

from c360.identity.matching import KEYS_VERSION, Features
from c360.identity.types import (
    MergeEntry,
    MergeStatus,
    ProfileIdentifier,
    Suggestion,
    SuggestionStatus,
)
from c360.store import Database, Document
from c360.store.bulk import WHOLE_BATCH, find_each, insert_new, replace_values
from schemas import IdentifierType


@dataclass(frozen=True, slots=True)
class Known:
    """What the store says of some identity keys: the profile owning each known one, those
    flagged as used by several people, and the key each was claimed through (``claimed_via``:
    the identifier of the same record that linked it, when it was not the record's first)."""

    owners: dict[str, str] = field(default_factory=dict)
    shared: set[str] = field(default_factory=set)
    claimed_via: dict[str, str] = field(default_factory=dict)


class IdentityRepository:
    def __init__(self, db: Database) -> None:
        self._identities = db["identities"]
        self._separations = db["separations"]

    async def lookup(self, keys: Iterable[str]) -> Known:
        """Of these identity keys, the known ones: owner, shared flag and claimed_via."""
        wanted = list(set(keys))
        known = Known()
        if wanted:
            projection = {"profile_id": 1, "shared": 1, "claimed_via": 1}
            cursor = self._identities.find(
                {"_id": {"$in": wanted}}, projection, batch_size=WHOLE_BATCH
            )
            async for doc in cursor:
                known.owners[doc["_id"]] = doc["profile_id"]
                if "shared" in doc:
                    known.shared.add(doc["_id"])
                if "claimed_via" in doc:
                    known.claimed_via[doc["_id"]] = doc["claimed_via"]
        return known

    async def flag_shared(self, reasons: Mapping[str, str], now: dt.datetime) -> None:
        """Flag identities as used by several people (they link nobody from then on)."""
        if not reasons:
            return
        await self._identities.bulk_write(
            [
                UpdateOne(
                    {"_id": key, "shared": {"$exists": False}},
                    {"$set": {"shared": {"at": now, "why": why}}},
                )
                for key, why in reasons.items()
            ],
            ordered=False,
        )

    async def claim(self, identities: Sequence[ProfileIdentifier]) -> set[str]:
        """Insert new identities; return the keys someone else claimed first."""
        return await insert_new(self._identities, [_identity_doc(i) for i in identities])

    async def of_profiles(self, profile_ids: Iterable[str]) -> dict[str, list[ProfileIdentifier]]:
        """Profile id → its identities (sorted by key), for many profiles in one round trip."""
        wanted = list(set(profile_ids))
        found: dict[str, list[ProfileIdentifier]] = {profile_id: [] for profile_id in wanted}
        docs = await find_each(self._identities, "profile_id", wanted, spread=True)
        for doc in sorted(docs, key=lambda d: str(d["_id"])):
            found[doc["profile_id"]].append(identifier_of(doc))
        return found

    async def phones_of(self, profile_ids: Iterable[str]) -> dict[str, list[str]]:
        """Profile id → the values of its phone identities (what matching compares of them):
        only those are read, where a profile holds many identifiers of other kinds."""
        found: dict[str, list[str]] = {p: [] for p in profile_ids}
        query, projection = {"type": IdentifierType.PHONE.value}, {"profile_id": 1, "value": 1}
        identities = self._identities
        for doc in await find_each(identities, "profile_id", found, query, projection, spread=True):
            found[doc["profile_id"]].append(doc["value"])
        return found

    async def repoint(self, moves: Mapping[str, str]) -> None:
        """Give every identity of each profile to another (absorbed → survivor)."""
        await replace_values(self._identities, "profile_id", moves)

    async def keys_of(self, profile_ids: Iterable[str]) -> dict[str, list[str]]:
        """Profile id → the keys of its identities, sorted, for many profiles in one round trip."""
        found: dict[str, list[str]] = {p: [] for p in profile_ids}
        projection = {"_id": 1, "profile_id": 1}
        identities = self._identities
        for doc in await find_each(identities, "profile_id", found, None, projection, spread=True):
            found[doc["profile_id"]].append(doc["_id"])
        return {p: sorted(keys) for p, keys in found.items()}

    async def claimed_via(self, profile_ids: Iterable[str], keys: Iterable[str]) -> list[str]:
        """Keys of these profiles that were claimed by records linked through ``keys``."""
        query = {"claimed_via": {"$in": list(keys)}}
        docs = await find_each(self._identities, "profile_id", profile_ids, query, {"_id": 1})
        return [doc["_id"] for doc in docs]

    async def assign(self, keys: Sequence[str], profile_id: str) -> None:
        if keys:
            await self._identities.update_many(
                {"_id": {"$in": list(keys)}}, {"$set": {"profile_id": profile_id}}
            )

    async def apart(self, profile_ids: Iterable[str]) -> dict[str, set[str]]:
        """Profile → the profiles an unmerge set apart from it."""
        wanted = list(set(profile_ids))
        found: dict[str, set[str]] = {}
        if wanted:
            # $in, not find_each: the embedded server's equality on an array field (indexed, or
            # in a $match) finds nothing.
            async for doc in self._separations.find({"profiles": {"$in": wanted}}):
                first, second = doc["profiles"]
                found.setdefault(first, set()).add(second)
                found.setdefault(second, set()).add(first)
        return found

    async def separate(self, first: str, second: str, merge_id: str, now: dt.datetime) -> None:
        pair = sorted((first, second))
        await self._separations.replace_one(
            {"_id": "|".join(pair)},
            {"_id": "|".join(pair), "profiles": pair, "merge_id": merge_id, "at": now},
            upsert=True,
        )

    async def owner(self, key: str) -> str | None:
        doc = await self._identities.find_one({"_id": key}, {"profile_id": 1})
        return None if doc is None else str(doc["profile_id"])


def _identity_doc(identity: ProfileIdentifier) -> Document:
    doc: Document = {
        "_id": identity.key,
        "profile_id": identity.profile_id,
        "type": identity.type.value,
        "value": identity.value,
    }
    if identity.first_seen_at is not None:
        doc["created_at"] = identity.first_seen_at
    if identity.source is not None:
        doc["source"] = identity.source
    if identity.claimed_via is not None:
        doc["claimed_via"] = identity.claimed_via
    return doc


def identifier_of(doc: Document) -> ProfileIdentifier:
    """The typed view of an ``identities`` document (every reader's: profiles' too)."""
    return ProfileIdentifier(
        key=doc["_id"],
        type=IdentifierType(doc["type"]),
        value=doc["value"],
        source=doc.get("source"),
        first_seen_at=doc.get("created_at"),
        profile_id=doc["profile_id"],
        claimed_via=doc.get("claimed_via"),
    )


class MergeRepository:
    """The ``merges`` journal: a merge is recorded before its steps and closed after them."""

    def __init__(self, db: Database) -> None:
        self._merges = db["merges"]

    async def start(self, entries: Sequence[MergeEntry]) -> None:
        # Already started by another run: the same steps.
        await insert_new(self._merges, [_merge_doc(e) for e in entries])

    async def unfinished(self) -> list[MergeEntry]:
        """Merges and unmerges a crashed run left half-done."""
        query = {"status": {"$in": [MergeStatus.STARTED, MergeStatus.UNDOING]}}
        return [_merge_entry(d) async for d in self._merges.find(query).sort("_id", 1)]

    async def finish(self, merge_ids: Sequence[str], now: dt.datetime) -> None:
        if not merge_ids:
            return
        # A sub-document, set whole: the embedded store mangles dates set in place.
        await self._merges.update_many(
            {"_id": {"$in": list(merge_ids)}},
            {"$set": {"status": MergeStatus.DONE, "finished": {"at": now}}},
        )

    async def get(self, merge_id: str) -> MergeEntry | None:
        doc = await self._merges.find_one({"_id": merge_id})
        return None if doc is None else _merge_entry(doc)

    async def get_many(self, merge_ids: Iterable[str]) -> dict[str, MergeEntry]:
        wanted = list(set(merge_ids))
        if not wanted:
            return {}
        cursor = self._merges.find({"_id": {"$in": wanted}}, batch_size=WHOLE_BATCH)
        return {doc["_id"]: _merge_entry(doc) async for doc in cursor}

    async def entry_ids(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Each (absorbed, survivor) pair's entry id, in one round trip: the same while a merge
        of the pair is under way (a resumed run joins it), a new one once an earlier merge of
        the pair was undone."""
        wanted = set(pairs)
        projection = {"status": 1, "absorbed": 1, "survivor": 1}
        taken: dict[tuple[str, str], list[Document]] = {pair: [] for pair in wanted}
        for doc in await find_each(
            self._merges, "absorbed", {a for a, _ in wanted}, None, projection
        ):
            if (pair := (doc["absorbed"], doc["survivor"])) in taken:
                taken[pair].append(doc)
        return {pair: _entry_id(pair, docs) for pair, docs in taken.items()}

    async def undoing(
        self, merge_id: str, actor: str, now: dt.datetime, reason: str | None
    ) -> None:
        """An unmerge begins: who asked, when and why."""
        undo = {"actor": actor, "at": now, **({"reason": reason} if reason else {})}
        await self._merges.update_one(
            {"_id": merge_id}, {"$set": {"status": MergeStatus.UNDOING, "undo": undo}}
        )

    async def undone(self, merge_id: str, now: dt.datetime) -> None:
        await self._merges.update_one(
            {"_id": merge_id}, {"$set": {"status": MergeStatus.UNDONE, "undone": {"at": now}}}
        )

    async def absorbing(self, profile_ids: Iterable[str]) -> list[MergeEntry]:
        """Merges (not undone) that absorbed any of these profiles."""
        query = {"status": {"$in": [MergeStatus.STARTED, MergeStatus.DONE]}}
        return [
            _merge_entry(d) for d in await find_each(self._merges, "absorbed", profile_ids, query)
        ]

    async def done_by(self, rule: str, after: str | None, limit: int) -> list[MergeEntry]:
        """Merges of one rule that stand (done, not undone), in id order from after ``after``:
        a page of them."""
        query: Document = {"status": MergeStatus.DONE, "rule": rule}
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self._merges.find(query).sort("_id", 1).limit(limit)
        return [_merge_entry(d) async for d in cursor]

    async def of_profile(self, profile_id: str) -> list[MergeEntry]:
        query = {"$or": [{"survivor": profile_id}, {"absorbed": profile_id}]}
        return [_merge_entry(d) async for d in self._merges.find(query).sort("_id", 1)]


def _merge_doc(entry: MergeEntry) -> Document:
    doc: Document = {
        "_id": entry.id,
        "absorbed": entry.absorbed,
        "survivor": entry.survivor,
        "rule": entry.rule,
        "actor": entry.actor,
        "status": entry.status,
        "started": {"at": entry.started_at},
        "moved_identities": list(entry.moved_identities),
    }
    if entry.reason:
        doc["reason"] = entry.reason
    return doc


def _merge_entry(doc: Document) -> MergeEntry:
    return MergeEntry(
        id=doc["_id"],
        absorbed=doc["absorbed"],
        survivor=doc["survivor"],
        rule=doc["rule"],
        actor=doc.get("actor", "ingest"),
        status=MergeStatus(doc["status"]),
        started_at=doc["started"]["at"],
        moved_identities=tuple(doc.get("moved_identities", ())),
        reason=doc.get("reason"),
        undone_at=doc.get("undone", {}).get("at"),
    )


def _entry_id(pair: tuple[str, str], taken: Sequence[Document]) -> str:
    base = f"{pair[0]}>{pair[1]}"
    if all(doc["status"] == MergeStatus.UNDONE for doc in taken):
        return base if not taken else f"{base}#{len(taken) + 1}"
    return next(doc["_id"] for doc in taken if doc["status"] != MergeStatus.UNDONE)


class SuggestionRepository:
    """``match_suggestions``: pairs of profiles for a person to review (``_id`` = "a|b")."""

    def __init__(self, db: Database) -> None:
        self._suggestions = db["match_suggestions"]

    async def add(self, pairs: Sequence[tuple[str, str, str]], now: dt.datetime) -> None:
        """Open a suggestion per pair (once), collecting every reason given for it."""
        if not pairs:
            return
        await self._suggestions.bulk_write(
            [
                UpdateOne(
                    {"_id": f"{first}|{second}"},
                    {
                        "$setOnInsert": {
                            "profiles": [first, second],
                            "status": SuggestionStatus.OPEN,
                            "created": {"at": now},
                        },
                        "$addToSet": {"reasons": reason},
                    },
                    upsert=True,
                )
                for first, second, reason in pairs
            ],
            ordered=False,
        )

    async def of_profile(self, profile_id: str) -> list[Suggestion]:
        cursor = self._suggestions.find({"profiles": profile_id}).sort("_id", 1)
        return [_suggestion(d) async for d in cursor]

    async def get(self, suggestion_id: str) -> Suggestion | None:
        doc = await self._suggestions.find_one({"_id": suggestion_id})
        return None if doc is None else _suggestion(doc)

    async def resolve(
        self, suggestion_id: str, status: SuggestionStatus, actor: str, now: dt.datetime
    ) -> None:
        await self._suggestions.update_one(
            {"_id": suggestion_id},
            {"$set": {"status": status, "resolved": {"by": actor, "at": now}}},
        )


def _suggestion(doc: Document) -> Suggestion:
    first, second = doc["profiles"]
    return Suggestion(
        id=doc["_id"],
        profiles=(first, second),
        reasons=tuple(doc.get("reasons", ())),
        status=SuggestionStatus(doc["status"]),
    )


class MatchRepository:
    """``match_features`` (what matching compares, per profile) and ``match_keys`` (blocking
    keys, indexed, so candidates are found without comparing everyone)."""

    def __init__(self, db: Database) -> None:
        self._features = db["match_features"]
        self._keys = db["match_keys"]
        self._records = db["records"]

    async def person_records(self, limit: int) -> list[tuple[Mapping[str, Any], list[str]]]:
        """Up to ``limit`` person records: their payload and phone numbers (for calibration,
        which compares records rather than merged profiles)."""
        cursor = self._records.find({"kind": "person"}, {"data": 1, "identifiers": 1})
        found = []
        async for doc in cursor.limit(limit):
            phones = [i["value"] for i in doc.get("identifiers", []) if i.get("type") == "phone"]
            found.append((doc.get("data", {}), phones))
        return found

    async def save(
        self,
        features: Mapping[str, Features],
        keys: Mapping[str, set[str]],
        replacing: Sequence[str] = (),
    ) -> None:
        """Write these profiles' features and blocking keys (three round trips in all).

        ``replacing`` names the profiles that had keys before: of theirs, those they no longer
        have are deleted while the new ones are inserted (a key kept is neither).
        """
        if not features:
            return
        wanted = {
            f"{key}|{p}": {"_id": f"{key}|{p}", "key": key, "profile_id": p}
            for p, profile_keys in keys.items()
            for key in sorted(profile_keys)
        }
        found = await find_each(self._keys, "profile_id", list(replacing), None, {"_id": 1})
        stored = {doc["_id"] for doc in found}
        stale = sorted(stored - wanted.keys())
        # Keys first, features last: features equal to what a profile's people say mean its
        # keys are written too, so a run cut short in between writes them again.
        writes: list[Awaitable[object]] = [
            insert_new(self._keys, [doc for i, doc in wanted.items() if i not in stored])
        ]
        if stale:
            writes.append(self._keys.delete_many({"_id": {"$in": stale}}))
        await asyncio.gather(*writes)
        await self._features.bulk_write(
            [
                ReplaceOne(
                    {"_id": p}, {"_id": p, **_features_doc(f), "version": KEYS_VERSION}, upsert=True
                )
                for p, f in features.items()
            ],
            ordered=False,
        )

    async def holders(self, keys: Iterable[str]) -> dict[str, set[str]]:
        """Blocking key → the profiles that have it."""
        found: dict[str, set[str]] = {}
        for doc in await find_each(self._keys, "key", keys):
            found.setdefault(doc["key"], set()).add(doc["profile_id"])
        return found

    async def features(
        self, profile_ids: Iterable[str], *, current: bool = False
    ) -> dict[str, Features]:
        """The profiles' stored features; with ``current``, only those written under today's
        rules (``KEYS_VERSION``): the others are to be written and compared again."""
        wanted = list(set(profile_ids))
        if not wanted:
            return {}
        query: Document = {"_id": {"$in": wanted}}
        if current:
            query["version"] = KEYS_VERSION
        cursor = self._features.find(query, batch_size=WHOLE_BATCH)
        return {doc["_id"]: _features(doc) async for doc in cursor}

    async def keyed_before(self, after: str | None, limit: int) -> list[str]:
        """Profiles whose features and keys were written under older rules than today's
        (``KEYS_VERSION``), in id order after ``after``: a page."""
        query: Document = {"version": {"$ne": KEYS_VERSION}}
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self._features.find(query, {"_id": 1}).sort("_id", 1).limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def forget(self, profile_ids: Iterable[str]) -> None:
        """Absorbed profiles are no longer candidates."""
        wanted = list(set(profile_ids))
        if wanted:
            await asyncio.gather(
                self._features.delete_many({"_id": {"$in": wanted}}), self._delete_keys_of(wanted)
            )

    async def _delete_keys_of(self, profile_ids: list[str]) -> None:
        # Ids through the index, then delete by _id: the embedded server scans for a filtered
        # delete, which made matching slow down as match_keys grew.
        found = await find_each(self._keys, "profile_id", profile_ids, None, {"_id": 1})
        if found:
            await self._keys.delete_many({"_id": {"$in": [doc["_id"] for doc in found]}})


def _features_doc(features: Features) -> Document:
    """Only the values known: a profile's people may say nothing of a birth date, say."""
    doc: Document = {
        "given": features.given,
        "family": features.family,
        "birth_date": features.birth_date,
        "postal_code": features.postal_code,
        "phones": list(features.phones),
    }
    return {k: v for k, v in doc.items() if v not in (None, [])}


def _features(doc: Document) -> Features:
    # The store hands tuples back as lists.
    return Features(
        given=doc.get("given"),
        family=doc.get("family"),
        birth_date=doc.get("birth_date"),
        postal_code=doc.get("postal_code"),
        phones=tuple(doc.get("phones", ())),
    )
