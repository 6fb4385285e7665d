"""What test modules share beside the fixtures: GraphQL requests that must succeed, what the
connectors are told, records imported (at once or step by step), what the store holds as its
repositories and services hand it out (records, profiles, identities, merges, suggestions), and
hooks that crash a merge."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import strawberry
from fastapi import FastAPI

from c360.api.app import create_app, graphql_limits
from c360.api.graphql.schema import build_schema
from c360.audit.repository import AuditQuery
from c360.audit.service import MAX_PAGE as MAX_AUDIT_PAGE
from c360.audit.types import AuditEntry
from c360.identity.repository import IdentityRepository
from c360.identity.types import MergeEntry, ProfileIdentifier, Suggestion
from c360.ingest.files import import_file
from c360.ingest.repository import StoredDeadLetter
from c360.ingest.service import IngestSummary
from c360.metrics.aggregate import Aggregate
from c360.profiles.repository import ProfileRepository
from c360.profiles.service import MAX_PAGE_SIZE
from c360.records.repository import RecordRepository
from c360.records.types import Record
from c360.services import Services
from c360.settings import Settings
from c360.steps import StepHook
from c360.store import Store
from connectors import ParseOptions, get_connector
from schemas import IdentifierType
from tests import factories as f

DEFAULTS = Settings(_env_file=None)
"""The settings a fresh install runs with: what a test that configures nothing is told."""
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""A fixed instant for tests whose outcome must not depend on the day they run."""
EMAIL_A, EMAIL_B, PHONE = "a@example.com", "b@example.com", "+34 611 22 33 44"
DAY_1 = "2024-05-01T10:00:00Z"

UNMERGE = """mutation($id: ID!) { unmergeProfile(mergeId: $id, reason: "no") {
  ... on Merge { status undoneAt } } }"""


