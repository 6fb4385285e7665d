"""The access audit: unmasked reads, lookups, exports and mutations appended with key, role,
profile, request and time, in one write per request; read back by admins (auditLog, c360
audit), and kept for the retention period."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from c360.audit.repository import AuditRepository
from c360.audit.types import Action, AuditEntry
from c360.auth.service import Caller, Role
from c360.ingest.files import import_file
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from schemas.identifiers import IdentifierType
from tests import factories as f
from tests.helpers import audit_entries, parse_options
from tests.served import run_c360

VIEW = """query AgentView($value: String!) {
  profileByIdentifier(type: EMAIL, value: $value) {
    ... on Profile {
      id emails displayName
      timeline(first: 10) { edges { node { ... on ServiceCaseRecord { subject status } } } }
    }
  }
}"""
NAMES_ONLY = """query Names($id: ID!) { profile(id: $id) { ... on Profile { displayName } } }"""
SEARCH = """query Find($text: String!) { searchProfiles(text: $text) {
  edges { node { id emails } } } }"""
DECISION = """query Decide($id: ID!) { contactDecision(profileId: $id, channel: EMAIL,
  purpose: "service") { ... on ContactDecision { contactPoint allowed } } }"""
MERGE = """mutation Merge($a: ID!, $b: ID!) { mergeProfiles(survivorId: $a, absorbedId: $b,
  reason: "same person", dryRun: true) { __typename } }"""
AUDIT_LOG = """query Log($profileId: ID, $keyId: String, $action: AuditAction,
  $since: DateTime, $until: DateTime, $first: Int!, $after: String) {
  auditLog(profileId: $profileId, keyId: $keyId, action: $action, since: $since,
    until: $until, first: $first, after: $after) {
    edges { cursor node { id at keyId keyName role action operation what detail profileId
      requestId } }
    pageInfo { hasNextPage endCursor }
  }
}"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A marketing tool handed service addresses in full, to see what it was handed audited."""
    purposes = [*settings.contact_marketing_purposes, "service"]
    return settings.model_copy(update={"contact_marketing_purposes": purposes})


def people() -> list[f.Record | str]:
    return [
        f.person(external_id="C-1", identifiers=[f.external("crm", "C-1"), f.email("ana@x.com")]),
        f.service_case(identifiers=[f.email("ana@x.com")], subject="Broken zip"),
        f.person(
            external_id="C-2",
            identifiers=[f.external("crm", "C-2"), f.email("anabel@x.com")],
            given_name="Anabel",
        ),
    ]


@pytest.fixture
async def profiles(services: Services, tmp_path: Path) -> dict[str, str]:
    path = f.write_jsonl(tmp_path / "people.jsonl", people())
    summary = await import_file(
        services.ingest, "canonical", str(path), parse_options(default_region="ES")
    )
    assert summary.rejected == 0, summary.errors
    found = {}
    for email in ("ana@x.com", "anabel@x.com"):
        doc = await services.profiles.by_identifier(IdentifierType.EMAIL, email)
        found[email] = doc.id
    return found


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, **variables: Any
) -> httpx.Response:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response


async def store_inserts(client: httpx.AsyncClient) -> float:
    """Insert commands this process has sent so far, from /metrics."""
    response = await client.get("/metrics")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "c360_store_command_duration_seconds_count" and sample.labels == {
                "command": "insert",
                "outcome": "ok",
            }:
                return sample.value
    return 0.0


def key_id(headers: dict[str, str]) -> str:
    return headers["authorization"].split("_")[1]


class TestReads:
    async def test_unmasked_contact_points_and_case_text_are_one_entry_per_profile(
        self, client: httpx.AsyncClient, services: Services, store: Store, profiles: dict[str, str]
    ) -> None:
        headers = await f.api_key(services, Role.AGENT)
        response = await post(client, headers, VIEW, value="ana@x.com")
        assert "errors" not in response.json()
        reads = await audit_entries(services, action="read")
        assert len(reads) == 1
        (read,) = reads
        assert read.profile_id == profiles["ana@x.com"]
        assert read.what == ("Profile.emails", "ServiceCaseRecord.subject")
        assert read.key_id == key_id(headers)
        assert read.role == "agent"
        assert read.operation == "query AgentView"
        assert read.request_id == response.headers["x-request-id"]
        assert abs(read.at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)

    async def test_masked_reads_are_not_and_nothing_sensitive_is_nothing(
        self, client: httpx.AsyncClient, services: Services, store: Store, profiles: dict[str, str]
    ) -> None:
        marketing = await f.api_key(services, Role.MARKETING)
        await post(client, marketing, VIEW, value="ana@x.com")
        agent = await f.api_key(services, Role.AGENT)
        await post(client, agent, NAMES_ONLY, id=profiles["ana@x.com"])
        assert await audit_entries(services, action="read") == []

    async def test_a_search_is_one_write_for_every_profile_it_shows(
        self, client: httpx.AsyncClient, services: Services, store: Store, profiles: dict[str, str]
    ) -> None:
        headers = await f.api_key(services, Role.AGENT)
        inserts = await store_inserts(client)
        await post(client, headers, SEARCH, text="ana")
        assert await store_inserts(client) - inserts == 1  # reads and lookups of two profiles
        reads = await audit_entries(services, action="read")
        assert sorted(str(r.profile_id) for r in reads) == sorted(profiles.values())
        assert {r.what for r in reads} == {("Profile.emails",)}

    async def test_the_contact_point_a_decision_hands_out_is_audited_for_any_role(
        self, client: httpx.AsyncClient, services: Services, store: Store, profiles: dict[str, str]
    ) -> None:
        headers = await f.api_key(services, Role.MARKETING)
        body = (await post(client, headers, DECISION, id=profiles["ana@x.com"])).json()
        assert body["data"]["contactDecision"]["contactPoint"] == "ana@x.com"
        (read,) = await audit_entries(services, action="read")
        assert (read.what, read.profile_id) == (
            ("ContactDecision.contactPoint",),
            profiles["ana@x.com"],
        )


