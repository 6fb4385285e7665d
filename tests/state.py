"""Comparing the store's content between runs that should end in the same state."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient, MongoClient, monitoring

from c360.api.graphql.context import Context
from c360.auth.service import Caller, Role
from c360.metrics.aggregate import aggregate
from c360.metrics.documents import aggregate_doc, aggregate_of, ledger_doc, ledger_of, summary_of
from c360.metrics.figures import Summary
from c360.services import Services
from c360.settings import Settings
from c360.store import Document, Store
from tests.helpers import roomy_schema


def canonical_state(uri: str, database: str) -> dict[str, Any]:
    """The store's content with random profile ids replaced by each profile's smallest identity
    key, and bookkeeping times dropped: equal for two runs that ingested the same data."""
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    try:
        db = client[database]
        label: dict[str, str] = {}
        for identity in db.identities.find().sort("_id", 1):
            label.setdefault(identity["profile_id"], identity["_id"])
        records = [
            {
                **r,
                "profile_id": label.get(r.get("profile_id", ""), "-"),
                "ingested_at": None,
                "batch": None,  # another batch size cuts the input elsewhere
            }
            for r in db.records.find().sort("_id", 1)
        ]
        identities = sorted((i["_id"], label[i["profile_id"]]) for i in db.identities.find())
        profiles = sorted(
            (
                label.get(p["_id"], "-"),
                p.get("first_seen_ms"),
                p.get("last_seen_ms"),
                label.get(p.get("merged_into", ""), "-"),
            )
            for p in db.profiles.find()
        )
        letters = sorted((d["_id"], d["raw"]) for d in db.dead_letters.find())
        return {
            "records": records,
            "identities": identities,
            "profiles": profiles,
            "dead_letters": letters,
        }
    finally:
        client.close()


def merges_state(uri: str, database: str) -> dict[str, Any]:
    """The canonical state plus the ledger (rule, status, what moved) of every merge."""
    found = canonical_state(uri, database)
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    try:
        found["merges"] = sorted(
            (m["rule"], m["status"], sorted(m["moved_identities"]))
            for m in client[database].merges.find()
        )
    finally:
        client.close()
    return found


def converged_state(uri: str, database: str) -> dict[str, Any]:
    """What any arrival order of the same data must leave: each live profile (named by its
    smallest identity key) with its identities, activity span and aggregate; each record's
    winning revision and the live profile holding it; the dead letters. (Which profiles were
    created and absorbed on the way, and which identifier linked each record, depend on the
    order, and are left out.)"""
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    try:
        db = client[database]
        label: dict[str, str] = {}
        for identity in db.identities.find().sort("_id", 1):
            label.setdefault(identity["profile_id"], identity["_id"])
        live = list(db.profiles.find({"merged_into": {"$exists": False}}))
        return {
            "records": sorted(
                (r["_id"], r["content_hash"], label.get(r.get("profile_id", ""), "-"))
                for r in db.records.find()
            ),
            "identities": sorted((i["_id"], label[i["profile_id"]]) for i in db.identities.find()),
            "profiles": sorted(
                (label.get(p["_id"], "-"), p.get("first_seen_ms"), p.get("last_seen_ms"))
                for p in live
            ),
            "metrics": sorted(
                (label.get(m["_id"], "-"), aggregate_doc(aggregate_of(m.get("agg"))))
                for m in db.profile_metrics.find()
            ),
            "dead_letters": sorted(d["_id"] for d in db.dead_letters.find()),
        }
    finally:
        client.close()


_PROFILE_ID = re.compile(r"\b[0-9a-f]{24}\b")
_BOOKKEEPING = frozenset(
    {"created_at", "ingested_at", "at", "first_rejected_at", "attempts", "origin"}
)
"""When something was written, how often, by which run: what two runs legitimately differ in."""
_PER_COLLECTION = {
    # The version is how concurrent writers agree, not what the aggregate is.
    "profile_metrics": frozenset({"version"}),
    # The ingest batch that wrote a record, or opened a follow-up: another batch size cuts the
    # input elsewhere.
    "records": frozenset({"batch"}),
    "follow_ups": frozenset({"batch"}),
}
_FOLLOW_UP_MOMENTS = frozenset(
    {
        "opened_ms",
        "updated_ms",
        "at_ms",
        "due",
        "escalated",
        "due_soon",
        "warned",
        "next_due_ms",
        "due_soon_ms",
        "alarm_ms",
        "assigned_ms",
        "first_response_ms",
        "resolved_ms",
        "queue_key",
        "created_ms",
        "next_ms",
        "page_key",
        "body",
        "version",
    }
)
"""When a follow-up, its events and its notifications were written (at any depth): a run and
its re-run write them at other moments (the body carries them too)."""
_MOMENTS_AT_ANY_DEPTH = {"follow_ups": _FOLLOW_UP_MOMENTS, "outbox": _FOLLOW_UP_MOMENTS}


def full_state(uri: str, database: str) -> dict[str, list[Any]]:
    """Every collection of the database, each document with its profile ids replaced by a
    label that two runs share (the profile's smallest identity key; an absorbed profile's, from
    its merge) and bookkeeping (write times, attempts, versions) left out, sorted."""
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    try:
        db = client[database]
        label: dict[str, str] = {}
        for identity in db.identities.find({}, {"profile_id": 1}).sort("_id", 1):
            label.setdefault(identity["profile_id"], identity["_id"])
        for merge in db.merges.find({}, {"absorbed": 1, "moved_identities": 1}):
            moved = merge.get("moved_identities") or ["?"]
            label.setdefault(merge["absorbed"], f"absorbed:{min(moved)}")

        # A follow-up's id is a hash of its profile's id: named by profile, rule and episode.
        follow_ups: dict[str, str] = {}
        for fu in db.follow_ups.find({}, {"profile_id": 1, "rule_id": 1, "episode": 1}):
            profile = label.get(fu["profile_id"], "?")
            follow_ups[fu["_id"]] = f"fu:{profile}:{fu['rule_id']}:{fu['episode']['n']}"
        follow_up_id = re.compile(r"\bfu_[0-9a-f]{24}\b")

        def named(text: str) -> str:
            text = follow_up_id.sub(lambda m: follow_ups.get(m.group(0), "?"), text)
            return _PROFILE_ID.sub(lambda m: label.get(m.group(0), "?"), text)

        def normal(value: Any, moments: frozenset[str] = frozenset()) -> Any:
            if isinstance(value, dict):
                return {
                    named(k): normal(v, moments)
                    for k, v in value.items()
                    if k not in _BOOKKEEPING and k not in moments
                }
            if isinstance(value, list):
                return [normal(v, moments) for v in value]
            return named(value) if isinstance(value, str) else value

        state: dict[str, list[Any]] = {}
        for name in sorted(db.list_collection_names()):
            skip = _PER_COLLECTION.get(name, frozenset())
            moments = _MOMENTS_AT_ANY_DEPTH.get(name, frozenset())
            docs = [
                normal({k: v for k, v in doc.items() if k not in skip}, moments)
                for doc in db[name].find()
            ]
            state[name] = sorted(docs, key=lambda d: json.dumps(d, sort_keys=True, default=str))
        return state
    finally:
        client.close()


async def assert_aggregates_equal_recomputation(services: Services, store: Store) -> int:
    """Every live profile's stored aggregate is the fold of its records, and so are its ledger,
    the summary beside it and the days it is found by; returns how many."""
    checked = 0
    async for profile in store.db.profiles.find({"merged_into": {"$exists": False}}):
        records = await store.db.records.find({"profile_id": profile["_id"]}).to_list()
        stored = await store.db.profile_metrics.find_one({"_id": profile["_id"]})
        assert stored is not None, profile["_id"]
        recomputed = aggregate(records)
        assert aggregate_doc(aggregate_of(stored["agg"])) == aggregate_doc(recomputed), profile[
            "_id"
        ]
        ledger = dict(stored["ledger"])
        assert summary_of(ledger.pop("summary")) == Summary.of(recomputed), profile["_id"]
        assert ledger_doc(ledger_of(ledger)) == ledger_doc(recomputed.ledger), profile["_id"]
        assert stored["ledger_days"] == recomputed.ledger.days(), profile["_id"]
        checked += 1
    merged = [p["_id"] async for p in store.db.profiles.find({"merged_into": {"$exists": True}})]
    assert await store.db.profile_metrics.count_documents({"_id": {"$in": merged}}) == 0
    return checked


@asynccontextmanager
async def other_database(settings: Settings, mongo_uri: str) -> AsyncIterator[Store]:
    """A fresh database of the same store, for the run that never crashed."""
    name = f"ref_{uuid.uuid4().hex[:8]}"
    store = await Store.open(settings.model_copy(update={"database": name}))
    try:
        yield store
    finally:
        await store.close()
        client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
        client.drop_database(name)
        client.close()


_UNINTERRUPTED: dict[tuple[str, str], dict[str, Any]] = {}


async def uninterrupted(
    name: str,
    settings: Settings,
    mongo_uri: str,
    make: Callable[[Store], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """The state a run that never crashed leaves, as ``make`` runs it on a database of its own
    and reads it: the same whichever step a crash is tried at, so made once a worker's run for
    each ``name`` and store. (What it compares must not depend on the test that made it: ids
    and times reduced, and the same secrets in every test that asks.)"""
    key = (name, mongo_uri)
    if key not in _UNINTERRUPTED:
        async with other_database(settings, mongo_uri) as other:
            _UNINTERRUPTED[key] = await make(other)
    return _UNINTERRUPTED[key]


class CommandCounter(monitoring.CommandListener):
    """The commands a client sent (give it as one of the client's event listeners)."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        # A getMore continues a query whose answer outgrew the first batch (it grows with the
        # data returned, not the number of queries); endSessions is the client closing.
        if event.command_name not in ("getMore", "endSessions"):
            self.commands.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def counted_graphql(
    mongo_uri: str,
    settings: Settings,
    document: str,
    role: Role,
    variables: dict[str, Any] | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """``document`` run by a schema whose services talk to the store through a client that
    counts its commands: the commands, and the answer's data."""
    counter = CommandCounter()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[counter]
    )
    try:
        context = Context(
            services=Services.build(client.get_database(settings.database), settings),
            caller=Caller(key_id="t", name="test", role=role),
        )
        result = await roomy_schema().execute(
            document, variable_values=variables, context_value=context
        )
        assert result.errors is None, result.errors
        assert result.data is not None
        return counter.commands, result.data
    finally:
        await client.close()
