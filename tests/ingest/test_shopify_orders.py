"""Shopify's orders, refunds and cancellations through the whole pipeline, as Shopify sends them
(the vendor corpus: ``tests/fixtures/vendor/shopify``): what the profile's metrics say after
every arrival order, refunds counted once whichever way they come, and what is ignored."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import io
import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from c360.auth.service import Role
from c360.ingest.summary import IngestSummary
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from connectors import get_connector
from schemas import IdentifierType
from tests.factories import api_key as key
from tests.helpers import dead_letters, gql, parse_options, record, timelines
from tests.state import assert_aggregates_equal_recomputation

VENDOR = Path(__file__).parent.parent / "fixtures" / "vendor" / "shopify"
EMAIL = "bob.norman@mail.example.com"  # the customer of the reference order
SECRET = "shpss_test_secret"
Json = dict[str, Any]

METRICS = """query($email: String!) {
  profileByIdentifier(type: EMAIL, value: $email) {
    ... on Profile { metrics {
      lifetimeValue { amount currency } orderCount cancelledOrderCount
      averageOrderValue { amount currency } itemsBought returnCount returnRate
      firstOrderAt lastOrderAt } }
    ... on Error { code }
  }
}"""


def vendor(name: str) -> Json:
    data: Json = json.loads((VENDOR / name).read_text())
    return data


def without_refunds(body: Json) -> Json:
    """The body with its order's ``refunds[]`` emptied: the order as it stood before a refund,
    or a cancellation whose refund arrives on its own."""
    edited = copy.deepcopy(body)
    edited["order"]["refunds"] = []
    return edited


ORDER = without_refunds(vendor("order_get.json"))  # 598.94 USD, placed, not yet refunded
ORDER_WITH_REFUND = vendor("order_get.json")  # the same order carrying its refund of 209.00
REFUND = vendor("refund_get.json")  # that refund, as the Refund resource
CANCEL = vendor("order_cancel.json")  # the cancel response: cancelled_at, partially_refunded
CANCEL_ALONE = without_refunds(CANCEL)

ARRIVALS: dict[str, tuple[str, Json]] = {
    "order": ("shopify-orders", ORDER),
    "refund": ("shopify-refunds", REFUND),
    "cancellation": ("shopify-orders", CANCEL_ALONE),
}


OPTIONS = parse_options(default_region="US")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Shopify's webhooks on, with this module's secret."""
    return settings.model_copy(update={"shopify_webhook_secret": SecretStr(SECRET)})


async def webhook(client: httpx.AsyncClient, topic: str, body: Json) -> Json:
    """A body as Shopify posts it to the webhook, signed; the answer."""
    raw = json.dumps(body).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest())
    headers = {"x-shopify-topic": topic, "x-shopify-hmac-sha256": signature.decode()}
    response = await client.post("/webhooks/shopify", content=raw, headers=headers)
    assert response.status_code == 200, response.text
    answer: Json = response.json()
    return answer


async def ingest(services: Services, connector_name: str, body: Json | bytes) -> IngestSummary:
    connector = get_connector(connector_name)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    items = connector.parse(io.BytesIO(raw), OPTIONS)
    return await services.ingest.ingest(connector.name, items, origin="test", options=OPTIONS)


async def metrics_of(client: httpx.AsyncClient, services: Services) -> Json | None:
    """The customer's metrics, or None while no profile holds the address."""
    found = (await gql(client, METRICS, await key(services, Role.ADMIN), email=EMAIL))[
        "profileByIdentifier"
    ]
    if "metrics" not in found:
        assert found == {"code": "ProfileNotFound"}
        return None
    value: Json = found["metrics"]
    return value


def usd(minor: int) -> list[Json]:
    return [{"amount": minor, "currency": "USD"}]


CANCELLED = {
    "lifetimeValue": [],
    "orderCount": 0,
    "cancelledOrderCount": 1,
    "averageOrderValue": [],
    "itemsBought": 0,
    "returnCount": 0,
    "returnRate": None,
    "firstOrderAt": None,
    "lastOrderAt": None,
}


