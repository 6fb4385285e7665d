"""Every query of the follow-ups domain: follow-ups, alert rules, teams, feedback
acknowledgements, and the records rules read.

Times are stored as epoch milliseconds: a date ``$set`` on an existing document is stored as a
string by the embedded development server, and integers order and compare the same on both.
What leaves this module is typed (:mod:`.model`); storage field names stay here.
"""

# Over 500 lines, kept whole: the domain's queries are its repository module, as in every
# domain (README, design); each class is one collection's, and storage names stay in one place.

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bson import decode, encode
from pymongo import ReplaceOne
from pymongo.errors import DuplicateKeyError

from c360.followups.documents import at, follow_up_doc, follow_up_of, maybe_at, ms
from c360.followups.model import ACTIVE, FollowUp, Status
from c360.followups.rules import Priority, RecordFacts, Rule, RuleDefinition
from c360.records.documents import RECORD_FIELDS, stored_record
from c360.records.repository import held_records
from c360.records.types import Record
from c360.store import Database, Document
from c360.store.bulk import WHOLE_BATCH, find_each, insert_new


@dataclass(frozen=True)
class Stored:
    """A follow-up as stored (read, or to write), with the events whose notifications wait for
    the relay."""

    follow_up: FollowUp
    unsent: tuple[int, ...] = ()


@dataclass(frozen=True)
class QueueFilter:
    statuses: tuple[Status, ...] = ()
    teams: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    owned: bool | None = None  # True: those someone owns; False: those nobody does
    rules: tuple[str, ...] = ()
    priorities: tuple[Priority, ...] = ()
    overdue_at: dt.datetime | None = None  # only those with a target past due at this time
    due_soon_at: dt.datetime | None = None  # only those whose next target is due soon then
    not_overdue_at: dt.datetime | None = None  # only those with no target past due then
    not_due_soon_at: dt.datetime | None = None  # only those whose next target is not due soon
    profile_id: str | None = None

    def query(self) -> Document:
        query: Document = {}
        for name, values in (
            ("status", [s.value for s in self.statuses]),
            ("team", list(self.teams)),
            ("owner", list(self.owners)),
            ("rule_id", list(self.rules)),
            ("priority", [p.value for p in self.priorities]),
        ):
            if len(values) == 1:
                query[name] = values[0]
            elif values:
                query[name] = {"$in": values}
        if self.owned is not None and not self.owners:
            query["owner"] = {"$exists": self.owned}  # stored only when there is one
        if self.overdue_at is not None:
            query["next_due_ms"] = {"$lt": ms(self.overdue_at)}
        if (soon := self.due_soon_at) is not None:  # both bounds on the target due next
            query["due_soon_ms"] = {"$lte": ms(soon)}
            query["next_due_ms"] = {**query.get("next_due_ms", {}), "$gte": ms(soon)}
        # Each "not" as ranges, absent fields included (no explicit nulls are stored).
        rest: list[Document] = []
        if (at := self.not_overdue_at) is not None:
            rest.append(
                {"$or": [{"next_due_ms": {"$gte": ms(at)}}, {"next_due_ms": {"$exists": False}}]}
            )
        if (at := self.not_due_soon_at) is not None:
            rest.append(
                {
                    "$or": [
                        {"due_soon_ms": {"$gt": ms(at)}},
                        {"due_soon_ms": {"$exists": False}},
                        {"next_due_ms": {"$lt": ms(at)}},
                        {"next_due_ms": {"$exists": False}},
                    ]
                }
            )
        if rest:
            query["$and"] = rest
        if self.profile_id is not None:
            query["profile_id"] = self.profile_id
        return query


@dataclass(frozen=True)
class TeamCounts:
    """Per team and member: active follow-ups held, and when each was last given one."""

    open: dict[str, dict[str, int]]
    last_assigned: dict[str, dict[str, int]]