class TestLookupsExportsAndMutations:
    async def test_lookups_with_what_was_asked_and_what_was_found(
        self, client: httpx.AsyncClient, services: Services, store: Store, profiles: dict[str, str]
    ) -> None:
        headers = await f.api_key(services, Role.MARKETING)
        await post(client, headers, VIEW, value="ana@x.com")
        await post(client, headers, VIEW, value="nobody@x.com")
        await post(client, headers, SEARCH, text="ana")
        lookups = await audit_entries(services, action="lookup")
        assert [(e.what, e.profile_id, e.detail) for e in lookups[:2]] == [
            (("profileByIdentifier",), profiles["ana@x.com"], "email:ana@x.com"),
            (("profileByIdentifier",), None, "email:nobody@x.com"),
        ]
        assert sorted(str(e.profile_id) for e in lookups[2:]) == sorted(profiles.values())
        assert {(e.what, e.detail) for e in lookups[2:]} == {(("searchProfiles",), "ana")}
        assert {e.role for e in lookups} == {"marketing"}

    async def test_an_export_names_everyone_it_handed_out(
        self, client: httpx.AsyncClient, services: Services, store: Store, profiles: dict[str, str]
    ) -> None:
        headers = await f.api_key(services, Role.MARKETING)
        response = await client.get(
            "/audiences/export",
            params={"channel": "email", "purpose": "service", "format": "csv"},
            headers=headers,
        )
        assert response.status_code == 200
        exported = {line.split(",")[0] for line in response.text.splitlines()[1:]}
        assert exported == set(profiles.values())
        audited = await audit_entries(services, action="export")
        assert {e.profile_id for e in audited} == exported
        assert {e.operation for e in audited} == {"GET /audiences/export"}
        asked = json.loads(str(audited[0].detail))  # what was asked, as values
        assert {k: asked[k] for k in ("channel", "purpose", "format", "country")} == {
            "channel": "email",
            "purpose": "service",
            "format": "csv",
            "country": [],
        }
        assert dt.datetime.fromisoformat(asked["at"]).tzinfo is not None
        assert audited[0].request_id == response.headers["x-request-id"]

    async def test_mutations_with_their_arguments_and_profiles(
        self, client: httpx.AsyncClient, services: Services, store: Store, profiles: dict[str, str]
    ) -> None:
        headers = await f.api_key(services, Role.ADMIN)
        a, b = profiles["ana@x.com"], profiles["anabel@x.com"]
        await post(client, headers, MERGE, a=a, b=b)
        merges = await audit_entries(services, action="mutation", what="mergeProfiles")
        assert sorted(str(e.profile_id) for e in merges) == sorted([a, b])
        assert json.loads(str(merges[0].detail))["reason"] == "same person"
        assert merges[0].operation == "mutation Merge"

    async def test_a_refused_mutation_is_audited_too(
        self, client: httpx.AsyncClient, services: Services, store: Store, profiles: dict[str, str]
    ) -> None:
        headers = await f.api_key(services, Role.MARKETING)
        body = (
            await post(client, headers, MERGE, a=profiles["ana@x.com"], b=profiles["anabel@x.com"])
        ).json()
        assert body["data"]["mergeProfiles"]["__typename"] == "ForbiddenError"
        assert {e.role for e in await audit_entries(services, action="mutation")} == {"marketing"}


