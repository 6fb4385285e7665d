"""The HTTP API through the ASGI app: health, GraphQL queries, errors, limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from c360.ingest.files import import_file
from c360.services import Services
from c360.settings import Settings
from c360.store.embedded import EmbeddedServer
from tests import factories as f
from tests.helpers import DEFAULTS, app_for, gql, parse_options

PROFILE_BY_IDENTIFIER = """
query Find($type: IdentifierType!, $value: String!, $source: String, $first: Int, $after: String) {
  profileByIdentifier(type: $type, value: $value, source: $source) {
    __typename
    ... on Profile {
      id
      emails
      phones
      firstSeenAt
      lastSeenAt
      identifiers { type value source }
      timeline(first: $first, after: $after) {
        edges { cursor node { __typename id kind occurredAt source externalId } }
        pageInfo { hasNextPage endCursor }
      }
    }
    ... on Error { message code }
  }
}
"""


@pytest.fixture
def client(agent_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Every request here carries a support agent's key; each role's rules: test_access."""
    return agent_client


@pytest.fixture
async def ana(services: Services, tmp_path: Path) -> None:
    """One customer seen by a CRM, a shop, a help desk and a survey tool."""
    path = f.write_jsonl(
        tmp_path / "ana.jsonl",
        [
            f.person(identifiers=[f.external("crm", "C-1"), f.email("ana@example.com")]),
            f.order(identifiers=[f.email("ANA@example.com"), f.phone("+34 600 12 34 56")]),
            f.service_case(identifiers=[f.phone("600123456")]),
            f.survey(identifiers=[f.email("ana@example.com")]),
        ],
    )
    await import_file(services.ingest, "canonical", str(path), parse_options(default_region="ES"))