class FollowUpRepository:
    def __init__(self, db: Database) -> None:
        self._follow_ups = db["follow_ups"]

    async def get(self, follow_up_id: str) -> Stored | None:
        doc = await self._follow_ups.find_one({"_id": follow_up_id})
        return None if doc is None else _stored(doc)

    async def get_many(self, follow_up_ids: Iterable[str]) -> dict[str, Stored]:
        wanted = list(set(follow_up_ids))
        if not wanted:
            return {}
        cursor = self._follow_ups.find({"_id": {"$in": wanted}})
        return {doc["_id"]: _stored(doc) async for doc in cursor}

    async def owners(self, follow_up_ids: Iterable[str]) -> dict[str, str]:
        """Each of these follow-ups' profile (those that exist)."""
        wanted = list(set(follow_up_ids))
        if not wanted:
            return {}
        query = {"_id": {"$in": wanted}}
        cursor = self._follow_ups.find(query, {"profile_id": 1}, batch_size=WHOLE_BATCH)
        return {doc["_id"]: doc["profile_id"] async for doc in cursor}

    async def of_profiles(self, profile_ids: Iterable[str]) -> dict[str, list[Stored]]:
        """Each profile's follow-ups, any rule and status, oldest first."""
        wanted = list(dict.fromkeys(profile_ids))
        found: dict[str, list[Stored]] = {p: [] for p in wanted}
        for doc in await find_each(self._follow_ups, "profile_id", wanted):
            found[doc["profile_id"]].append(_stored(doc))
        for items in found.values():
            items.sort(key=lambda s: (s.follow_up.opened_at, s.follow_up.id))
        return found

    async def ids_of_profiles(self, profile_ids: Iterable[str]) -> list[str]:
        """The ids of these profiles' follow-ups, any rule and status."""
        docs = await find_each(self._follow_ups, "profile_id", profile_ids, None, {"_id": 1})
        return [doc["_id"] for doc in docs]

    async def insert(self, items: Sequence[Stored]) -> set[str]:
        """Insert new follow-ups; returns the ids that existed already (opened by another
        process, or by an earlier run of the same batch)."""
        docs = [follow_up_doc(s.follow_up, s.unsent) for s in items]
        return {str(i) for i in await insert_new(self._follow_ups, docs)}

    async def replace(self, item: Stored, version: int) -> bool:
        """Write a follow-up if it is still at ``version`` (else someone changed it first)."""
        doc = follow_up_doc(item.follow_up, item.unsent)
        result = await self._follow_ups.replace_one({"_id": doc["_id"], "version": version}, doc)
        return result.matched_count == 1

    async def replace_many(self, items: Sequence[tuple[Stored, int]]) -> set[str]:
        """Several conditional replaces in one round trip; returns the ids that lost a race.

        Which did is told by what is stored now, not by its version: the writer that won read
        the same version, so it wrote the same number."""
        if not items:
            return set()
        writes = [(follow_up_doc(s.follow_up, s.unsent), v) for s, v in items]
        result = await self._follow_ups.bulk_write(
            [ReplaceOne({"_id": doc["_id"], "version": v}, doc) for doc, v in writes],
            ordered=False,
        )
        if result.matched_count == len(writes):
            return set()
        ids = [doc["_id"] for doc, _ in writes]
        cursor = self._follow_ups.find({"_id": {"$in": ids}}, batch_size=WHOLE_BATCH)
        stored = {doc["_id"]: doc async for doc in cursor}
        # As the store hands a document back (tuples as lists, say), to compare like with like.
        options = self._follow_ups.codec_options
        return {
            doc["_id"]
            for doc, _ in writes
            if stored.get(doc["_id"]) != decode(encode(doc), codec_options=options)
        }

    async def with_unsent(self, limit: int) -> list[Stored]:
        cursor = self._follow_ups.find({"has_unsent": True}).limit(limit)
        return [_stored(doc) async for doc in cursor]

    async def alarms(self, until: dt.datetime, limit: int) -> list[Stored]:
        """Follow-ups the worker has something to do for by ``until`` (a target to escalate, or
        to warn of as due soon), soonest first."""
        query = {"alarm_ms": {"$lte": ms(until)}}
        cursor = self._follow_ups.find(query).sort("alarm_ms", 1).limit(limit)
        return [_stored(doc) async for doc in cursor]

    async def without_due_soon_times(self, limit: int) -> list[Stored]:
        """Follow-ups stored before their due-soon times were kept, with a target still to
        meet (those without one need none)."""
        query = {"due_soon": {"$exists": False}, "next_due_ms": {"$exists": True}}
        return [_stored(doc) async for doc in self._follow_ups.find(query).limit(limit)]

    async def page(
        self, queue: QueueFilter, first: int, after: str | None
    ) -> tuple[list[FollowUp], bool]:
        """A page of a queue in queue order; the cursor is the last item's queue key."""
        query = queue.query()
        if after is not None:
            query["queue_key"] = {"$gt": after}
        cursor = self._follow_ups.find(query).sort("queue_key", 1).limit(first + 1)
        docs = await cursor.to_list()
        return [follow_up_of(d) for d in docs[:first]], len(docs) > first

    async def count(self, queue: QueueFilter) -> int:
        """How many follow-ups a queue holds: a ``$count`` after the ``$match``, which both
        MongoDB and the embedded server count over the queue's index (``count_documents``
        groups with ``$sum`` instead, which the embedded server does document by document)."""
        pipeline: list[Document] = [{"$match": queue.query()}, {"$count": "n"}]
        found = await (await self._follow_ups.aggregate(pipeline)).to_list()
        return int(found[0]["n"]) if found else 0

    async def team_counts(self, teams: Iterable[str], leaving_out: str | None = None) -> TeamCounts:
        """Active follow-ups per member of these teams, and when each was last assigned one;
        without those the ingest batch ``leaving_out`` opened."""
        counts = TeamCounts({}, {})
        wanted = list(set(teams))
        if not wanted:
            return counts
        match: Document = {
            "team": wanted[0] if len(wanted) == 1 else {"$in": wanted},
            "status": {"$in": [s.value for s in ACTIVE]},
            "owner": {"$exists": True},
        }
        if leaving_out is not None:
            match["batch"] = {"$ne": leaving_out}
        pipeline: list[Document] = [
            {"$match": match},
            {
                "$group": {
                    "_id": _joined("$team", "$owner"),
                    "n": {"$sum": 1},
                    "last": {"$max": "$assigned_ms"},
                }
            },
        ]
        async for row in await self._follow_ups.aggregate(pipeline):
            team, owner = row["_id"].split(_KEY_SEPARATOR, 1)
            counts.open.setdefault(team, {})[owner] = row["n"]
            if row.get("last") is not None:
                counts.last_assigned.setdefault(team, {})[owner] = row["last"]
        return counts

    async def of_merge(self, merge_id: str) -> list[Stored]:
        cursor = self._follow_ups.find({"merge_id": merge_id})
        return [_stored(doc) async for doc in cursor]

    async def status_counts(self) -> dict[tuple[str, str, str], int]:
        """(status, team, rule) → how many follow-ups."""
        pipeline: list[Document] = [
            {"$group": {"_id": _joined("$status", "$team", "$rule_id"), "n": {"$sum": 1}}}
        ]
        found: dict[tuple[str, str, str], int] = {}
        async for row in await self._follow_ups.aggregate(pipeline):
            status, team, rule = row["_id"].split(_KEY_SEPARATOR, 2)
            found[(status, team, rule)] = row["n"]
        return found

    async def active(self) -> list[FollowUp]:
        """Every follow-up being worked (for the SLA gauges)."""
        query = {"status": {"$in": [s.value for s in ACTIVE]}}
        return [follow_up_of(doc) async for doc in self._follow_ups.find(query)]


