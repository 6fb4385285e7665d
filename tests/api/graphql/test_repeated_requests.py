"""What the GraphQL path remembers between requests: checked documents and verified keys. A
remembered answer must be the answer a first request gets, and a revocation must still bite."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from graphql import DocumentNode, GraphQLError

from c360.api.graphql import limits
from c360.api.graphql.schema import build_schema
from c360.auth.repository import ApiKeyRepository
from c360.auth.service import ApiKeyService, Caller, Role, Unauthenticated, VerifiedKeys
from c360.ingest.files import import_file
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from schemas.identifiers import IdentifierType
from tests import factories as f
from tests.helpers import app_for, asgi_client, parse_options

GRAPHQL_RESPONSE = "application/graphql-response+json"
BY_ID = """query View($id: ID!) { profile(id: $id) { __typename
    ... on Profile { id emails timeline(first: 5) { edges { node { __typename } } } } } }"""
PAGE = """query($first: Int) { profile(id: "x") { ... on Profile {
    id timeline(first: $first) { edges { cursor node { id kind } } } } } }"""
FIXED_PAGE = PAGE.replace("($first: Int)", "").replace("$first", "50")
DEEP = """{ profile(id: 1) { ... on Profile {
    timeline { edges { node { identifiers { value } } } } } } }"""
TWO_OPERATIONS = "query A { a: __typename } query B { b: __typename }"
WHOAMI = "{ __typename }"


async def post(client: httpx.AsyncClient, query: str, **body: Any) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, **body})


def key_id(headers: dict[str, str]) -> str:
    return headers["authorization"].split("_")[1]


@pytest.fixture
async def people(services: Services, tmp_path: Path) -> dict[str, str]:
    """Two people, by e-mail: their profile ids."""
    path = f.write_jsonl(
        tmp_path / "people.jsonl",
        [
            f.order(external_id="o-1", identifiers=[f.email("ana@example.com")]),
            f.order(external_id="o-2", identifiers=[f.email("bea@example.com")]),
        ],
    )
    summary = await import_file(
        services.ingest, "canonical", str(path), parse_options(default_region="ES")
    )
    assert summary.rejected == 0, summary.errors
    ids = {}
    for email in ("ana@example.com", "bea@example.com"):
        doc = await services.profiles.by_identifier(IdentifierType.EMAIL, email)
        ids[email] = doc.id
    return ids


class TestARepeatedDocument:
    async def test_answers_each_request_with_its_own_variables(
        self, agent_client: httpx.AsyncClient, people: dict[str, str]
    ) -> None:
        for _ in range(2):
            for email, profile_id in people.items():
                response = await post(agent_client, BY_ID, variables={"id": profile_id})
                assert response.status_code == 200
                body = response.json()
                assert "errors" not in body
                profile = body["data"]["profile"]
                assert (profile["id"], profile["emails"]) == (profile_id, [email])
                assert [e["node"]["__typename"] for e in profile["timeline"]["edges"]] == [
                    "OrderRecord"
                ]

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("{ profile(", "Syntax Error"),
            ("{ noSuchField }", "Cannot query field 'noSuchField'"),
        ],
    )
    async def test_fails_the_same_way_every_time(
        self, agent_client: httpx.AsyncClient, query: str, message: str
    ) -> None:
        first, second = [await post(agent_client, query) for _ in range(2)]
        assert first.status_code == second.status_code == 400
        assert first.json() == second.json()
        assert "data" not in first.json()
        assert message in first.json()["errors"][0]["message"]

    async def test_still_needs_an_operation_name_after_running_with_one(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        named = await post(agent_client, TWO_OPERATIONS, operationName="A")
        assert named.json() == {"data": {"a": "Query"}}
        unnamed = await post(agent_client, TWO_OPERATIONS)
        assert unnamed.status_code == 400
        assert "several operations" in unnamed.json()["errors"][0]["message"]
        assert (await post(agent_client, TWO_OPERATIONS, operationName="B")).json() == {
            "data": {"b": "Query"}
        }

    async def test_unknown_variables_still_fail_after_a_run(
        self, agent_client: httpx.AsyncClient, people: dict[str, str]
    ) -> None:
        ok = await post(agent_client, BY_ID, variables={"id": people["ana@example.com"]})
        assert ok.status_code == 200
        missing = await post(agent_client, BY_ID, variables={})
        assert missing.status_code == 400
        assert "Variable '$id' has invalid value" in (missing.json()["errors"][0]["message"])


class TestLimitsOfARepeatedDocument:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"graphql_max_complexity": 100, "graphql_max_depth": 4})

    async def test_a_cost_set_by_variables_is_counted_for_each_request(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        for first, status in ((10, 200), (50, 400), (10, 200), (50, 400)):
            response = await post(agent_client, PAGE, variables={"first": first})
            assert response.status_code == status, response.text
        (error,) = response.json()["errors"]
        assert error["extensions"] == {"code": "QueryTooComplex", "cost": 253, "maxCost": 100}

    async def test_a_fixed_cost_over_the_limit_is_refused_every_time(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        first, second = [await post(agent_client, FIXED_PAGE) for _ in range(2)]
        assert first.status_code == second.status_code == 400
        assert first.json() == second.json()
        assert first.json()["errors"][0]["extensions"]["cost"] == 253

    async def test_too_deep_is_refused_every_time(self, agent_client: httpx.AsyncClient) -> None:
        first, second = [await post(agent_client, DEEP) for _ in range(2)]
        assert first.status_code == second.status_code == 400
        assert first.json() == second.json()
        assert "exceeds maximum operation depth of 4" in first.json()["errors"][0]["message"]

    async def test_is_judged_by_the_limits_of_the_schema_it_runs_in(
        self, agent_client: httpx.AsyncClient, settings: Settings, services: Services
    ) -> None:
        assert (await post(agent_client, DEEP)).status_code == 400
        deeper = app_for(settings.model_copy(update={"graphql_max_depth": 10}))
        async with (
            deeper.router.lifespan_context(deeper),
            asgi_client(deeper, await f.api_key(services, Role.AGENT)) as client,
        ):
            assert (await post(client, DEEP)).status_code == 200
        assert (await post(agent_client, DEEP)).status_code == 400


class Work:
    """How often the schema parsed and validated a document: what its cache saves."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.parsed: list[str] = []
        self.validated = 0
        parse, validate = limits.parse, limits.validate_document

        def counted_parse(source: str, **options: Any) -> DocumentNode:
            self.parsed.append(source)
            return parse(source, **options)

        def counted_validate(*args: Any) -> list[GraphQLError]:
            self.validated += 1
            return validate(*args)

        monkeypatch.setattr(limits, "parse", counted_parse)
        monkeypatch.setattr(limits, "validate_document", counted_validate)