class TestCancelledOrder:
    """A cancelled order contributes nothing, and neither do its refunds: the issue's 389.94 USD
    (598.94 less a refund of 209.00) became -209.00 once the cancellation arrived."""

    @pytest.mark.parametrize(
        "arrivals",
        list(itertools.permutations(ARRIVALS)),
        ids=lambda names: ", ".join(names),
    )
    async def test_order_refund_and_cancellation_in_every_order(
        self,
        arrivals: tuple[str, ...],
        client: httpx.AsyncClient,
        services: Services,
        store: Store,
    ) -> None:
        arrived: set[str] = set()
        for name in arrivals:
            connector, body = ARRIVALS[name]
            summary = await ingest(services, connector, body)
            assert (summary.rejected, summary.ignored) == (0, 0), summary.errors
            arrived.add(name)
            metrics = await metrics_of(client, services)
            await assert_aggregates_equal_recomputation(services, store)
            if metrics is None:  # a refund alone names nobody: it waits for its order
                assert arrived == {"refund"}
                continue
            assert all(value["amount"] >= 0 for value in metrics["lifetimeValue"]), metrics
            if "cancellation" in arrived:
                assert metrics == CANCELLED
            elif arrived == {"order", "refund"}:
                assert metrics["lifetimeValue"] == usd(38994)  # 598.94 - 209.00
                assert (metrics["orderCount"], metrics["returnCount"]) == (1, 1)
            else:
                assert metrics["lifetimeValue"] == usd(59894)
                assert (metrics["orderCount"], metrics["returnCount"]) == (1, 0)

    @pytest.mark.parametrize("cancel_first", [False, True])
    async def test_refunds_embedded_in_the_order_and_its_cancellation(
        self, cancel_first: bool, client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        bodies = [ORDER_WITH_REFUND, CANCEL]
        for body in reversed(bodies) if cancel_first else bodies:
            summary = await ingest(services, "shopify-orders", body)
            assert summary.rejected == 0, summary.errors
        assert await metrics_of(client, services) == CANCELLED
        await assert_aggregates_equal_recomputation(services, store)

    async def test_the_issues_example(
        self, client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        await ingest(services, "shopify-orders", ORDER_WITH_REFUND)
        await ingest(services, "shopify-refunds", REFUND)
        before = await metrics_of(client, services)
        assert before is not None
        assert before["lifetimeValue"] == usd(38994)
        await ingest(services, "shopify-orders", CANCEL)
        assert await metrics_of(client, services) == CANCELLED

    async def test_other_orders_keep_their_value_and_refunds(
        self, client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        kept = copy.deepcopy(ORDER_WITH_REFUND)
        kept["order"]["id"] = 450789470
        kept["order"]["refunds"][0]["id"] = 509562970
        for refund in kept["order"]["refunds"]:
            refund["order_id"] = 450789470
        await ingest(services, "shopify-orders", CANCEL)
        await ingest(services, "shopify-orders", kept)
        metrics = await metrics_of(client, services)
        assert metrics is not None
        assert metrics["lifetimeValue"] == usd(38994)
        assert (metrics["orderCount"], metrics["cancelledOrderCount"]) == (1, 1)
        assert (metrics["returnCount"], metrics["returnRate"]) == (1, 1.0)
        assert metrics["averageOrderValue"] == usd(59894)
        await assert_aggregates_equal_recomputation(services, store)


class TestRefundsCountedOnce:
    async def test_embedded_imported_and_webhook_refund_are_one_return(
        self, client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        await ingest(services, "shopify-orders", ORDER_WITH_REFUND)
        await ingest(services, "shopify-refunds", vendor("refunds_list.json"))
        await ingest(services, "shopify-refunds", REFUND)
        # refunds/create posts the Refund resource itself.
        assert (await webhook(client, "refunds/create", REFUND["refund"]))["rejected"] == 0
        # orders/updated carries the order with its refunds again.
        answer = await webhook(client, "orders/updated", ORDER_WITH_REFUND["order"])
        assert answer["rejected"] == 0

        [records] = (await timelines(services, store)).values()
        assert [r.id for r in records if r.kind == "return"] == ["shopify:return:509562969"]
        metrics = await metrics_of(client, services)
        assert metrics is not None
        assert (metrics["returnCount"], metrics["lifetimeValue"]) == (1, usd(38994))
        await assert_aggregates_equal_recomputation(services, store)

    async def test_cancelled_webhook_takes_the_value_away(
        self, client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        await ingest(services, "shopify-orders", ORDER_WITH_REFUND)
        assert (await webhook(client, "orders/cancelled", CANCEL["order"]))["updated"] >= 1
        assert await metrics_of(client, services) == CANCELLED


class TestIgnoredBodies:
    """What the connector reads and keeps nothing of: answered as ignored, never a reject, and
    nothing of it in any profile or metric."""

    async def test_a_test_order_is_out_of_every_metric(
        self, client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        await ingest(services, "shopify-orders", ORDER)
        before = await metrics_of(client, services)
        rehearsal = copy.deepcopy(ORDER["order"])
        rehearsal.update(id=450789999, test=True, total_price="1000.00")
        summary = await ingest(services, "shopify-orders", {"orders": [rehearsal]})
        assert (summary.read, summary.ignored, summary.rejected) == (1, 1, 0)
        assert summary.ignored_items[0].reason == (
            "test order 450789999: kept out of every profile and metric"
        )
        answer = await webhook(client, "orders/create", rehearsal)
        assert (answer["ignored"], answer["inserted"], answer["rejected"]) == (1, 0, 0)
        assert await store.db.records.count_documents({"external_id": "450789999"}) == 0
        assert await store.db.dead_letters.count_documents({}) == 0
        assert await metrics_of(client, services) == before

    async def test_orders_edited_body_is_ignored_with_its_reason(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        # The orders/edited payload as Shopify documents it: the edit, not the order.
        edit: Json = {
            "order_edit": {
                "id": 78912328,
                "app_id": None,
                "created_at": "2025-07-02T11:31:25-05:00",
                "notify_customer": False,
                "order_id": 450789469,
                "staff_note": "",
                "user_id": None,
                "line_items": {
                    "additions": [{"id": 466157049, "delta": 1}],
                    "removals": [{"id": 703073504, "delta": 1}],
                },
                "discounts": {"line_item": {"additions": [], "removals": []}},
                "shipping_lines": {"additions": [], "removals": []},
            }
        }
        answer = await webhook(client, "orders/edited", edit)
        assert (answer["ignored"], answer["rejected"], answer["records"]) == (1, 0, 1)
        [ignored] = answer["ignored_items"]
        assert "orders/edited" in ignored["reason"]
        assert "orders/updated" in ignored["reason"]
        assert await store.db.records.count_documents({}) == 0

    async def test_orders_delete_body_keeps_what_is_stored(
        self, client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        await ingest(services, "shopify-orders", ORDER)
        stored = await timelines(services, store)
        answer = await webhook(client, "orders/delete", {"id": 450789469})
        assert (answer["ignored"], answer["rejected"]) == (1, 0)
        assert answer["ignored_items"] == [
            {
                "position": "line 1",
                "reason": "an orders/delete body names only order 450789469: "
                "the records already stored are kept",
            }
        ]
        assert await timelines(services, store) == stored
        metrics = await metrics_of(client, services)
        assert metrics is not None
        assert metrics["orderCount"] == 1


def without_currencies(value: Any) -> Any:
    """The body with every currency it states removed (``currency`` and the ``*_set`` money
    pairs): a refund whose amounts are in its order's currency, unsaid."""
    if isinstance(value, dict):
        return {
            k: without_currencies(v)
            for k, v in value.items()
            if k != "currency" and not k.endswith("_set")
        }
    if isinstance(value, list):
        return [without_currencies(v) for v in value]
    return value


UNSAID = without_currencies(REFUND)


class TestRefundInItsOrdersCurrency:
    """A refund stating no currency takes its order's when the order is known."""

    async def test_an_order_already_stored_gives_its_currency(
        self, client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        await ingest(services, "shopify-orders", ORDER)
        summary = await ingest(services, "shopify-refunds", UNSAID)
        assert (summary.inserted, summary.rejected) == (1, 0), summary.errors
        stored = await record(store, "shopify:return:509562969")
        assert stored.payload["amount"] == {"amount": 20900, "currency": "USD"}
        answer = await webhook(client, "refunds/create", UNSAID["refund"])
        assert (answer["duplicates"], answer["rejected"]) == (1, 0)
        metrics = await metrics_of(client, services)
        assert metrics is not None
        assert metrics["lifetimeValue"] == usd(38994)

    async def test_before_its_order_it_waits_as_a_dead_letter_and_replays(
        self, client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        summary = await ingest(services, "shopify-refunds", UNSAID)
        assert summary.rejected == 1
        assert "its order is not known yet" in summary.errors[0].reason
        await ingest(services, "shopify-orders", ORDER)
        replayed = await services.dead_letters.replay("shopify-refunds", OPTIONS)
        assert (replayed.recovered, replayed.still_failing) == (1, 0)
        assert await dead_letters(services) == []
        metrics = await metrics_of(client, services)
        assert metrics is not None
        assert (metrics["returnCount"], metrics["lifetimeValue"]) == (1, usd(38994))
        await assert_aggregates_equal_recomputation(services, store)


class TestCustomerTopics:
    async def test_customer_topics_reach_the_customer_and_deletes_keep_what_is_stored(
        self, client: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        [bob] = vendor("customer_get.json").values()
        answer = await webhook(client, "customers/update", bob)
        assert (answer["inserted"], answer["rejected"], answer["ignored"]) == (4, 0, 0)
        stored = await timelines(services, store)
        answer = await webhook(client, "customers/delete", {"id": bob["id"]})
        assert (answer["ignored"], answer["rejected"]) == (1, 0)
        assert await timelines(services, store) == stored
        profile = await services.profiles.by_identifier(IdentifierType.EMAIL, EMAIL)
        assert (
            profile.id
            == (
                await services.profiles.by_identifier(
                    IdentifierType.EXTERNAL, "207119551", "shopify"
                )
            ).id
        )


class TestOrderAddresses:
    async def test_billing_and_shipping_addresses_are_the_customers(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        guest = copy.deepcopy(ORDER)
        del guest["order"]["customer"]  # a guest checkout: the addresses are all there is
        guest["order"]["shipping_address"] = {
            **guest["order"]["shipping_address"],
            "address1": "1 Rue de Rivoli",
            "city": "Paris",
            "zip": "75001",
            "country_code": "FR",
        }
        await ingest(services, "shopify-orders", guest)
        query = """query($email: String!) { profileByIdentifier(type: EMAIL, value: $email) {
          ... on Profile { addresses { address { line1 city postalCode country } sources } } } }"""
        found = await gql(client, query, await key(services, Role.AGENT), email=EMAIL)
        assert sorted(
            (a["address"]["line1"], a["address"]["country"], a["sources"])
            for a in found["profileByIdentifier"]["addresses"]
        ) == [("1 Rue de Rivoli", "FR", ["shopify"]), ("Chestnut Street 92", "US", ["shopify"])]