async def gql(
    client: httpx.AsyncClient,
    query: str,
    headers: dict[str, str] | None = None,
    /,
    **variables: Any,
) -> dict[str, Any]:
    """The ``data`` of a GraphQL request that must succeed with no errors at all; ``headers``
    (an API key of another role) are sent with this request, over the client's."""
    payload = {"query": query, "variables": variables}
    response = await client.post("/graphql", json=payload, headers=headers or {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body.get("errors") is None, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


@asynccontextmanager
async def asgi_client(
    app: FastAPI, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app in this process (ASGI), sending ``headers`` with every request."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://c360.test", headers=headers
    ) as client:
        yield client


_SCHEMAS: dict[tuple[int, int, int | None], strawberry.Schema] = {}


def schema_for(limits: tuple[int, int, int | None]) -> strawberry.Schema:
    """The schema of these GraphQL limits (depth, tokens, cost: None for none), built once a
    run: building one takes a good part of a second."""
    if limits not in _SCHEMAS:
        _SCHEMAS[limits] = build_schema(*limits)
    return _SCHEMAS[limits]


def roomy_schema() -> strawberry.Schema:
    """A schema whose limits let through the large documents tests send to the services, and
    whose cost is not limited."""
    return schema_for((15, 50_000, None))


def app_for(settings: Settings) -> FastAPI:
    """``create_app(settings)`` with a schema shared by every app of the run that has the same
    GraphQL limits: built once, as a served process builds it at start-up, not once a test."""
    return create_app(settings, schema=schema_for(graphql_limits(settings)))


_APPS: dict[str, FastAPI] = {}


def shared_app(settings: Settings) -> FastAPI:
    """An app for ``settings`` shared by the tests of this process whose settings differ from
    them only in their database and data directory: the ``app`` fixture starts it (its
    lifespan) on its test's, one test at a time. FastAPI builds an app's routes on its first
    request, tens of milliseconds a test otherwise; a test that starts two apps at once builds
    them with :func:`app_for`."""
    key = settings.model_dump_json(exclude={"database", "data_dir"}, warnings=False)
    app = _APPS.get(key)
    if app is None:
        app = _APPS[key] = app_for(settings)
    app.state.settings = settings
    return app


def parse_options(**fields: Any) -> ParseOptions:
    """What the connectors are told under the default settings, with ``fields`` replaced."""
    return dataclasses.replace(DEFAULTS.parse_options(), **fields)


def history(*, bridge: bool) -> list[list[f.Record]]:
    """Imports in order: two people, (the record that shows they are one), then more."""
    steps = [
        [f.order(external_id="1", occurred_at=DAY_1, identifiers=[f.email(EMAIL_A)])],
        [
            f.order(
                external_id="2", occurred_at="2024-05-02T10:00:00Z", identifiers=[f.phone(PHONE)]
            )
        ],
        [
            f.order(
                external_id="3", occurred_at=DAY_1, identifiers=[f.email(EMAIL_A), f.phone(PHONE)]
            )
        ],
        [
            f.order(
                external_id="4", occurred_at="2024-05-04T10:00:00Z", identifiers=[f.phone(PHONE)]
            )
        ],
        [
            f.order(
                external_id="5",
                occurred_at="2024-05-05T10:00:00Z",
                identifiers=[f.phone(PHONE), f.email(EMAIL_B)],
            )
        ],
        # Linked only through an identifier that joined the absorbed side after the merge.
        [
            f.order(
                external_id="6", occurred_at="2024-05-06T10:00:00Z", identifiers=[f.email(EMAIL_B)]
            )
        ],
    ]
    return steps if bridge else [s for i, s in enumerate(steps) if i != 2]


async def run(services: Services, tmp_path: Path, steps: list[list[f.Record]]) -> None:
    """Import each step's canonical records as a file of its own, in order; none may be
    rejected."""
    for number, records in enumerate(steps):
        path = f.write_jsonl(tmp_path / f"step{number}.jsonl", list(records))
        summary = await import_file(
            services.ingest, "canonical", str(path), parse_options(default_region="ES")
        )
        assert summary.rejected == 0, summary.errors


async def imported(services: Services, records: list[f.Record]) -> IngestSummary:
    """Canonical records imported in one batch, as a file of them would be (under the default
    region of :func:`run`); none may be rejected."""
    lines = "".join(json.dumps(r) + "\n" for r in records).encode()
    items = get_connector("canonical").parse(io.BytesIO(lines), parse_options(default_region="ES"))
    summary = await services.ingest.ingest("canonical", items, origin="tests")
    assert summary.rejected == 0, summary.errors
    return summary


async def profile_of(services: Services, kind: IdentifierType, value: str) -> str:
    """The id of the profile an identifier belongs to."""
    return str((await services.profiles.by_identifier(kind, value)).id)


async def merge_of(services: Services, kind: IdentifierType, value: str, rule: str) -> MergeEntry:
    """The one merge by ``rule`` that the profile holding this identifier took part in, as the
    merge history tells it."""
    history = await services.merges.history(await profile_of(services, kind, value))
    [entry] = [e for e in history if e.rule == rule]
    return entry


async def find_record(store: Store, record_id: str) -> Record | None:
    """The stored record with this id (``{source}:{kind}:{external_id}``), None when there is
    none."""
    return await RecordRepository(store.db).get(record_id)


async def record(store: Store, record_id: str) -> Record:
    """The stored record with this id, which must be there."""
    found = await find_record(store, record_id)
    assert found is not None, f"no record {record_id}"
    return found


async def owner(store: Store, key: str) -> str | None:
    """The profile holding this identity key (``email:ana@example.com``) itself, None when no
    profile does: not followed to the survivor of a merge, as a lookup by identifier is."""
    return await IdentityRepository(store.db).owner(key)


async def identity_keys(services: Services, profile_id: str) -> list[str]:
    """The keys of the identities a profile holds, sorted."""
    [held] = await services.profiles.identifiers([profile_id])
    return [identifier.key for identifier in held]


async def live_profiles(store: Store) -> list[str]:
    """The ids of the profiles no merge absorbed, sorted."""
    return sorted([profile_id async for profile_id in ProfileRepository(store.db).live_ids()])


async def timelines(services: Services, store: Store) -> dict[str, list[Record]]:
    """Live profile → every record on its timeline, newest first (profiles with none left
    out)."""
    found: dict[str, list[Record]] = {}
    for profile_id in await live_profiles(store):
        records: list[Record] = []
        after = None
        while True:
            page = await services.profiles.timeline(profile_id, first=MAX_PAGE_SIZE, after=after)
            records += [r for _, r in page.items]
            if not page.has_next_page:
                break
            after = page.items[-1][0]
        if records:
            found[profile_id] = records
    return found


async def all_merges(services: Services, store: Store) -> list[MergeEntry]:
    """Every entry of the merge journal, whatever its status, in id order: the histories of the
    live profiles and, through them, of every profile they absorbed."""
    found: dict[str, MergeEntry] = {}
    todo = await live_profiles(store)
    seen: set[str] = set()
    while todo:
        profile_id = todo.pop()
        if profile_id not in seen:
            seen.add(profile_id)
            for entry in await services.merges.history(profile_id):
                found[entry.id] = entry
                todo += [entry.absorbed, entry.survivor]
    return [found[merge_id] for merge_id in sorted(found)]


async def all_profiles(services: Services, store: Store) -> list[str]:
    """The ids of every profile, sorted: the live ones and those the merge journal says they
    absorbed."""
    absorbed = {entry.absorbed for entry in await all_merges(services, store)}
    return sorted(absorbed.union(await live_profiles(store)))


async def all_identifiers(services: Services, store: Store) -> list[ProfileIdentifier]:
    """The identifiers every profile holds, by key."""
    held = await services.profiles.identifiers(await all_profiles(services, store))
    return sorted((i for identifiers in held for i in identifiers), key=lambda i: i.key)


async def all_suggestions(services: Services, store: Store) -> list[Suggestion]:
    """Every match suggestion, whatever its status, in id order."""
    found = {
        suggestion.id: suggestion
        for profile_id in await all_profiles(services, store)
        for suggestion in await services.merges.suggestions(profile_id)
    }
    return [found[suggestion_id] for suggestion_id in sorted(found)]


async def stored_aggregate(services: Services, profile_id: str) -> Aggregate:
    """The aggregate stored for this profile's metrics, which must be there (an absorbed
    profile keeps none)."""
    stored = (await services.metrics.current([profile_id]))[profile_id]
    assert stored is not None, f"no aggregate for {profile_id}"
    return stored.aggregate


async def dead_letters(services: Services) -> list[StoredDeadLetter]:
    """Every dead letter (up to ten thousand), the most recently rejected first."""
    return await services.dead_letters.recent(None, 10_000)


async def audit_entries(
    services: Services, *, what: str | None = None, operation: str | None = None, **query: Any
) -> list[AuditEntry]:
    """The access audit's entries that :class:`AuditQuery` ``query`` selects (profile_id, key_id,
    action, since, until), those of ``what`` and ``operation`` when given; oldest first."""
    found: list[AuditEntry] = []
    after = None
    while True:
        page = await services.audit.page(AuditQuery(**query), first=MAX_AUDIT_PAGE, after=after)
        found += page.entries
        if not page.has_next_page:
            break
        after = page.entries[-1].seq
    return [
        e
        for e in reversed(found)
        if (what is None or what in e.what) and (operation is None or e.operation == operation)
    ]


class Crash(Exception):
    """What :func:`crash_at` raises: a process killed at that step."""


def crash_at(wanted: str) -> StepHook:
    """A merge step hook that stops the merge (or unmerge) at step ``wanted``."""

    async def hook(step: str) -> None:
        if step == wanted:
            raise Crash(step)

    return hook


async def reviewed(services: Services, request_id: str) -> str | None:
    """A privacy request's scope fingerprint, as the officer who reviewed its scope
    acknowledges it to run the request past its warnings."""
    scope = await services.privacy.scope(request_id)
    return None if scope is None else scope.fingerprint