class TestHealth:
    async def test_reports_the_store_reachable(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["store"]["reachable"] is True

    async def test_head_is_answered_as_get_without_the_body(
        self, client: httpx.AsyncClient
    ) -> None:
        got, head = await client.get("/health"), await client.head("/health")
        assert head.status_code == got.status_code == 200
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == got.headers["content-length"]
        assert head.content == b""
        put = await client.put("/health")
        assert put.status_code == 405
        assert put.headers["allow"] == "GET, HEAD"

    async def test_is_503_when_the_store_goes_away(self, tmp_path: Path) -> None:
        server = EmbeddedServer.ensure(tmp_path / "store", DEFAULTS.embedded_start_timeout)
        settings = Settings(_env_file=None, mongodb_uri=server.uri, store_timeout_ms=500)
        try:
            app = app_for(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    assert (await client.get("/health")).status_code == 200
                    server.stop()
                    response = await client.get("/health")
                    head = await client.head("/health")
            assert response.status_code == head.status_code == 503
            assert response.json()["store"]["reachable"] is False
        finally:
            server.stop()


class TestRestErrors:
    async def test_unknown_path_has_the_error_shape(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/no-such-thing")
        assert response.status_code == 404
        assert response.json() == {"error": "NotFound", "detail": "Not Found"}


@pytest.mark.usefixtures("ana")
class TestProfileByIdentifier:
    @pytest.mark.parametrize(
        ("kind", "value", "source"),
        [
            ("PHONE", "+34 600 12 34 56", None),
            ("PHONE", "0034600123456", None),
            ("PHONE", "600 123 456", None),
            ("EMAIL", "  Ana@Example.COM ", None),
            ("EXTERNAL", "C-1", "crm"),
        ],
    )
    async def test_any_spelling_of_any_identifier_finds_the_person(
        self, client: httpx.AsyncClient, kind: str, value: str, source: str | None
    ) -> None:
        data = await gql(client, PROFILE_BY_IDENTIFIER, type=kind, value=value, source=source)
        profile = data["profileByIdentifier"]
        assert profile["__typename"] == "Profile"
        assert profile["emails"] == ["ana@example.com"]
        assert profile["phones"] == ["+34600123456"]
        assert {"type": "EXTERNAL", "value": "C-1", "source": "crm"} in profile["identifiers"]

    async def test_records_come_newest_first(self, client: httpx.AsyncClient) -> None:
        data = await gql(client, PROFILE_BY_IDENTIFIER, type="EMAIL", value="ana@example.com")
        edges = data["profileByIdentifier"]["timeline"]["edges"]
        kinds = [e["node"]["__typename"] for e in edges]
        assert kinds == ["SurveyResponseRecord", "ServiceCaseRecord", "OrderRecord", "PersonRecord"]
        times = [e["node"]["occurredAt"] for e in edges]
        assert times == sorted(times, reverse=True)
        profile = data["profileByIdentifier"]
        assert profile["firstSeenAt"] == "2024-01-01T00:00:00+00:00"
        assert profile["lastSeenAt"] == "2024-05-03T12:00:00+00:00"

    async def test_unknown_identifier_is_a_typed_not_found(self, client: httpx.AsyncClient) -> None:
        data = await gql(client, PROFILE_BY_IDENTIFIER, type="EMAIL", value="nobody@example.com")
        result = data["profileByIdentifier"]
        assert result["__typename"] == "NotFoundError"
        assert "nobody@example.com" in result["message"]

    @pytest.mark.parametrize(
        ("kind", "value", "source", "expected"),
        [
            ("PHONE", "call me maybe", None, "phone number"),
            ("EMAIL", "not-an-email", None, "e-mail"),
            ("EXTERNAL", "C-1", None, "source is required"),
            ("EMAIL", "ana@example.com", "crm", "source is required"),
        ],
    )
    async def test_unusable_input_is_a_typed_invalid_input(
        self,
        client: httpx.AsyncClient,
        kind: str,
        value: str,
        source: str | None,
        expected: str,
    ) -> None:
        data = await gql(client, PROFILE_BY_IDENTIFIER, type=kind, value=value, source=source)
        result = data["profileByIdentifier"]
        assert result["__typename"] == "InvalidInputError"
        assert result["code"] == "InvalidIdentifier"
        assert expected in result["message"]


class TestAmounts:
    async def test_a_tills_discount_line_is_the_orders_discount_and_off_its_value(
        self, client: httpx.AsyncClient, connector_client: httpx.AsyncClient
    ) -> None:
        till = (
            b"order_id,ordered_at,store_id,sku,title,quantity,unit_price,currency,email\n"
            b"T-1,2024-05-01T10:00:00Z,S1,SHIRT-1,Shirt,2,19.99,EUR,ana@example.com\n"
            b"T-1,2024-05-01T10:00:00Z,S1,PROMO-10,Spring promotion,1,-4.00,EUR,ana@example.com\n"
        )
        pushed = await connector_client.post(
            "/ingest/pos-csv", content=till, headers={"content-type": "text/csv"}
        )
        assert (pushed.status_code, pushed.json()["inserted"]) == (200, 1), pushed.text
        query = """query($value: String!) { profileByIdentifier(type: EMAIL, value: $value) {
          ... on Profile { metrics { lifetimeValue { amount currency } }
            timeline(kinds: [ORDER]) { edges { node { ... on OrderRecord {
              lineItems { sku quantity } discount { amount currency } total { amount } } } } } }
        } }"""

        profile = (await gql(client, query, value="ana@example.com"))["profileByIdentifier"]

        assert [e["node"] for e in profile["timeline"]["edges"]] == [
            {
                "lineItems": [{"sku": "SHIRT-1", "quantity": 2}],  # the promotion is no item
                "discount": {"amount": 400, "currency": "EUR"},
                "total": {"amount": 3598},
            }
        ]
        assert profile["metrics"]["lifetimeValue"] == [{"amount": 3598, "currency": "EUR"}]

    async def test_an_amount_past_graphql_int_is_read_whole(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        # 25 000 000.00 rupiah (about 1 500 euros): past 2^31 - 1 minor units, GraphQL's Int.
        big = 2_500_000_000
        path = f.write_jsonl(
            tmp_path / "rupiah.jsonl",
            [
                f.order(external_id="1", amount=big, currency="IDR"),
                f.order(external_id="2", amount=big, currency="IDR"),
            ],
        )
        await import_file(services.ingest, "canonical", str(path), parse_options())
        query = """query($value: String!) { profileByIdentifier(type: EMAIL, value: $value) {
          ... on Profile { metrics { lifetimeValue { amount currency }
              lifetimeValueReporting { amount } unconvertedCurrencies }
            valueTier { tier reason }
            timeline(first: 5) { edges { node { ... on OrderRecord { total { amount } } } } } }
        } }"""

        profile = (await gql(client, query, value="ana@example.com"))["profileByIdentifier"]

        assert profile["metrics"]["lifetimeValue"] == [{"amount": 2 * big, "currency": "IDR"}]
        # No rate for rupiah: no reported value, rather than 0 (nothing spent).
        assert profile["metrics"]["lifetimeValueReporting"] is None
        assert profile["metrics"]["unconvertedCurrencies"] == ["IDR"]
        # Nor a tier: the value cannot be ranked, which is not "no purchases".
        assert profile["valueTier"] == {
            "tier": "NONE",
            "reason": "no lifetime value in EUR: no rate for IDR",
        }
        totals = [e["node"]["total"]["amount"] for e in profile["timeline"]["edges"]]
        assert totals == [big, big]


@pytest.mark.usefixtures("ana")
class TestProfileById:
    async def test_finds_the_same_profile(self, client: httpx.AsyncClient) -> None:
        found = await gql(client, PROFILE_BY_IDENTIFIER, type="EMAIL", value="ana@example.com")
        profile_id = found["profileByIdentifier"]["id"]
        query = "query($id: ID!) { profile(id: $id) { ... on Profile { id emails } } }"
        data = await gql(client, query, id=profile_id)
        assert data["profile"] == {"id": profile_id, "emails": ["ana@example.com"]}

    async def test_unknown_id_is_a_typed_not_found(self, client: httpx.AsyncClient) -> None:
        query = '{ profile(id: "nope") { __typename ... on Error { code message } } }'
        data = await gql(client, query)
        assert data["profile"] == {
            "__typename": "NotFoundError",
            "code": "ProfileNotFound",
            "message": "no profile with id 'nope'",
        }


@pytest.mark.usefixtures("ana")
class TestTimelinePagination:
    async def _page(
        self, client: httpx.AsyncClient, first: int, after: str | None = None
    ) -> dict[str, Any]:
        data = await gql(
            client,
            PROFILE_BY_IDENTIFIER,
            type="EMAIL",
            value="ana@example.com",
            first=first,
            after=after,
        )
        timeline: dict[str, Any] = data["profileByIdentifier"]["timeline"]
        return timeline

    async def test_pages_cover_everything_once(self, client: httpx.AsyncClient) -> None:
        first = await self._page(client, 3)
        assert first["pageInfo"]["hasNextPage"] is True
        second = await self._page(client, 3, first["pageInfo"]["endCursor"])
        assert second["pageInfo"]["hasNextPage"] is False
        ids = [e["node"]["id"] for e in first["edges"] + second["edges"]]
        assert len(ids) == len(set(ids)) == 4

    async def test_cursor_stays_valid_when_records_arrive(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        first = await self._page(client, 2)
        newer = f.order(external_id="9", occurred_at="2024-12-24T10:00:00Z")
        await import_file(
            services.ingest,
            "canonical",
            str(f.write_jsonl(tmp_path / "new.jsonl", [newer])),
            parse_options(default_region="ES"),
        )
        rest = await self._page(client, 10, first["pageInfo"]["endCursor"])
        assert [e["node"]["kind"] for e in rest["edges"]] == ["ORDER", "PERSON"]

    async def test_filters_by_kind(self, client: httpx.AsyncClient) -> None:
        query = """{ profileByIdentifier(type: EMAIL, value: "ana@example.com") {
            ... on Profile { timeline(kinds: [ORDER, SURVEY_RESPONSE]) {
                edges { node { kind ... on OrderRecord { total { amount currency } } } } } } } }"""
        data = await gql(client, query)
        nodes = [e["node"] for e in data["profileByIdentifier"]["timeline"]["edges"]]
        assert nodes == [
            {"kind": "SURVEY_RESPONSE"},
            {"kind": "ORDER", "total": {"amount": 2500, "currency": "EUR"}},
        ]

    @pytest.mark.parametrize(
        ("arguments", "code"),
        [('after: "%%%"', "InvalidCursor"), ("first: 0", "InvalidInput")],
    )
    async def test_bad_arguments_are_errors_with_a_code(
        self, client: httpx.AsyncClient, arguments: str, code: str
    ) -> None:
        query = f"""{{ profileByIdentifier(type: EMAIL, value: "ana@example.com") {{
            ... on Profile {{ timeline({arguments}) {{ edges {{ cursor }} }} }} }} }}"""
        response = await client.post("/graphql", json={"query": query})
        errors = response.json()["errors"]
        assert [e["extensions"]["code"] for e in errors] == [code]


class TestLimits:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"graphql_max_depth": 4, "graphql_max_tokens": 200})

    async def test_too_deep_a_query_is_refused(self, client: httpx.AsyncClient) -> None:
        deep = """{ profile(id: "x") { ... on Profile {
            timeline { edges { node { identifiers { value } } } } } } }"""
        response = await client.post("/graphql", json={"query": deep})
        errors = response.json()["errors"]
        assert "exceeds maximum operation depth of 4" in errors[0]["message"]

    async def test_too_large_a_query_is_refused(self, client: httpx.AsyncClient) -> None:
        wide = "{ " + " ".join(f"a{i}: __typename" for i in range(100)) + " }"
        response = await client.post("/graphql", json={"query": wide})
        errors = response.json()["errors"]
        assert "more than 200 tokens" in errors[0]["message"]