class TestReadingTheAudit:
    async def test_admins_filter_and_page_it(
        self, client: httpx.AsyncClient, services: Services, store: Store, profiles: dict[str, str]
    ) -> None:
        agent = await f.api_key(services, Role.AGENT)
        for _ in range(3):
            await post(client, agent, VIEW, value="ana@x.com")
        await post(client, agent, VIEW, value="anabel@x.com")
        admin = await f.api_key(services, Role.ADMIN)
        ana = profiles["ana@x.com"]

        async def log(**variables: Any) -> dict[str, Any]:
            body = (await post(client, admin, AUDIT_LOG, **variables)).json()
            assert "errors" not in body, body
            result: dict[str, Any] = body["data"]["auditLog"]
            return result

        first = await log(profileId=ana, action="READ", first=2)
        assert [e["node"]["profileId"] for e in first["edges"]] == [ana, ana]
        assert first["pageInfo"]["hasNextPage"] is True
        rest = await log(
            profileId=ana, action="READ", first=2, after=first["pageInfo"]["endCursor"]
        )
        assert len(rest["edges"]) == 1
        assert rest["pageInfo"]["hasNextPage"] is False
        times = [e["node"]["at"] for e in first["edges"] + rest["edges"]]
        assert times == sorted(times, reverse=True)  # newest first
        node = first["edges"][0]["node"]
        assert (node["keyId"], node["role"], node["operation"]) == (
            key_id(agent),
            "agent",
            "query AgentView",
        )
        by_key = await log(keyId=key_id(agent), first=50)
        assert {e["node"]["action"] for e in by_key["edges"]} == {"READ", "LOOKUP"}
        assert len(by_key["edges"]) == 8  # four reads, four lookups
        now = dt.datetime.now(dt.UTC)
        assert (await log(since=(now + dt.timedelta(minutes=1)).isoformat(), first=5))[
            "edges"
        ] == []
        window = await log(until=now.isoformat(), keyId=key_id(agent), first=50)
        assert len(window["edges"]) == 8
        # Reading the audit is audited.
        assert await audit_entries(services, what="Query.auditLog", key_id=key_id(admin))

    @pytest.mark.parametrize("role", [Role.AGENT, Role.MARKETING])
    async def test_other_roles_are_refused(
        self, client: httpx.AsyncClient, services: Services, role: Role
    ) -> None:
        body = (await post(client, await f.api_key(services, role), AUDIT_LOG, first=5)).json()
        assert body["data"]["auditLog"] is None
        assert body["errors"][0]["extensions"]["code"] == "Forbidden"

    async def test_a_malformed_cursor_is_refused(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        admin = await f.api_key(services, Role.ADMIN)
        body = (await post(client, admin, AUDIT_LOG, first=5, after="x" * 1000)).json()
        assert body["errors"][0]["extensions"]["code"] == "InvalidAuditCursor"
        assert len(body["errors"][0]["message"]) < 200  # quoted cut, as every refused value
        assert "(1,000 characters)" in body["errors"][0]["message"]


class TestRetention:
    async def test_a_ttl_index_on_the_time_for_the_retention_period(
        self, store: Store, services: Services, settings: Settings
    ) -> None:
        await services.audit.prepare()
        indexes = (await store.db.audit_log.index_information()).values()
        (ttl,) = [i for i in indexes if i["key"] == [("at", 1)]]
        assert ttl["expireAfterSeconds"] == settings.audit_retention_days * 86400

    async def test_prune_removes_what_is_past_it_and_keeps_the_rest(
        self, store: Store, services: Services
    ) -> None:
        caller = Caller(key_id="k1", name="tests", role=Role.ADMIN)
        await services.audit.record(caller, Action.READ, "Profile.emails", operation="q")
        old = dt.datetime.now(dt.UTC) - services.audit.retention - dt.timedelta(hours=1)
        await AuditRepository(store.db).append(
            [AuditEntry("0" * 19 + "-00000000", old, "k0", "tests", "admin", Action.READ, "q", ())]
        )
        assert await services.audit.prune(dt.datetime.now(dt.UTC)) == 1
        assert [e.key_id for e in await audit_entries(services)] == ["k1"]


class TestTheCommand:
    async def test_c360_audit_lists_and_filters_as_json(
        self,
        client: httpx.AsyncClient,
        services: Services,
        store: Store,
        env: dict[str, str],
        profiles: dict[str, str],
    ) -> None:
        await post(client, await f.api_key(services, Role.AGENT), VIEW, value="ana@x.com")
        listed = run_c360(
            "audit", "--profile", profiles["ana@x.com"], "--action", "read", "--json", env=env
        )
        assert listed.returncode == 0, listed.stderr
        (line,) = listed.stdout.splitlines()
        assert json.loads(line)["what"] == ["Profile.emails", "ServiceCaseRecord.subject"]
        text = run_c360("audit", "--limit", "1", env=env)
        assert text.returncode == 0, text.stderr
        assert "more: --after" in text.stderr
        pruned = run_c360("audit", "prune", env=env)
        assert pruned.returncode == 0, pruned.stderr
        assert "removed 0 audit entries older than 365 days" in pruned.stdout
        assert await audit_entries(services, operation="c360 audit")