_KEY_SEPARATOR = " "
"""Between the parts of a group's key: statuses, team ids and rule ids have no spaces."""


def _joined(*fields: str) -> Document:
    """A ``$group`` key made of several fields, as one string: the embedded development server
    takes a document ``_id`` such as ``{team: "$team", owner: "$owner"}`` literally (every
    document in one group), where ``$concat`` is evaluated by both it and MongoDB."""
    parts: list[str] = []
    for name in fields:
        parts += [name, _KEY_SEPARATOR]
    return {"$concat": parts[:-1]}


def _stored(doc: Mapping[str, Any]) -> Stored:
    return Stored(follow_up_of(doc), tuple(doc.get("unsent", ())))


# --- Records the rules read ---------------------------------------------------------------------


def record_facts(doc: Mapping[str, Any]) -> RecordFacts:
    return RecordFacts(
        doc["_id"], doc["kind"], doc.get("profile_id"), doc["occurred_at"], doc["data"]
    )


class RuleInputRepository:
    """The records alert rules are evaluated over (read by profile: one shard each)."""

    def __init__(self, db: Database) -> None:
        self._records = db["records"]

    async def of_profiles(
        self, profile_ids: Iterable[str], kinds: Iterable[str]
    ) -> dict[str, list[RecordFacts]]:
        wanted = list(dict.fromkeys(profile_ids))
        found: dict[str, list[RecordFacts]] = {p: [] for p in wanted}
        kind_list = sorted(set(kinds))
        if not wanted or not kind_list:
            return found
        query = {"kind": kind_list[0] if len(kind_list) == 1 else {"$in": kind_list}}
        projection = {"kind": 1, "profile_id": 1, "occurred_at": 1, "data": 1}
        for doc in await find_each(self._records, "profile_id", wanted, query, projection):
            found[doc["profile_id"]].append(record_facts(doc))
        return found

    async def of_kinds(
        self,
        profile_ids: Iterable[str],
        kinds: Iterable[str],
        *,
        record_ids: Iterable[str] | None = None,
    ) -> dict[str, list[Record]]:
        """Each profile's stored records of these kinds (only these ids, when given)."""
        wanted = list(dict.fromkeys(profile_ids))
        found: dict[str, list[Record]] = {p: [] for p in wanted}
        query: Document = {"kind": {"$in": sorted(set(kinds))}}
        if record_ids is not None:
            query["_id"] = {"$in": list(set(record_ids))}
        for doc in await find_each(self._records, "profile_id", wanted, query, RECORD_FIELDS):
            found[doc["profile_id"]].append(stored_record(doc))
        return found

    async def of_follow_ups(
        self, wanted: Mapping[str, Iterable[str]]
    ) -> dict[tuple[str, str], Record]:
        """Trigger records: profile id → record ids (a follow-up's records are its profile's,
        merges move both); see :func:`~c360.records.repository.held_records`."""
        return await held_records(self._records, wanted)

    async def between(
        self, kinds: Iterable[str], since: dt.datetime, until: dt.datetime
    ) -> list[RecordFacts]:
        """Records of these kinds that happened in [since, until): what a backtest replays
        (every shard: an admin's preview over history)."""
        query = {
            "kind": {"$in": sorted(set(kinds))},
            "occurred_at": {"$gte": since, "$lt": until},
        }
        projection = {"kind": 1, "profile_id": 1, "occurred_at": 1, "data": 1}
        return [record_facts(d) async for d in self._records.find(query, projection)]


