"""Shopify's compliance webhooks, with the bodies Shopify publishes: a data request and a
customer redaction become privacy requests verified by the shop, once however often they are
delivered; the erasure, once run, leaves nothing of the customer an order brought in; a shop
redaction is acknowledged and changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from c360.settings import Settings
from tests.helpers import gql

VENDOR = Path(__file__).parent.parent / "fixtures" / "vendor" / "shopify"
SECRET = "shpss_compliance_secret"
REQUEST = """query($id: ID!) { privacyRequest(id: $id) {
  id type status identifiers { type value source } events { actor fromStatus toStatus note } } }"""
LIST = "{ privacyRequests { id type status } }"
SCOPE = """query($id: ID!) { privacyRequest(id: $id) {
  scope { fingerprint warnings { kind } } } }"""
RUN = """mutation($id: ID!, $ack: String) { runPrivacyRequest(id: $id, acknowledgeScope: $ack) {
  ... on PrivacyRequest { status } } }"""
FIND = """query($v: String!) { profileByIdentifier(type: EMAIL, value: $v) {
  __typename ... on Profile { id } } }"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"shopify_webhook_secret": SecretStr(SECRET)})


def published(name: str, **changes: Any) -> bytes:
    body = json.loads((VENDOR / name).read_text())
    body.update(changes)
    return json.dumps(body).encode()


async def deliver(
    client: httpx.AsyncClient, topic: str, body: bytes, *, event: str | None = None
) -> httpx.Response:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    headers = {
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": base64.b64encode(digest).decode(),
        "content-type": "application/json",
    }
    if event is not None:
        headers["x-shopify-event-id"] = event
    return await client.post("/webhooks/shopify", content=body, headers=headers)