def small_schema() -> strawberry.Schema:
    return build_schema(max_depth=10, max_tokens=1000, max_cost=100)


class TestTheDocumentCache:
    """The schema alone, with its document cache: what it spares a repeated query."""

    @pytest.fixture
    def work(self, monkeypatch: pytest.MonkeyPatch) -> Work:
        return Work(monkeypatch)

    async def test_a_repeated_document_is_parsed_and_validated_once(self, work: Work) -> None:
        schema = small_schema()
        for _ in range(3):
            result = await schema.execute(WHOAMI)
            assert result.errors is None
            assert result.data == {"__typename": "Query"}
        assert (work.parsed, work.validated) == ([WHOAMI], 1)

    async def test_a_cost_that_variables_set_is_worked_out_each_time(self, work: Work) -> None:
        schema = small_schema()
        too_many = await schema.execute(PAGE, variable_values={"first": 200})
        assert too_many.errors is not None
        assert too_many.errors[0].extensions == {
            "code": "QueryTooComplex",
            "cost": 3 + 200 * 5,
            "maxCost": 100,
        }
        few = await schema.execute(PAGE, variable_values={"first": 2})
        assert few.errors is None or all(
            (e.extensions or {}).get("code") != "QueryTooComplex" for e in few.errors
        )
        again = await schema.execute(PAGE, variable_values={"first": 200})
        assert again.errors is not None
        assert again.errors[0].extensions == too_many.errors[0].extensions
        assert work.parsed == [PAGE]  # the document is reused; its cost is not

    async def test_a_failed_verdict_is_checked_afresh(self, work: Work) -> None:
        schema = small_schema()
        for query in ("{ profile(", "{ noSuchField }") * 2:
            result = await schema.execute(query)
            assert result.errors
        # The syntax error is parsed each time; the unknown field parsed once, validated twice.
        assert work.parsed == ["{ profile(", "{ noSuchField }", "{ profile("]
        assert work.validated == 2

    async def test_is_bounded_in_documents(
        self, work: Work, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(limits, "CACHED_DOCUMENTS", 3)
        schema = small_schema()
        queries = [f"{{ a{n}: __typename }}" for n in range(5)]
        for query in queries:
            assert (await schema.execute(query)).errors is None
        work.parsed.clear()
        for query in reversed(queries):  # the last three are kept, the first two are not
            assert (await schema.execute(query)).errors is None
        assert work.parsed == [queries[1], queries[0]]

    async def test_is_bounded_in_characters(
        self, work: Work, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(limits, "CACHED_CHARACTERS", 40)
        schema = small_schema()
        queries = [f"{{ a{n}: __typename }}" for n in range(3)]  # 18 characters each
        for query in queries:
            assert (await schema.execute(query)).errors is None
        long = "{ " + " ".join(f"a{n}: __typename" for n in range(4)) + " }"
        for _ in range(2):  # longer than the whole cache: never kept, nothing evicted for it
            assert (await schema.execute(long)).errors is None
        work.parsed.clear()
        for query in reversed(queries):
            assert (await schema.execute(query)).errors is None
        assert work.parsed == [queries[0]]


class TestVerifiedKeys:
    async def test_a_key_revoked_through_graphql_is_refused_at_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        agent = await f.api_key(services, Role.AGENT)
        assert (await client.post("/graphql", json={"query": WHOAMI}, headers=agent)).is_success
        admin = await f.api_key(services, Role.ADMIN)
        revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }"
        revoked = await client.post(
            "/graphql",
            json={"query": revoke, "variables": {"id": key_id(agent)}},
            headers=admin,
        )
        assert revoked.json() == {"data": {"revokeApiKey": {"__typename": "ApiKey"}}}
        refused = await client.post("/graphql", json={"query": WHOAMI}, headers=agent)
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["message"] == f"API key {key_id(agent)} was revoked"

    async def test_a_key_revoked_by_another_service_of_the_process_is_refused_at_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        agent = await f.api_key(services, Role.AGENT)
        assert (await client.post("/graphql", json={"query": WHOAMI}, headers=agent)).is_success
        await services.keys.revoke(key_id(agent), dt.datetime.now(dt.UTC))  # not the app's
        refused = await client.post("/graphql", json={"query": WHOAMI}, headers=agent)
        assert refused.status_code == 401

    async def test_another_secret_for_a_verified_key_id_is_refused(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        agent = await f.api_key(services, Role.AGENT)
        assert (await client.post("/graphql", json={"query": WHOAMI}, headers=agent)).is_success
        forged = {"authorization": f"Bearer c360_{key_id(agent)}_{'x' * 43}"}
        refused = await client.post("/graphql", json={"query": WHOAMI}, headers=forged)
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["message"] == "unknown API key"

    async def test_a_revocation_by_another_process_bites_within_the_ttl(self, store: Store) -> None:
        now = [0.0]  # a clock the test moves: no sleeping, no race with a slow store
        keys = ApiKeyService(
            ApiKeyRepository(store.db), VerifiedKeys(ttl_s=5.0, clock=lambda: now[0])
        )
        created, key = await keys.create(Role.AGENT, "elsewhere", dt.datetime.now(dt.UTC))
        key_id = created.id
        header = f"Bearer {key}"
        caller = await keys.authenticate(header)
        assert caller == Caller(key_id=key_id, name="elsewhere", role=Role.AGENT)
        # Another process revokes in the store: this one trusts its check until the TTL ends.
        assert await ApiKeyRepository(store.db).revoke(key_id, dt.datetime.now(dt.UTC))
        now[0] = 4.9
        assert await keys.authenticate(header) == caller
        now[0] = 5.0
        with pytest.raises(Unauthenticated, match="was revoked"):
            await keys.authenticate(header)

    def test_a_check_that_ends_after_a_revocation_is_not_kept(self) -> None:
        verified = VerifiedKeys()
        caller = Caller(key_id="k1", name="n", role=Role.AGENT)
        verified.add("db.api_keys", "hash", caller)
        assert verified.get("db.api_keys", "k1", "hash") == caller
        assert verified.get("db.api_keys", "k1", "other") is None
        assert verified.get("other.api_keys", "k1", "hash") is None
        verified.revoked("db.api_keys", "k1")
        verified.add("db.api_keys", "hash", caller)  # a check that began before
        assert verified.get("db.api_keys", "k1", "hash") is None