# --- Alert rules --------------------------------------------------------------------------------


def _rule_of(doc: Mapping[str, Any]) -> Rule:
    return Rule(
        definition=RuleDefinition.model_validate(doc["definition"]),
        version=doc["version"],
        updated_at=maybe_at(doc.get("updated_ms")),
        updated_by=doc.get("updated_by"),
    )


class RuleRepository:
    """``alert_rules``: one document per rule, its current version and the earlier ones."""

    def __init__(self, db: Database) -> None:
        self._rules = db["alert_rules"]

    async def all(self) -> list[Rule]:
        return [_rule_of(doc) async for doc in self._rules.find({}).sort("_id", 1)]

    async def get(self, rule_id: str) -> Rule | None:
        doc = await self._rules.find_one({"_id": rule_id})
        return None if doc is None else _rule_of(doc)

    async def versions(self, rule_id: str) -> list[Rule]:
        doc = await self._rules.find_one({"_id": rule_id})
        if doc is None:
            return []
        return [_rule_of(v) for v in doc.get("history", [])] + [_rule_of(doc)]

    async def create(self, rule: Rule) -> bool:
        """Store a rule's first version; False when it exists already."""
        try:
            await self._rules.insert_one({"_id": rule.id, **_rule_doc(rule), "history": []})
        except DuplicateKeyError:
            return False
        return True

    async def create_missing(self, rules: Sequence[Rule]) -> None:
        await insert_new(self._rules, [{"_id": r.id, **_rule_doc(r), "history": []} for r in rules])

    async def update(self, current: Rule, new: Rule) -> bool:
        """Make ``new`` the current version if ``current`` still is; the old one joins the
        history. The history is written whole, conditional on the version read (a ``$push``
        of a document is stored as a string by the embedded development server)."""
        doc = await self._rules.find_one({"_id": current.id, "version": current.version})
        if doc is None:
            return False
        history = [*doc.get("history", []), _rule_doc(current)]
        result = await self._rules.update_one(
            {"_id": current.id, "version": current.version},
            {"$set": {**_rule_doc(new), "history": history}},
        )
        return result.matched_count == 1