class TestADataRequest:
    async def test_becomes_a_verified_access_request_naming_the_customer(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        body = published("webhook_customers_data_request.json", shop_domain="shop.myshopify.com")
        response = await deliver(client, "customers/data_request", body)

        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["new"] is True
        taken = answer["privacy_request"]
        assert (taken["type"], taken["status"]) == ("access", "verified")
        request = (await gql(admin, REQUEST, id=taken["id"]))["privacyRequest"]
        assert request["status"] == "VERIFIED"
        assert {(i["type"], i["value"], i["source"]) for i in request["identifiers"]} == {
            ("EXTERNAL", "191167", "shopify"),
            ("EMAIL", "john@example.com", None),
        }
        received, verified = request["events"]
        assert received["actor"] == verified["actor"] == "shopify webhook (shop.myshopify.com)"
        assert (verified["fromStatus"], verified["toStatus"]) == ("RECEIVED", "VERIFIED")
        # What a person checks it by, and the phone number of the published body, which is
        # not a number in the default region (ES): said, not dropped unseen.
        assert "Shopify's request id 9999" in received["note"]
        assert "3 orders named" in received["note"]
        assert "299938" not in received["note"]  # which ones: the notes outlive an erasure
        assert "not read: customer.phone:" in received["note"]

    async def test_delivered_again_answers_the_same_request(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        body = published("webhook_customers_data_request.json")
        first = (await deliver(client, "customers/data_request", body, event="e-1")).json()
        # Another delivery of the same request (a retry, another subscription): another event.
        again = (await deliver(client, "customers/data_request", body, event="e-2")).json()

        assert again == {**first, "new": False}
        assert len((await gql(admin, LIST))["privacyRequests"]) == 1


class TestACustomerRedaction:
    async def test_run_erases_the_customer_an_order_brought_in(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        order = json.loads((VENDOR / "order_create_customer.json").read_text())
        customer = order["order"]["customer"]
        posted = await deliver(client, "orders/create", json.dumps(order).encode())
        assert posted.json()["inserted"] > 0, posted.text
        email = customer["email"]
        assert (await gql(admin, FIND, v=email))["profileByIdentifier"]["__typename"] == "Profile"

        redact = published(
            "webhook_customers_redact.json",
            customer={"id": customer["id"], "email": None, "phone": None},
        )
        taken = (await deliver(client, "customers/redact", redact, event="ev-9")).json()
        assert (taken["privacy_request"]["type"], taken["new"]) == ("erasure", True)
        request_id = taken["privacy_request"]["id"]
        # The shop named the customer by id alone: the e-mail address the order brought is
        # theirs too, which the officer reviews before running it.
        scope = (await gql(admin, SCOPE, id=request_id))["privacyRequest"]["scope"]
        assert [w["kind"] for w in scope["warnings"]] == ["NOT_GIVEN"]
        ack = scope["fingerprint"]
        done = (await gql(admin, RUN, id=request_id, ack=ack))["runPrivacyRequest"]

        assert done["status"] == "COMPLETED"
        # Found by the Shopify id alone: the e-mail address the order carried went with it.
        found = (await gql(admin, FIND, v=email))["profileByIdentifier"]
        assert found["__typename"] == "NotFoundError"
        again = await deliver(client, "orders/create", json.dumps(order).encode())
        assert again.json()["suppressed"] > 0

    async def test_a_number_it_could_not_read_is_not_kept_once_erased(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        # The published phone number is no number in the default region (ES).
        body = published("webhook_customers_redact.json", shop_domain="shop.myshopify.com")
        taken = (await deliver(client, "customers/redact", body, event="ev-3")).json()
        request_id = taken["privacy_request"]["id"]
        scope = (await gql(admin, SCOPE, id=request_id))["privacyRequest"]["scope"]
        done = await gql(admin, RUN, id=request_id, ack=scope["fingerprint"])
        assert done["runPrivacyRequest"]["status"] == "COMPLETED"

        request = (await gql(admin, REQUEST, id=request_id))["privacyRequest"]
        notes = " ".join(e["note"] or "" for e in request["events"])
        assert "not read: customer.phone: not a phone number in region ES" in notes
        assert "625" not in notes

    async def test_one_event_delivered_twice_is_one_request_and_another_event_another(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        body = published("webhook_customers_redact.json")
        first = (await deliver(client, "customers/redact", body, event="ev-1")).json()
        retried = (await deliver(client, "customers/redact", body, event="ev-1")).json()
        later = (await deliver(client, "customers/redact", body, event="ev-2")).json()

        assert retried == {**first, "new": False}
        assert later["new"] is True
        assert later["privacy_request"]["id"] != first["privacy_request"]["id"]
        assert len((await gql(admin, LIST))["privacyRequests"]) == 2


class TestWhatIsNotTakenIn:
    async def test_a_shop_redaction_changes_nothing_and_says_why(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        body = published("webhook_shop_redact.json", shop_domain="shop.myshopify.com")
        response = await deliver(client, "shop/redact", body)

        assert response.status_code == 200
        assert response.json() == {
            "ignored": True,
            "topic": "shop/redact",
            "reason": "a shop/redact request from shop.myshopify.com: erasing everything a shop "
            "sent is decided by whoever runs c360, not by a webhook; nothing was changed",
        }
        assert (await gql(admin, LIST))["privacyRequests"] == []
        # One that does not say which shop is not read for whom it asks either.
        nameless = await deliver(client, "shop/redact", b"{}")
        assert nameless.status_code == 200
        assert nameless.json()["reason"].startswith("a shop/redact request: erasing everything")

    async def test_an_order_entry_that_is_no_id_is_noted_and_the_request_stands(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        body = published("webhook_customers_redact.json", orders_to_redact=[299938, 1.5])
        response = await deliver(client, "customers/redact", body)

        assert response.status_code == 200, response.text
        taken = response.json()["privacy_request"]["id"]
        [received, _] = (await gql(admin, REQUEST, id=taken))["privacyRequest"]["events"]
        assert "1 order named" in received["note"]
        assert "orders_to_redact[1]: not an order id" in received["note"]

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (
                published(
                    "webhook_customers_redact.json", customer={"phone": "12", "email": "nobody"}
                ),
                "customer: no id, e-mail address or phone number c360 can read (customer.email: ",
            ),
            (b'{"shop_domain": "s", "customer": ', "invalid JSON: "),
            (published("webhook_customers_redact.json", customer=None), "customer: expected"),
        ],
    )
    async def test_a_request_naming_no_one_is_refused_with_its_reason(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient, body: bytes, reason: str
    ) -> None:
        response = await deliver(client, "customers/redact", body)

        assert response.status_code == 422
        assert response.json()["error"] == "UnreadableRequest"
        assert response.json()["detail"].startswith(
            f"a Shopify customers/redact c360 cannot take in: {reason}"
        )
        assert (await gql(admin, LIST))["privacyRequests"] == []

    async def test_an_unsigned_request_is_refused_and_takes_nothing_in(
        self, client: httpx.AsyncClient, admin: httpx.AsyncClient
    ) -> None:
        body = published("webhook_customers_redact.json")
        response = await client.post(
            "/webhooks/shopify",
            content=body,
            headers={"x-shopify-topic": "customers/redact", "x-shopify-hmac-sha256": "bm8="},
        )

        assert response.status_code == 401
        assert (await gql(admin, LIST))["privacyRequests"] == []
