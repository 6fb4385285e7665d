"""Searching profiles, timeline windows, and what the agent view costs in store round trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from c360.auth.service import Role
from c360.profiles.search import phone_prefix
from c360.services import Services
from c360.settings import Settings
from schemas import IdentifierType
from tests import factories as f
from tests.factories import api_key as key
from tests.helpers import gql, profile_of, run
from tests.state import counted_graphql

SEARCH = """query($text: String!, $first: Int, $after: String) {
  searchProfiles(text: $text, first: $first, after: $after) {
    edges { cursor node { id displayName emails } } pageInfo { hasNextPage endCursor } } }"""


def people() -> list[f.Record]:
    return [
        f.person(
            external_id="1",
            identifiers=[f.email("ana.garcia@example.com"), f.phone("+34 611 22 33 44")],
            given_name="Ana",
            family_name="García López",
        ),
        f.person(
            external_id="2",
            identifiers=[f.email("anabel@example.org")],
            given_name="Anabel",
            family_name="Ruiz",
        ),
        f.person(
            external_id="3",
            identifiers=[f.email("jose@example.com"), f.phone("+34 622 00 00 01")],
            given_name="José",
            family_name="Garcia",
        ),
    ]


async def names(client: httpx.AsyncClient, headers: dict[str, str], text: str) -> list[str]:
    found = (await gql(client, SEARCH, headers, text=text))["searchProfiles"]
    return sorted(e["node"]["displayName"] for e in found["edges"])


class TestSearch:
    async def test_by_name_email_or_phone_prefix(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        await run(services, tmp_path, [people()])
        headers = await key(services, Role.ADMIN)
        assert await names(client, headers, "ana") == ["Ana García López", "Anabel Ruiz"]
        assert await names(client, headers, "Ana garc") == ["Ana García López"]
        assert await names(client, headers, "garcia") == ["Ana García López", "José Garcia"]
        assert await names(client, headers, "JOSE") == ["José Garcia"]
        assert await names(client, headers, "ana.garcia@ex") == ["Ana García López"]
        assert await names(client, headers, "@example") == []  # an address starts with a name
        assert await names(client, headers, "+34 611 22") == ["Ana García López"]
        assert await names(client, headers, "0034 622") == ["José Garcia"]
        assert await names(client, headers, "611 22 33 44") == ["Ana García López"]  # national
        assert await names(client, headers, "zoe") == []

    async def test_pages_in_a_stable_order_and_follows_merges(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        await run(services, tmp_path, [people()])
        headers = await key(services, Role.ADMIN)
        response = await client.post(
            "/graphql", json={"query": SEARCH, "variables": {"text": "a"}}, headers=headers
        )
        assert response.json()["errors"][0]["extensions"]["code"] == "InvalidInput"
        page = (await gql(client, SEARCH, headers, text="an", first=1))["searchProfiles"]
        assert page["pageInfo"]["hasNextPage"] is True
        rest = (
            await gql(
                client, SEARCH, headers, text="an", first=5, after=page["pageInfo"]["endCursor"]
            )
        )["searchProfiles"]
        seen = [e["node"]["id"] for e in page["edges"] + rest["edges"]]
        assert len(seen) == len(set(seen)) == 2
        assert rest["pageInfo"]["hasNextPage"] is False

        # Anabel turns out to be Ana: a search for either name finds the one surviving profile.
        bridge = f.order(
            identifiers=[f.email("ana.garcia@example.com"), f.email("anabel@example.org")]
        )
        await run(services, tmp_path / "merge", [[bridge]])
        survivor = await profile_of(services, IdentifierType.EMAIL, "anabel@example.org")
        found = (await gql(client, SEARCH, headers, text="anabel"))["searchProfiles"]
        assert [e["node"]["id"] for e in found["edges"]] == [survivor]

    async def test_a_name_search_costs_a_store_read_per_distinct_word_and_has_few(
        self,
        client: httpx.AsyncClient,
        services: Services,
        settings: Settings,
        mongo_uri: str,
        tmp_path: Path,
    ) -> None:
        """Each word of a name search was a store read, one after the other, however many: a
        few kilobytes of words kept the store busy for seconds, and a body's megabyte for
        minutes, with one lookup token. A word said again is read once; a name has a dozen
        words at most."""
        await run(services, tmp_path, [people()])
        query = "query($text: String!) { searchProfiles(text: $text) { edges { cursor } } }"

        async def reads(text: str) -> int:
            sent, data = await counted_graphql(
                mongo_uri, settings, query, Role.ADMIN, {"text": text}
            )
            assert len(data["searchProfiles"]["edges"]) == 1
            return sent.count("find")

        assert await reads("ana garc " * 500) == await reads("ana garc")
        headers = await key(services, Role.ADMIN)
        for text in [" ".join(f"w{n}" for n in range(13)), " ".join(f"w{n}" for n in range(4000))]:
            response = await client.post(
                "/graphql", json={"query": SEARCH, "variables": {"text": text}}, headers=headers
            )
            (error,) = response.json()["errors"]
            assert error["extensions"]["code"] == "InvalidInput"
            assert "at most 12 words" in error["message"]
        twelve = "ana garcía lópez de la fuente y de los santos del río"
        assert len(twelve.split()) == 12
        assert await names(client, headers, twelve) == []


class TestTimelineWindow:
    async def test_since_and_until_bound_the_timeline(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        orders = [
            f.order(external_id=str(d), occurred_at=f"2024-05-{d:02d}T10:00:00Z")
            for d in range(1, 11)
        ]
        await run(services, tmp_path, [orders])
        pid = await profile_of(services, IdentifierType.EMAIL, "ana@example.com")
        query = """query($id: ID!, $since: DateTime, $until: DateTime) { profile(id: $id) {
          ... on Profile { timeline(first: 50, since: $since, until: $until) {
            edges { node { externalId } } } } } }"""
        headers = await key(services, Role.ADMIN)
        data = await gql(
            client,
            query,
            headers,
            id=pid,
            since="2024-05-03T10:00:00Z",
            until="2024-05-05T10:00:00Z",
        )
        ids = [e["node"]["externalId"] for e in data["profile"]["timeline"]["edges"]]
        assert ids == ["5", "4", "3"]

    async def test_a_bound_without_a_time_zone_is_refused_as_the_decisions_refuse_it(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        await run(services, tmp_path, [[f.order(external_id="1")]])
        pid = await profile_of(services, IdentifierType.EMAIL, "ana@example.com")
        query = """query($id: ID!, $since: DateTime, $until: DateTime) { profile(id: $id) {
          ... on Profile { timeline(since: $since, until: $until) { edges { cursor } } } } }"""
        headers = await key(services, Role.ADMIN)
        for bounds in [{"since": "2024-05-03T10:00:00"}, {"until": "2024-05-05"}]:
            payload = {"query": query, "variables": {"id": pid, **bounds}}
            response = await client.post("/graphql", json=payload, headers=headers)
            assert response.status_code == 200, response.text
            (error,) = response.json()["errors"]
            assert error["extensions"]["code"] == "InvalidInput", error
            assert "has no time zone" in error["message"]


AGENT_VIEW = """
fragment View on Profile {
  id displayName emails phones lifecycleStage { stage } valueTier { tier }
  churnRisk { score } metrics { orderCount lifetimeValue { amount currency } openCases }
  openCases { externalId } pastProblems { externalId }
  timeline(first: 25) { edges { cursor node { __typename id occurredAt } } }
}
"""


class TestRoundTrips:
    async def test_the_agent_view_of_many_profiles_costs_a_bounded_number_of_round_trips(
        self, services: Services, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        people = 20
        records: list[f.Record] = []
        for n in range(people):
            ids = [f.email(f"p{n}@example.com")]
            records += [f.person(external_id=f"P{n}", identifiers=ids, given_name=f"N{n}")]
            records += [
                f.order(
                    external_id=f"{n}-{k}",
                    identifiers=ids,
                    occurred_at=f"2024-05-{k + 1:02d}T10:00:00Z",
                )
                for k in range(10)
            ]
            records += [f.service_case(external_id=f"{n}-c", identifiers=ids, status="solved")]
        await run(services, tmp_path, [records])
        profile_ids = [
            await profile_of(services, IdentifierType.EMAIL, f"p{n}@example.com")
            for n in range(people)
        ]

        async def round_trips(count: int) -> tuple[int, Any]:
            aliases = " ".join(
                f'p{i}: profile(id: "{pid}") {{ ...View }}'
                for i, pid in enumerate(profile_ids[:count])
            )
            query = AGENT_VIEW + f"query {{ {aliases} }}"
            sent, data = await counted_graphql(mongo_uri, settings, query, Role.ADMIN)
            return len(sent), data

        one, _ = await round_trips(1)
        many, data = await round_trips(people)
        assert data is not None
        assert len(data) == people
        assert all(len(v["timeline"]["edges"]) == 12 for v in data.values())
        # Every level of the query is batched: twenty profiles cost what one does.
        assert many == one, (one, many)


@pytest.mark.parametrize(
    ("text", "region", "key"),
    [
        ("+34 611 22", "ES", "phone:+3461122"),
        ("0034 611", "ES", "phone:+34611"),
        ("611 22", "ES", "phone:+3461122"),
        ("020 7946", "GB", "phone:+44207946"),  # the trunk 0 is dialled, not stored
        ("06 1234", "IT", "phone:+39061234"),  # Italy keeps its leading 0
        ("ana", "ES", None),
    ],
)
def test_phone_prefixes_read_like_ingest(text: str, region: str, key: str | None) -> None:
    assert phone_prefix(text, region) == key


RETURNS = """query($id: ID!, $first: Int!) { profile(id: $id) { ... on Profile {
  timeline(first: $first, kinds: [RETURN]) { edges { node { ... on ReturnRecord {
    externalId orderExternalId order { externalId orderNumber } } } } } } } }"""


def a_return(external_id: str, order_id: str, day: int, identifiers: list[f.Record]) -> f.Record:
    return {
        "kind": "return",
        "source": "shop",
        "external_id": external_id,
        "occurred_at": f"2024-06-{day:02d}T10:00:00Z",
        "identifiers": identifiers,
        "order_external_id": order_id,
        "items": [{"sku": "SKU-1", "quantity": 1}],
        "amount": {"amount": 2500, "currency": "EUR"},
    }


class TestReturnsAndTheirOrders:
    async def test_a_return_names_its_order_and_a_page_of_them_reads_the_orders_at_once(
        self, services: Services, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        ids = [f.email("ret@example.com")]
        orders = [
            f.order(
                external_id=f"50{n}",
                identifiers=ids,
                order_number=f"#10{n}",
                occurred_at=f"2024-05-{n + 1:02d}T10:00:00Z",
            )
            for n in range(6)
        ]
        returns = [a_return(f"r-{n}", f"50{n}", n + 1, ids) for n in range(6)]
        # A return of an order c360 never received: its id is all there is.
        returns.append(a_return("r-x", "9999", 20, ids))
        await run(services, tmp_path, [orders, returns])
        pid = await profile_of(services, IdentifierType.EMAIL, "ret@example.com")

        one, _ = await counted_graphql(
            mongo_uri, settings, RETURNS, Role.AGENT, {"id": pid, "first": 1}
        )
        seven, data = await counted_graphql(
            mongo_uri, settings, RETURNS, Role.AGENT, {"id": pid, "first": 7}
        )
        nodes = [e["node"] for e in data["profile"]["timeline"]["edges"]]
        assert [(n["externalId"], n["order"]) for n in nodes] == [
            ("r-x", None),
            *[
                (f"r-{n}", {"externalId": f"50{n}", "orderNumber": f"#10{n}"})
                for n in reversed(range(6))
            ],
        ]
        # The orders of a page's returns are read together: seven cost what one does.
        assert len(seven) == len(one), (one, seven)
