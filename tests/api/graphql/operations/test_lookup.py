"""``findProfiles``: one box for whatever the customer gave (a name, an address, a number
written any way, an order number or id, a ticket id), over GraphQL with each role's key; what the
text is read as (``readings``); the audit and the lookup bucket. Where its queries go on a
sharded cluster is in ``test_sharding``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from c360.audit.types import Action
from c360.auth.service import Role
from c360.demo import DEMO_FILE
from c360.ingest.files import import_file
from c360.lookup.service import FindBy, readings
from c360.services import Services
from c360.settings import RateLimit, Settings
from tests import factories as f
from tests.helpers import audit_entries, parse_options

FIND = """query($text: String!, $by: [FindBy!]) {
  findProfiles(text: $text, by: $by) {
    hasMore
    matches {
      matchedBy
      profile { id displayName emails }
      record {
        __typename id source externalId
        ... on OrderRecord { orderNumber }
        ... on ServiceCaseRecord { subject }
      }
    }
  }
}"""


@pytest.fixture
async def demo(services: Services) -> None:
    summary = await import_file(
        services.ingest, "canonical", str(DEMO_FILE), parse_options(default_region="ES")
    )
    assert summary.rejected == 0


async def find(client: httpx.AsyncClient, text: str, by: list[str] | None = None) -> Any:
    response = await client.post(
        "/graphql", json={"query": FIND, "variables": {"text": text, "by": by}}
    )
    assert response.status_code == 200, response.text
    return response.json()


def names(body: Any) -> list[tuple[str, str]]:
    return [
        (m["profile"]["displayName"], m["matchedBy"])
        for m in body["data"]["findProfiles"]["matches"]
    ]


class TestReadings:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("ana.garcia@example.com", {FindBy.EMAIL}),
            ("#1042", {FindBy.ORDER}),
            ("+34 600 12 34 56", {FindBy.PHONE}),
            ("0034 600 123 456", {FindBy.PHONE}),
            ("88123", {FindBy.PHONE, FindBy.ORDER, FindBy.TICKET}),
            ("MAD-01-778812", {FindBy.ORDER, FindBy.TICKET}),
            ("ana garcía", {FindBy.NAME}),
            ("Becker", {FindBy.NAME}),
        ],
    )
    def test_the_shape_says_what_it_can_be(self, text: str, expected: set[FindBy]) -> None:
        assert readings(text) == expected


@pytest.mark.usefixtures("demo")
class TestFindProfiles:
    async def test_an_order_number_either_way_finds_its_customer_with_the_order(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        for text in ("#1042", "1042"):
            body = await find(agent_client, text)
            [match] = body["data"]["findProfiles"]["matches"]
            assert match["matchedBy"] == "ORDER", text
            assert match["profile"]["displayName"] == "Ana García"
            assert match["record"]["orderNumber"] == "#1042"

    async def test_a_shopify_order_id_and_a_zendesk_ticket_id(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        order = (await find(agent_client, "5001"))["data"]["findProfiles"]["matches"]
        assert [(m["matchedBy"], m["record"]["id"]) for m in order] == [
            ("ORDER", "shopify:order:5001")
        ]
        ticket = (await find(agent_client, "88200"))["data"]["findProfiles"]["matches"]
        assert [(m["profile"]["displayName"], m["matchedBy"]) for m in ticket] == [
            ("Tom Becker", "TICKET")
        ]
        assert ticket[0]["record"]["subject"] == "Tent pole broke on first use"

    async def test_a_phone_number_written_another_way_a_name_and_an_address(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        assert names(await find(agent_client, "0034 600 123 456")) == [("Ana García", "PHONE")]
        assert names(await find(agent_client, "+49 151 2345")) == [("Tom Becker", "PHONE")]
        assert names(await find(agent_client, "ana garc")) == [("Ana García", "NAME")]
        assert names(await find(agent_client, "li.wei@exa")) == [("Wei Li", "EMAIL")]

    async def test_by_narrows_what_the_text_is_read_as(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        assert names(await find(agent_client, "88123", ["TICKET"])) == [("Ana García", "TICKET")]
        assert names(await find(agent_client, "88123", ["ORDER"])) == []
        assert names(await find(agent_client, "5001", ["TICKET"])) == []

    async def test_a_reference_that_matches_nothing_finds_nobody(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        body = await find(agent_client, "#99999")
        assert body["data"]["findProfiles"] == {"hasMore": False, "matches": []}

    async def test_text_that_is_nothing_is_an_error_with_a_reason(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        body = await find(agent_client, " a ")
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "InvalidInput"
        body = await find(agent_client, "ana garcía", ["TICKET"])
        assert "no order number, order id or ticket id" in body["errors"][0]["message"]

    async def test_marketing_finds_references_but_numbers_only_whole(
        self, marketing_client: httpx.AsyncClient
    ) -> None:
        # Digits are a reference as well as a beginning of a number: the ticket is found…
        assert names(await find(marketing_client, "88123")) == [("Ana García", "TICKET")]
        # …and a beginning alone is refused, as searchProfiles refuses it.
        body = await find(marketing_client, "+34 600 12")
        assert body["errors"][0]["extensions"]["code"] == "InvalidInput"
        whole = await find(marketing_client, "0034 600 123 456")
        [match] = whole["data"]["findProfiles"]["matches"]
        assert match["profile"]["emails"] == ["a•••@example.com"]

    async def test_each_lookup_is_audited_with_what_was_asked_and_whom_it_found(
        self, agent_client: httpx.AsyncClient, services: Services
    ) -> None:
        body = await find(agent_client, "#1042")
        ana = body["data"]["findProfiles"]["matches"][0]["profile"]["id"]
        entries = await audit_entries(services, action=Action.LOOKUP)
        assert [(e.what, e.detail, e.profile_id) for e in entries] == [
            (("findProfiles",), "#1042", ana)
        ]


class TestLookupBucket:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        tight = {**settings.lookup_rate_limits, Role.AGENT: RateLimit(per_minute=1, burst=2)}
        return settings.model_copy(update={"lookup_rate_limits": tight})

    async def test_find_profiles_takes_from_the_lookup_bucket(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        headers = await f.api_key(services, Role.AGENT)
        for _ in range(2):
            response = await client.post(
                "/graphql", json={"query": FIND, "variables": {"text": "ana"}}, headers=headers
            )
            assert response.status_code == 200
        refused = await client.post(
            "/graphql", json={"query": FIND, "variables": {"text": "ana"}}, headers=headers
        )
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["extensions"]["code"] == "RateLimited"
