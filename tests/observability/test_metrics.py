"""/metrics in the Prometheus text format with the series c360 promises, who may scrape it,
and request ids in responses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from c360.auth.service import Role
from c360.observability.metrics import CONTENT_TYPE
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from tests import factories as f
from tests.helpers import app_for, asgi_client
from tests.served import HTTP, serving, wait_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
AGENT_VIEW = """query AgentView($id: ID!) { profile(id: $id) { ... on Profile { id emails } } }"""


def samples(text: str) -> Samples:
    """Every sample of a scrape by name and labels (parsing it checks the format too)."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(scraped: Samples, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def label_values(scraped: Samples, name: str, label: str) -> set[str]:
    return {dict(labels)[label] for n, labels in scraped if n == name and label in dict(labels)}


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


@asynccontextmanager
async def remote_client(
    app: FastAPI, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client calling from another host (not loopback)."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://c360.test", headers=headers
    ) as client:
        yield client


class TestTheSeries:
    async def test_http_latency_by_route_template_never_the_raw_path(
        self, client: httpx.AsyncClient
    ) -> None:
        before = await scrape(client)
        await client.get("/unsubscribe/not-a-token-1")
        await client.get("/unsubscribe/not-a-token-2")
        await client.get("/no/such/path/42")
        after = await scrape(client)
        count = "c360_http_request_duration_seconds_count"
        labels = {"method": "GET", "route": "/unsubscribe/{token}", "status": "403"}
        assert value(after, count, **labels) - value(before, count, **labels) == 2
        unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
        assert value(after, count, **unmatched) - value(before, count, **unmatched) == 1
        routes = label_values(after, count, "route")
        assert not any("not-a-token" in r or "/no/such" in r for r in routes)

    async def test_graphql_latency_by_operation_name_bounded(
        self, settings: Settings, store: Store, services: Services
    ) -> None:
        app = app_for(settings.model_copy(update={"metrics_operation_names": 2}))
        async with (
            app.router.lifespan_context(app),
            asgi_client(app, await f.api_key(services, Role.AGENT)) as client,
        ):
            before = await scrape(client)
            for query in (
                "query First { __typename }",
                "query Second { __typename }",
                "query Third { __typename }",
                "query Fourth { __typename }",
                "{ __typename }",
            ):
                response = await client.post("/graphql", json={"query": query})
                assert response.status_code == 200
            after = await scrape(client)
        count = "c360_graphql_operation_duration_seconds_count"

        def ran(operation: str) -> float:
            labels = {"type": "query", "operation": operation}
            return value(after, count, **labels) - value(before, count, **labels)

        assert (ran("First"), ran("Second"), ran("other"), ran("anonymous")) == (1, 1, 2, 1)
        assert not {"Third", "Fourth"} & label_values(after, count, "operation")

    async def test_graphql_errors_by_code(
        self, client: httpx.AsyncClient, agent_client: httpx.AsyncClient
    ) -> None:
        before = await scrape(client)
        await client.post("/graphql", json={"query": "{ __typename }"})  # no key: 401
        bad_cursor = '{ searchProfiles(text: "ana", after: "x") { edges { cursor } } }'
        await agent_client.post("/graphql", json={"query": bad_cursor})
        await agent_client.post("/graphql", json={"query": "{ nope }"})
        await agent_client.post("/graphql", json={"query": "{ profile("})  # a syntax error
        after = await scrape(client)
        errors = "c360_graphql_errors_total"
        counted = {"Unauthenticated": 1, "InvalidCursor": 1, "InvalidRequest": 2}
        for code, times in counted.items():
            assert value(after, errors, code=code) - value(before, errors, code=code) == times, code

    async def test_ingest_items_by_connector_and_outcome_and_dead_letters(
        self, client: httpx.AsyncClient, connector_client: httpx.AsyncClient
    ) -> None:
        good = [f.order(external_id="O-1"), f.order(external_id="O-2")]
        body = "\n".join([*(json.dumps(r) for r in good), '{"kind": "order"}']).encode()
        before = await scrape(client)
        response = await connector_client.post("/ingest/canonical", content=body)
        assert response.json()["inserted"] == 2
        again = await connector_client.post("/ingest/canonical", content=body)
        assert again.json()["duplicates"] == 2
        after = await scrape(client)

        def grew(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        items = "c360_ingest_items_total"
        assert grew(items, connector="canonical", outcome="inserted") == 2
        assert grew(items, connector="canonical", outcome="duplicate") == 2
        assert grew(items, connector="canonical", outcome="rejected") == 2
        assert grew("c360_dead_letters_total", connector="canonical") == 2
        assert value(after, "c360_dead_letters_stored") == 1  # the same item twice: one letter

    async def test_store_commands_by_name_and_the_store_up(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        before = await scrape(client)
        await store.db.records.find_one({})
        after = await scrape(client)
        count = "c360_store_command_duration_seconds_count"
        labels = {"command": "find", "outcome": "ok"}
        assert value(after, count, **labels) > value(before, count, **labels)
        assert value(after, "c360_store_up", store=store.kind) == 1
        assert value(after, "process_resident_memory_bytes") > 0


class TestWhoMayScrape:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"metrics_token": SecretStr("scrape-me")})

    async def test_loopback_needs_no_key(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/metrics")).status_code == 200

    async def test_another_host_needs_the_token_or_an_admin_key(
        self, app: FastAPI, services: Services
    ) -> None:
        async with remote_client(app) as anyone:
            refused = await anyone.get("/metrics")
            assert refused.status_code == 401
            assert refused.json()["error"] == "Unauthenticated"
            assert "c360_http" not in refused.text
            wrong = await anyone.get("/metrics", headers={"authorization": "Bearer guess"})
            assert wrong.status_code == 401
            token = await anyone.get("/metrics", headers={"authorization": "Bearer scrape-me"})
            assert token.status_code == 200
        async with remote_client(app, await f.api_key(services, Role.ADMIN)) as admin:
            assert (await admin.get("/metrics")).status_code == 200
        async with remote_client(app, await f.api_key(services, Role.AGENT)) as agent:
            assert (await agent.get("/metrics")).status_code == 403

    async def test_head_is_answered_as_get_without_the_body(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        head = await client.head("/metrics")
        assert head.status_code == 200
        assert head.headers["content-type"] == CONTENT_TYPE
        assert int(head.headers["content-length"]) > 0
        assert head.content == b""
        async with remote_client(app) as anyone:
            assert (await anyone.head("/metrics")).status_code == 401  # the same rule

    async def test_loopback_relayed_by_a_proxy_is_another_host(
        self, client: httpx.AsyncClient
    ) -> None:
        for header in ("x-forwarded-for", "forwarded"):
            response = await client.get("/metrics", headers={header: "198.51.100.7"})
            assert response.status_code == 401, header


class TestRequestIds:
    async def test_a_sane_incoming_id_is_answered_back(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health", headers={"x-request-id": "lb-7f3a:42/x"})
        assert response.headers["x-request-id"] == "lb-7f3a:42/x"

    @pytest.mark.parametrize(
        "given", ["", "has space", "x" * 129, "semi;colon", "ünïcode", "new\\nline"]
    )
    async def test_an_insane_one_is_replaced(self, client: httpx.AsyncClient, given: str) -> None:
        response = await client.get("/health", headers={b"x-request-id": given.encode()})
        answered = response.headers["x-request-id"]
        assert answered != given
        assert len(answered) == 32
        assert answered.isalnum()

    async def test_every_answer_has_one_errors_too(
        self, client: httpx.AsyncClient, agent_client: httpx.AsyncClient
    ) -> None:
        ids = {
            (await client.get("/nowhere")).headers["x-request-id"],
            (await client.post("/graphql", json={})).headers["x-request-id"],
            (await agent_client.post("/graphql", json={"query": "{ x }"})).headers["x-request-id"],
        }
        assert len(ids) == 3


class TestServed:
    """``c360 serve`` over a real socket, logging JSON as in the container."""

    def test_the_request_id_is_in_every_log_line_of_the_request_and_metrics_scrape(
        self, tmp_path: Path
    ) -> None:
        with serving(tmp_path / "data", env={"C360_LOG_FORMAT": "json"}) as server:
            headers = {
                "authorization": f"Bearer {server.demo_keys['agent']}",
                "x-request-id": "trace-4242",
            }
            response = HTTP.post(
                f"{server.base}/graphql",
                json={"query": "query Probe { __typename }"},
                headers=headers,
                timeout=10,
            )
            assert response.headers["x-request-id"] == "trace-4242"
            for path in ("/health", "/metrics"):  # uptime checkers and scrapers send HEAD
                head = HTTP.head(f"{server.base}{path}", timeout=10)
                assert head.status_code == 200, path
                assert head.content == b""
            scraped = HTTP.get(f"{server.base}/metrics", timeout=10)
            assert scraped.status_code == 200
            found = samples(scraped.text)
            assert (
                value(
                    found,
                    "c360_graphql_operation_duration_seconds_count",
                    type="query",
                    operation="Probe",
                )
                == 1
            )
            assert wait_until(lambda: any("trace-4242" in line for line in server.output))
        lines = [json.loads(line) for line in server.output if line.startswith("{")]
        tagged = [line for line in lines if line.get("request_id") == "trace-4242"]
        assert tagged, server.output
        assert any("POST /graphql" in line["message"] for line in tagged)  # the access log
        # uvicorn's own lines carry a copy of the message in terminal colours: left out.
        assert any(line["logger"] == "uvicorn.error" for line in lines), server.output
        assert not [line for line in lines if "color_message" in line]

    def test_the_access_log_names_no_contact_point_or_link_token(self, tmp_path: Path) -> None:
        """A query string holds what was asked (a phone number in a GET query or a screen pop),
        a link's path its token (whoever reads it may unsubscribe or confirm for the person):
        the access log says the method, the path without them and the status."""
        token = "tok3n-Of-A-Link-b1c2d3"
        with serving(tmp_path / "data", env={"C360_LOG_FORMAT": "json"}) as server:
            agent = {"authorization": f"Bearer {server.demo_keys['agent']}"}
            query = '{ profileByIdentifier(type: PHONE, value: "+34 611 22 33 44") { __typename } }'
            asked = [
                HTTP.get(f"{server.base}/graphql", params={"query": query}, headers=agent),
                HTTP.get(f"{server.base}/console/lookup?email=lola.ruiz%40example.com"),
                HTTP.get(f"{server.base}/unsubscribe/{token}"),
                HTTP.get(f"{server.base}/consent/confirm/{token}"),
            ]
            ids = {response.headers["x-request-id"] for response in asked}
            assert wait_until(lambda: all(any(i in line for line in server.output) for i in ids)), (
                server.output
            )
        lines = [json.loads(line) for line in server.output if line.startswith("{")]
        access = [line["message"] for line in lines if line.get("request_id") in ids]
        assert len(access) == 4, access
        logged = "\n".join(access)
        for secret in ("611", "lola", "example.com", token):
            assert secret not in logged, logged
        assert '"GET /graphql?… HTTP/1.1" 200' in logged
        assert '"GET /unsubscribe/… HTTP/1.1"' in logged
        assert '"GET /consent/confirm/… HTTP/1.1"' in logged
