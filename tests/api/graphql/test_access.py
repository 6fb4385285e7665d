"""Access per role, through the HTTP app: keys, refused fields, masked contact points."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import FieldDefinitionNode, ObjectTypeDefinitionNode, StringValueNode, parse
from pydantic import SecretStr

from c360.api.graphql.schema import render_sdl
from c360.auth.service import Role
from c360.ingest.files import import_file
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from tests import factories as f
from tests.helpers import parse_options, timelines

CASE_TEXT = "Parcel lost; the courier was rude"
COMMENT = "Never again with this courier"

ANA: list[f.Record | str] = [
    f.person(
        identifiers=[f.external("crm", "C-1"), f.email("ana@example.com")],
        addresses=[
            {"line1": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013", "country": "ES"}
        ],
    ),
    f.order(identifiers=[f.email("ana@example.com"), f.phone("+34 600 12 34 56")]),
    f.service_case(description=CASE_TEXT),
    f.service_case(
        external_id="T-0",
        occurred_at="2024-03-01T09:00:00Z",
        status="solved",
        solved_at="2024-03-02T09:00:00Z",
        subject="Wrong size",
        description=CASE_TEXT,
    ),
    f.survey(comment=COMMENT),
    {
        "kind": "consent_change",
        "source": "shop",
        "external_id": "consent-1",
        "occurred_at": "2024-04-01T10:00:00Z",
        "identifiers": [f.email("ana@example.com")],
        "channel": "email",
        "purpose": "marketing",
        "status": "opted_in",
        "contact_point": "ana@example.com",
    },
    {
        "kind": "site_event",
        "source": "web",
        "external_id": "ev-1",
        "occurred_at": "2024-04-02T10:00:00Z",
        "identifiers": [f.email("ana@example.com")],
        "event_type": "identify",
        "properties": {"address": {"street": "Calle Mayor 1", "city": "Madrid"}, "plan": "gold"},
    },
]

CASE_FIELDS = "... on ServiceCaseRecord { status subject description }"
PROFILE = f"""query($value: String!) {{
  profileByIdentifier(type: EMAIL, value: $value) {{ ... on Profile {{
    id displayName emails phones
    identifiers {{ type value }}
    addresses {{ address {{ line1 city postalCode country }} }}
    consents {{ channel contactPoint status }}
    timeline(first: 50) {{ edges {{ node {{
      __typename
      identifiers {{ value }}
      {CASE_FIELDS}
      ... on SurveyResponseRecord {{ score comment }}
      ... on ConsentChangeRecord {{ contactPoint }}
      ... on SiteEventRecord {{ properties }}
      ... on OrderRecord {{ total {{ amount currency }} }}
    }} }} }}
  }} }}
}}"""
PAST_AND_OPEN = f"""query($value: String!) {{
  profileByIdentifier(type: EMAIL, value: $value) {{ ... on Profile {{
    pastProblems {{ {CASE_FIELDS} }} openCases {{ {CASE_FIELDS} }} }} }} }}"""
SEARCH = f"""{{ searchProfiles(text: "Ana@Example.com") {{ edges {{ node {{
    emails pastProblems {{ {CASE_FIELDS} }} timeline {{ edges {{ node {{ {CASE_FIELDS} }} }} }}
}} }} }} }}"""
MERGES = """query($value: String!) { profileByIdentifier(type: EMAIL, value: $value) {
    ... on Profile { merges { id } matchSuggestions { id } } } }"""
KEYS = "{ apiKeys { id role } }"
CREATE_KEY = """mutation { createApiKey(role: MARKETING, name: "newsletter tool") {
    __typename ... on NewApiKey { key apiKey { id role } } ... on Error { code } } }"""
REVOKE_KEY = """mutation($id: ID!) { revokeApiKey(id: $id) {
    __typename ... on ApiKey { revokedAt } ... on Error { code } } }"""


@pytest.fixture
async def ana(services: Services, tmp_path: Path) -> None:
    path = f.write_jsonl(tmp_path / "ana.jsonl", ANA)
    summary = await import_file(
        services.ingest, "canonical", str(path), parse_options(default_region="ES")
    )
    assert summary.rejected == 0, summary.errors


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    """The whole GraphQL response (data and errors) of a request that was let in."""
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def nodes(profile: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in profile["timeline"]["edges"]]


def forbidden_paths(body: dict[str, Any]) -> list[str]:
    return sorted(
        ".".join(str(p) for p in e["path"])
        for e in body.get("errors", [])
        if e["extensions"]["code"] == "Forbidden"
    )


def ndjson(*records: dict[str, Any]) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode()


class TestWithoutAKey:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_graphql_is_401_with_a_bearer_challenge(
        self, client: httpx.AsyncClient, method: str
    ) -> None:
        query = {"query": "{ __typename }"}
        if method == "GET":
            response = await client.get("/graphql", params=query)
        else:
            response = await client.post("/graphql", json=query)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"].startswith("application/graphql-response+json")
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "Unauthenticated"
        assert "data" not in response.json()

    async def test_ingest_is_401_and_stores_nothing(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        response = await client.post("/ingest/canonical", content=ndjson(f.order()))
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"] == "Unauthenticated"
        assert await store.db.records.count_documents({}) == 0

    async def test_a_revoked_key_is_401(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        headers = await f.api_key(services, Role.AGENT)
        key_id = headers["authorization"].split("_")[1]
        await services.keys.revoke(key_id, dt.datetime.now(dt.UTC))
        response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        assert response.status_code == 401
        assert "revoked" in response.json()["errors"][0]["message"]

    @pytest.mark.parametrize("path", ["/graphql", "/ingest/canonical", "/metrics"])
    async def test_two_keys_in_two_headers_are_401_whichever_comes_first(
        self, client: httpx.AsyncClient, services: Services, path: str
    ) -> None:
        """A proxy or a client that adds its header to one already there sends two; which one
        is meant cannot be told, so neither is taken (the first was: a marketing key followed
        by an admin one read as marketing, and the other way round as admin)."""
        admin = (await f.api_key(services, Role.ADMIN))["authorization"]
        marketing = (await f.api_key(services, Role.MARKETING))["authorization"]
        for first, second in [(admin, marketing), (marketing, admin), (admin, admin)]:
            headers = httpx.Headers([("authorization", first), ("authorization", second)])
            if path == "/graphql":
                response = await client.post(
                    path, json={"query": "{ apiKeys { id } }"}, headers=headers
                )
            elif path == "/metrics":
                response = await client.get(
                    path, headers=[*headers.raw, (b"x-forwarded-for", b"203.0.113.9")]
                )
            else:
                response = await client.post(path, content=ndjson(f.order()), headers=headers)
            assert response.status_code == 401, response.text
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "one Authorization header" in response.text

    async def test_the_graphiql_page_needs_none(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/graphql", headers={"accept": "text/html"})
        assert response.status_code == 200
        assert "graphiql" in response.text.lower()


class TestWebhooks:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"shopify_webhook_secret": SecretStr("s3cret")})

    async def test_are_let_in_by_their_signature_not_a_key(self, client: httpx.AsyncClient) -> None:
        body = b'{"id": 1}'
        signature = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest())
        headers = {"x-shopify-hmac-sha256": signature.decode(), "x-shopify-topic": "shop/update"}
        response = await client.post("/webhooks/shopify", content=body, headers=headers)
        assert response.status_code == 200
        assert response.json() == {
            "ignored": True,
            "topic": "shop/update",
            "reason": "topic 'shop/update' carries nothing c360 reads",
        }


@pytest.mark.usefixtures("ana")
class TestAgent:
    async def test_reads_the_whole_profile_and_service_history(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        body = await post(
            client, await f.api_key(services, Role.AGENT), PROFILE, value="ana@example.com"
        )
        assert "errors" not in body
        profile = body["data"]["profileByIdentifier"]
        assert profile["emails"] == ["ana@example.com"]
        assert profile["phones"] == ["+34600123456"]
        assert {"type": "EXTERNAL", "value": "C-1"} in profile["identifiers"]
        assert profile["addresses"][0]["address"]["line1"] == "Calle Mayor 1"
        cases = [n for n in nodes(profile) if n["__typename"] == "ServiceCaseRecord"]
        assert {c["description"] for c in cases} == {CASE_TEXT}
        (survey,) = [n for n in nodes(profile) if n["__typename"] == "SurveyResponseRecord"]
        assert survey["comment"] == COMMENT

    async def test_reads_merge_history(self, client: httpx.AsyncClient, services: Services) -> None:
        body = await post(
            client, await f.api_key(services, Role.AGENT), MERGES, value="ana@example.com"
        )
        assert "errors" not in body
        assert body["data"]["profileByIdentifier"] == {"merges": [], "matchSuggestions": []}

    async def test_may_not_manage_keys(self, client: httpx.AsyncClient, services: Services) -> None:
        body = await post(client, await f.api_key(services, Role.AGENT), KEYS)
        assert body["data"] == {"apiKeys": None}
        assert forbidden_paths(body) == ["apiKeys"]
        created = await post(client, await f.api_key(services, Role.AGENT), CREATE_KEY)
        assert created["data"]["createApiKey"] == {
            "__typename": "ForbiddenError",
            "code": "Forbidden",
        }

    async def test_may_not_ingest(self, client: httpx.AsyncClient, services: Services) -> None:
        response = await client.post(
            "/ingest/canonical",
            content=ndjson(f.order()),
            headers=await f.api_key(services, Role.AGENT),
        )
        assert response.status_code == 403
        assert response.json()["error"] == "Forbidden"


@pytest.mark.usefixtures("ana")
class TestMarketing:
    async def test_reads_no_case_text_in_the_timeline(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        body = await post(
            client, await f.api_key(services, Role.MARKETING), PROFILE, value="ana@example.com"
        )
        assert CASE_TEXT not in json.dumps(body)
        assert COMMENT not in json.dumps(body)
        profile = body["data"]["profileByIdentifier"]
        cases = [n for n in nodes(profile) if n["__typename"] == "ServiceCaseRecord"]
        assert [(c["status"], c["subject"], c["description"]) for c in cases] == [
            ("OPEN", None, None),
            ("SOLVED", None, None),
        ]
        (survey,) = [n for n in nodes(profile) if n["__typename"] == "SurveyResponseRecord"]
        assert survey == {
            "__typename": "SurveyResponseRecord",
            "identifiers": [{"value": "a•••@example.com"}],
            "score": 9,
            "comment": None,
        }
        refused = forbidden_paths(body)
        assert len(refused) == 5  # two subjects, two descriptions, one comment
        assert all(p.startswith("profileByIdentifier.timeline.edges.") for p in refused)
        assert {p.rsplit(".", 1)[1] for p in refused} == {"subject", "description", "comment"}

    async def test_refusals_are_answers_not_logged_server_errors(
        self, client: httpx.AsyncClient, services: Services, caplog: pytest.LogCaptureFixture
    ) -> None:
        body = await post(
            client, await f.api_key(services, Role.MARKETING), PROFILE, value="ana@example.com"
        )
        assert forbidden_paths(body)
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []

    async def test_reads_no_case_text_in_past_problems_or_open_cases(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        body = await post(
            client,
            await f.api_key(services, Role.MARKETING),
            PAST_AND_OPEN,
            value="ana@example.com",
        )
        assert CASE_TEXT not in json.dumps(body)
        profile = body["data"]["profileByIdentifier"]
        assert profile["pastProblems"] == [
            {"status": "SOLVED", "subject": None, "description": None}
        ]
        assert profile["openCases"] == [{"status": "OPEN", "subject": None, "description": None}]
        assert forbidden_paths(body) == [
            "profileByIdentifier.openCases.0.description",
            "profileByIdentifier.openCases.0.subject",
            "profileByIdentifier.pastProblems.0.description",
            "profileByIdentifier.pastProblems.0.subject",
        ]

    async def test_reads_no_case_text_through_search(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        body = await post(client, await f.api_key(services, Role.MARKETING), SEARCH)
        assert CASE_TEXT not in json.dumps(body)
        (edge,) = body["data"]["searchProfiles"]["edges"]
        assert edge["node"]["emails"] == ["a•••@example.com"]
        assert len(forbidden_paths(body)) == 6  # 2 past problem fields, 4 in the timeline

    async def test_sees_contact_points_masked(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        body = await post(
            client, await f.api_key(services, Role.MARKETING), PROFILE, value="ana@example.com"
        )
        profile = body["data"]["profileByIdentifier"]
        assert profile["displayName"] == "Ana García"
        assert profile["emails"] == ["a•••@example.com"]
        assert profile["phones"] == ["+34•••••••56"]
        assert sorted(i["value"] for i in profile["identifiers"]) == [
            "+34•••••••56",
            "C•••",
            "a•••@example.com",
        ]
        assert profile["addresses"] == [
            {"address": {"line1": "C•••", "city": "Madrid", "postalCode": "28•••", "country": "ES"}}
        ]
        assert profile["consents"] == [
            {"channel": "EMAIL", "contactPoint": "a•••@example.com", "status": "OPTED_IN"}
        ]
        by_type = {n["__typename"]: n for n in nodes(profile)}
        assert by_type["ConsentChangeRecord"]["contactPoint"] == "a•••@example.com"
        assert by_type["SiteEventRecord"]["properties"] == {
            "address": {"street": "C•••", "city": "M•••"},
            "plan": "gold",
        }
        assert by_type["OrderRecord"]["total"] == {"amount": 2500, "currency": "EUR"}
        assert "ana@example.com" not in json.dumps(body)
        assert "600123456" not in json.dumps(body)

    async def test_reads_no_merge_history(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        body = await post(
            client, await f.api_key(services, Role.MARKETING), MERGES, value="ana@example.com"
        )
        assert body["data"]["profileByIdentifier"] == {"merges": None, "matchSuggestions": None}
        assert forbidden_paths(body) == [
            "profileByIdentifier.matchSuggestions",
            "profileByIdentifier.merges",
        ]
        message = body["errors"][0]["message"]
        assert "marketing keys may not read Profile." in message
        assert "identityHistory" in message

    async def test_may_not_ingest(self, client: httpx.AsyncClient, services: Services) -> None:
        response = await client.post(
            "/ingest/canonical",
            content=ndjson(f.order()),
            headers=await f.api_key(services, Role.MARKETING),
        )
        assert response.status_code == 403


class TestConnector:
    async def test_ingests(
        self, client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        response = await client.post(
            "/ingest/canonical",
            content=ndjson(f.order()),
            headers=await f.api_key(services, Role.CONNECTOR),
        )
        assert response.status_code == 200
        assert response.json()["inserted"] == 1
        stored = await timelines(services, store)
        assert [r.id for records in stored.values() for r in records] == ["shop:order:1001"]

    async def test_may_not_use_graphql_at_all(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        response = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers=await f.api_key(services, Role.CONNECTOR),
        )
        assert response.status_code == 403
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "Forbidden"
        assert "connector keys" in error["message"]


@pytest.mark.usefixtures("ana")
class TestAdmin:
    async def test_reads_everything(self, client: httpx.AsyncClient, services: Services) -> None:
        admin = await f.api_key(services, Role.ADMIN)
        profile, merges, cases = [
            await post(client, admin, query, value="ana@example.com")
            for query in (PROFILE, MERGES, PAST_AND_OPEN)
        ]
        assert all("errors" not in body for body in (profile, merges, cases))
        assert CASE_TEXT in json.dumps(cases)

    async def test_manages_keys(self, client: httpx.AsyncClient, services: Services) -> None:
        admin = await f.api_key(services, Role.ADMIN)
        created = (await post(client, admin, CREATE_KEY))["data"]["createApiKey"]
        assert created["__typename"] == "NewApiKey"
        assert created["apiKey"]["role"] == "MARKETING"
        new_key = {"authorization": f"Bearer {created['key']}"}
        listed = (await post(client, admin, KEYS))["data"]["apiKeys"]
        assert {"id": created["apiKey"]["id"], "role": "MARKETING"} in listed
        assert "errors" not in await post(client, new_key, "{ __typename }")

        revoked = await post(client, admin, REVOKE_KEY, id=created["apiKey"]["id"])
        assert revoked["data"]["revokeApiKey"]["revokedAt"] is not None
        response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=new_key)
        assert response.status_code == 401

    async def test_revoking_an_unknown_key_is_a_typed_not_found(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        body = await post(client, await f.api_key(services, Role.ADMIN), REVOKE_KEY, id="nope")
        assert body["data"]["revokeApiKey"] == {
            "__typename": "NotFoundError",
            "code": "ApiKeyNotFound",
        }

    async def test_ingests(self, client: httpx.AsyncClient, services: Services) -> None:
        response = await client.post(
            "/ingest/canonical",
            content=ndjson(f.order(external_id="2")),
            headers=await f.api_key(services, Role.ADMIN),
        )
        assert response.status_code == 200


class TestTheSchemaSaysWhoReadsWhat:
    """Case text is refused on its own types, so every path to it — today's and tomorrow's —
    inherits the rule; a new field of that name anywhere must state one too."""

    def test_every_case_text_field_requires_the_permission(self) -> None:
        types = [
            d for d in parse(render_sdl()).definitions if isinstance(d, ObjectTypeDefinitionNode)
        ]
        unguarded = [
            f"{t.name.value}.{field.name.value}"
            for t in types
            for field in t.fields or ()
            if field.name.value in {"subject", "description", "comment"}
            and _requires(field) != "caseText"
        ]
        assert unguarded == []
        assert "ServiceCaseRecord" in {t.name.value for t in types}


def _requires(field: FieldDefinitionNode) -> str | None:
    for directive in field.directives or ():
        if directive.name.value == "requires":
            for argument in directive.arguments or ():
                if argument.name.value == "permission" and isinstance(
                    argument.value, StringValueNode
                ):
                    return argument.value.value
    return None