def _rule_doc(rule: Rule) -> Document:
    doc: Document = {
        "version": rule.version,
        "definition": rule.definition.model_dump(mode="json"),
    }
    if rule.updated_at is not None:
        doc["updated_ms"] = ms(rule.updated_at)
    if rule.updated_by is not None:
        doc["updated_by"] = rule.updated_by
    return doc


# --- Teams --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamChange:
    """What an admin set for a team (members, escalation team) over the settings."""

    team_id: str
    members: tuple[str, ...]
    escalation_team: str | None
    updated_at: dt.datetime
    updated_by: str


class TeamRepository:
    def __init__(self, db: Database) -> None:
        self._teams = db["teams"]

    async def all(self) -> list[TeamChange]:
        return [
            TeamChange(
                doc["_id"],
                tuple(doc.get("members", ())),
                doc.get("escalation_team"),
                at(doc["updated_ms"]),
                doc.get("updated_by", ""),
            )
            async for doc in self._teams.find({})
        ]

    async def put(self, change: TeamChange) -> None:
        doc: Document = {
            "members": list(change.members),
            "updated_ms": ms(change.updated_at),
            "updated_by": change.updated_by,
        }
        if change.escalation_team is not None:
            doc["escalation_team"] = change.escalation_team
        await self._teams.replace_one(
            {"_id": change.team_id}, {"_id": change.team_id, **doc}, upsert=True
        )


# --- Feedback acknowledgements ------------------------------------------------------------------


@dataclass(frozen=True)
class Acknowledgement:
    """How and when a piece of feedback was answered (closing the loop)."""

    record_id: str
    profile_id: str
    at: dt.datetime
    channel: str | None  # None: acknowledged without contact
    actor: str
    contact_record_id: str | None = None
    note: str | None = None
    without_contact: str | None = None  # why the customer was not contacted (made by c360)


class AcknowledgementRepository:
    """``feedback_acks``: one per acknowledged survey response or complaint, by record id."""

    def __init__(self, db: Database) -> None:
        self._acks = db["feedback_acks"]

    async def add(self, ack: Acknowledgement) -> bool:
        """False when the feedback was acknowledged already."""
        doc: Document = {
            "_id": ack.record_id,
            "profile_id": ack.profile_id,
            "at_ms": ms(ack.at),
            "actor": ack.actor,
        }
        if ack.channel is not None:
            doc["channel"] = ack.channel
        if ack.without_contact is not None:
            doc["without_contact"] = ack.without_contact
        if ack.contact_record_id is not None:
            doc["contact_record_id"] = ack.contact_record_id
        if ack.note is not None:
            doc["note"] = ack.note
        try:
            await self._acks.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def of_records(self, record_ids: Iterable[str]) -> dict[str, Acknowledgement]:
        wanted = list(set(record_ids))
        if not wanted:
            return {}
        return {
            doc["_id"]: Acknowledgement(
                doc["_id"],
                doc["profile_id"],
                at(doc["at_ms"]),
                doc.get("channel"),
                doc["actor"],
                doc.get("contact_record_id"),
                doc.get("note"),
                doc.get("without_contact"),
            )
            async for doc in self._acks.find({"_id": {"$in": wanted}})
        }
