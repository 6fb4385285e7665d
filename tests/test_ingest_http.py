"""Push ingestion over HTTP through the ASGI app: /ingest/{connector} and the webhooks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from tests import factories as f
from tests.garbage import call
from tests.helpers import dead_letters, record


@pytest.fixture
def client(connector_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Requests carry a connector's key, as a pushing source's do (webhooks ignore it)."""
    return connector_client


def ndjson(*items: f.Record | str) -> bytes:
    return "\n".join(i if isinstance(i, str) else json.dumps(i) for i in items).encode()


class TestIngestEndpoint:
    async def test_answers_what_it_did_item_by_item(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        body = ndjson(f.order(external_id="1"), "{nope", f.order(external_id="1"), f.survey())
        response = await client.post(
            "/ingest/canonical", content=body, headers={"content-type": "application/x-ndjson"}
        )
        assert response.status_code == 200
        report = response.json()
        assert {
            k: report[k]
            for k in (
                "items_read",
                "records",
                "inserted",
                "updated",
                "duplicates",
                "rejected",
                "ignored",
                "suppressed",
                "conflicts",
            )
        } == {
            "items_read": 4,
            "records": 4,
            "inserted": 2,
            "updated": 0,
            "duplicates": 1,
            "rejected": 1,
            "ignored": 0,
            "suppressed": 0,
            "conflicts": 0,
        }
        assert report["items"] == [
            {"position": "line 1", "record_id": "shop:order:1", "outcome": "inserted"},
            {"position": "line 3", "record_id": "shop:order:1", "outcome": "duplicate"},
            {
                "position": "line 4",
                "record_id": "surveys:survey_response:S-1",
                "outcome": "inserted",
            },
        ]
        assert report["errors"][0]["position"] == "line 2"
        assert "invalid JSON" in report["errors"][0]["reason"]
        assert len(await dead_letters(services)) == 1

    async def test_a_csv_body_whose_header_lacks_a_column_is_refused_whole(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        body = b"response_id,responded_at,score\nR-1,2024-09-14T10:00:00Z,9\n"
        response = await client.post(
            "/ingest/surveys-csv", content=body, headers={"content-type": "text/csv"}
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "UnreadableInput"
        assert response.json()["detail"].startswith(
            "surveys-csv cannot read POST /ingest/surveys-csv (line 1): missing columns: 'type'"
        )
        assert await dead_letters(services) == []  # nothing of it read: nothing to replay

    async def test_accepts_a_json_array(self, client: httpx.AsyncClient) -> None:
        body = json.dumps([f.order(external_id="1"), f.order(external_id="2")])
        response = await client.post(
            "/ingest/canonical", content=body, headers={"content-type": "application/json"}
        )
        assert response.json()["inserted"] == 2

    async def test_a_vendor_file_saved_with_a_byte_order_mark_reads_as_without(
        self, client: httpx.AsyncClient
    ) -> None:
        orders = (FIXTURES / "vendor" / "shopify" / "orders_list.json").read_bytes()
        headers = {"content-type": "application/json"}
        marked = await client.post(
            "/ingest/shopify-orders", content=b"\xef\xbb\xbf" + orders, headers=headers
        )
        assert marked.status_code == 200, marked.text
        assert marked.json()["rejected"] == 0
        assert marked.json()["inserted"] > 0
        again = await client.post("/ingest/shopify-orders", content=orders, headers=headers)
        assert again.json()["duplicates"] == marked.json()["inserted"]  # the same items

    async def test_a_graphql_admin_response_is_rejected_saying_what_it_is(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        # The shape of the Admin GraphQL API's answer to an order query
        # (https://shopify.dev/docs/api/admin-graphql/latest/queries/order): it was
        # rejected as "id: missing", as if an order had lost its id.
        body = {
            "data": {
                "order": {
                    "id": "gid://shopify/Order/148977776",
                    "name": "#1001",
                    "createdAt": "2024-01-01T00:00:00Z",
                    "totalPriceSet": {"shopMoney": {"amount": "10.00", "currencyCode": "USD"}},
                }
            }
        }
        response = await client.post(
            "/ingest/shopify-orders", json=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text
        assert [e["reason"] for e in response.json()["errors"]] == [
            "a GraphQL Admin API response: shopify-orders reads the REST Order JSON "
            "(GET /admin/api/{version}/orders.json) and the orders/* webhook bodies"
        ]
        assert await store.db.records.count_documents({}) == 0

    async def test_event_properties_with_decimals_are_stored(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        # The JSON reader gave Decimals, which the store cannot encode: the batch failed.
        kept = f.site_event(properties={"price": 12.5, "count": 3, "a.b": 1})
        # A value the store cannot hold costs its own item, and is not rewritten.
        refused = f.site_event(external_id="E-2", properties={"views": 2**70})
        response = await client.post("/ingest/canonical", content=ndjson(kept, refused))
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["inserted"], report["rejected"]) == (1, 1)
        assert report["errors"][0]["reason"].startswith("cannot be stored: properties.views:")
        stored = await record(store, "web:site_event:E-1")
        assert stored.payload["properties"] == {"price": 12.5, "count": 3, "a.b": 1}

    async def test_an_item_with_a_lone_surrogate_is_rejected_and_kept(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        broken = json.dumps(f.order(external_id="1", order_number="N\ud800")).replace(
            "\\\\ud800", "\\ud800"
        )
        assert "\\ud800" in broken
        response = await client.post(
            "/ingest/canonical", content=ndjson(broken, f.order(external_id="2"))
        )
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["inserted"], report["rejected"]) == (1, 1)
        assert report["errors"][0]["reason"].startswith("order_number: ")
        [letter] = await dead_letters(services)
        assert letter.raw == broken  # as it came, the escape included

    async def test_a_content_length_that_is_no_ascii_number_is_not_read_as_one(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        # '²'.isdigit() is true and int('²') fails: the declared length counts for nothing.
        body = ndjson(f.order(external_id="1"))
        authorization = client.headers["authorization"].encode()
        answer = await call(
            app,
            "POST",
            b"/ingest/canonical",
            headers=[(b"authorization", authorization), (b"content-length", "²".encode())],
            body=body,
        )
        assert answer.status == 200, answer.body
        assert json.loads(answer.body)["inserted"] == 1

    async def test_unknown_connector_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/ingest/nope", content=b"{}")
        assert response.status_code == 404
        assert response.json()["error"] == "UnknownConnector"


class TestBodyLimit:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"ingest_max_body_bytes": 200})

    async def test_oversized_body_is_413_and_stores_nothing(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        body = ndjson(*(f.order(external_id=str(i)) for i in range(5)))
        response = await client.post("/ingest/canonical", content=body)
        assert response.status_code == 413
        assert response.json()["error"] == "PayloadTooLarge"
        assert await store.db.records.count_documents({}) == 0

    async def test_oversized_streamed_body_without_length_is_413(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(10):
                yield json.dumps(f.order(external_id=str(i))).encode() + b"\n"

        response = await client.post("/ingest/canonical", content=chunks())
        assert response.status_code == 413
        assert await store.db.records.count_documents({}) == 0


FIXTURES = Path(__file__).parent / "fixtures"
SHOPIFY_SECRET = "shpss_test_secret"
ZENDESK_SECRET = "dGhpcyBpcyBhIHNlY3JldA=="


def sign(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


class TestShopifyWebhook:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"shopify_webhook_secret": SecretStr(SHOPIFY_SECRET)})

    async def post(
        self, client: httpx.AsyncClient, body: bytes, signature: str | None, topic: str
    ) -> httpx.Response:
        headers = {"x-shopify-topic": topic, "content-type": "application/json"}
        if signature is not None:
            headers["x-shopify-hmac-sha256"] = signature
        return await client.post("/webhooks/shopify", content=body, headers=headers)

    async def test_signed_order_is_stored_with_its_customer(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        body = (FIXTURES / "shopify" / "order_webhook.json").read_bytes()
        response = await self.post(client, body, sign(SHOPIFY_SECRET, body), "orders/create")
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == 0
        order = await record(store, "shopify:order:820982911946154508")
        customer = await record(store, "shopify:person:115310627314723954")
        assert order.profile_id is not None
        assert customer.profile_id == order.profile_id

    @pytest.mark.parametrize(
        "signature", [None, "", "bm90IHRoZSBzaWduYXR1cmU=", sign("another-secret", b"{}")]
    )
    async def test_missing_or_wrong_signature_is_401_and_stores_nothing(
        self, client: httpx.AsyncClient, store: Store, signature: str | None
    ) -> None:
        body = (FIXTURES / "shopify" / "order_webhook.json").read_bytes()
        response = await self.post(client, body, signature, "orders/create")
        assert response.status_code == 401
        assert response.json()["error"] == "InvalidSignature"
        assert await store.db.records.count_documents({}) == 0
        assert await store.db.dead_letters.count_documents({}) == 0

    @pytest.mark.parametrize("signature", ["é".encode("latin-1"), b"\xff\xfe", "\u00e9".encode()])
    async def test_a_signature_of_other_characters_is_401(
        self, client: httpx.AsyncClient, store: Store, signature: bytes
    ) -> None:
        # compare_digest refuses non-ASCII strings: this was a 500.
        body = b'{"id": 1}'
        headers = {b"x-shopify-topic": b"orders/create", b"x-shopify-hmac-sha256": signature}
        response = await client.post("/webhooks/shopify", content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "InvalidSignature"
        assert await store.db.records.count_documents({}) == 0

    async def test_body_changed_after_signing_is_refused(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        body = (FIXTURES / "shopify" / "order_webhook.json").read_bytes()
        signature = sign(SHOPIFY_SECRET, body)
        tampered = body.replace(b'"total_price"', b'"total_price" ', 1)
        response = await self.post(client, tampered, signature, "orders/create")
        assert response.status_code == 401

    async def test_other_topics_are_acknowledged_and_ignored(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        body = b'{"id": 1}'
        response = await self.post(client, body, sign(SHOPIFY_SECRET, body), "products/create")
        assert response.status_code == 200
        assert response.json() == {
            "ignored": True,
            "topic": "products/create",
            "reason": "topic 'products/create' carries nothing c360 reads",
        }
        assert await store.db.records.count_documents({}) == 0

    async def test_the_published_test_notification_is_kept_out_as_a_test_order(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        body = (FIXTURES / "vendor" / "shopify" / "webhook_orders_create.json").read_bytes()
        response = await self.post(client, body, sign(SHOPIFY_SECRET, body), "orders/create")
        assert response.status_code == 200, response.text
        assert response.json()["ignored_items"] == [
            {
                "position": "line 1",
                "reason": "test order 820982911946154508: kept out of every profile and metric",
            }
        ]
        assert await store.db.records.count_documents({}) == 0

    async def test_a_body_without_its_topic_is_ignored_saying_so(
        self, client: httpx.AsyncClient
    ) -> None:
        body = b'{"id": 1}'
        headers = {
            "x-shopify-hmac-sha256": sign(SHOPIFY_SECRET, body),
            "content-type": "application/json",
        }
        response = await client.post("/webhooks/shopify", content=body, headers=headers)
        assert response.status_code == 200
        assert response.json() == {
            "ignored": True,
            "topic": None,
            "reason": "no X-Shopify-Topic header: nothing says what the body is",
        }


class TestWebhooksOff:
    async def test_without_a_secret_the_endpoints_are_off(self, client: httpx.AsyncClient) -> None:
        for path in ("/webhooks/shopify", "/webhooks/zendesk"):
            response = await client.post(path, content=b"{}")
            assert response.status_code == 404
            assert response.json()["error"] == "WebhookNotConfigured"


class TestZendeskWebhook:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"zendesk_webhook_secret": SecretStr(ZENDESK_SECRET)})

    async def post(
        self, client: httpx.AsyncClient, body: bytes, timestamp: str, signature: str
    ) -> httpx.Response:
        headers = {
            "x-zendesk-webhook-signature": signature,
            "x-zendesk-webhook-signature-timestamp": timestamp,
            "content-type": "application/json",
        }
        return await client.post("/webhooks/zendesk", content=body, headers=headers)

    async def test_signed_page_is_stored(self, client: httpx.AsyncClient, store: Store) -> None:
        body = (FIXTURES / "zendesk" / "page1.json").read_bytes()
        now = dt.datetime.now(dt.UTC).isoformat()
        response = await self.post(client, body, now, sign(ZENDESK_SECRET, now.encode() + body))
        assert response.status_code == 200, response.text
        assert response.json()["inserted"] > 0
        for ticket in (35436, 35437, 35438, 35439):
            assert (await record(store, f"zendesk:service_case:{ticket}")).kind == "service_case"

    async def test_a_page_of_millions_of_empty_tickets_is_one_refusal(
        self, client: httpx.AsyncClient, store: Store, services: Services
    ) -> None:
        body = b'{"tickets":[' + b",".join([b"{}"] * 200_000) + b"]}"
        now = dt.datetime.now(dt.UTC).isoformat()
        response = await self.post(client, body, now, sign(ZENDESK_SECRET, now.encode() + body))
        assert response.status_code == 200, response.text
        answer = response.json()
        assert (answer["items_read"], answer["rejected"]) == (1, 1), answer
        assert "a page of 200,000 tickets" in answer["errors"][0]["reason"]
        assert len(await dead_letters(services)) == 1
        assert await store.db.records.count_documents({}) == 0

    async def test_wrong_signature_is_401(self, client: httpx.AsyncClient, store: Store) -> None:
        body = (FIXTURES / "zendesk" / "page1.json").read_bytes()
        now = dt.datetime.now(dt.UTC).isoformat()
        response = await self.post(client, body, now, sign(ZENDESK_SECRET, body))  # no timestamp
        assert response.status_code == 401
        assert await store.db.records.count_documents({}) == 0

    async def test_a_signature_of_other_characters_is_401(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        headers = {
            b"x-zendesk-webhook-signature": "s\u00e9".encode("latin-1"),
            b"x-zendesk-webhook-signature-timestamp": dt.datetime.now(dt.UTC).isoformat().encode(),
        }
        response = await client.post("/webhooks/zendesk", content=b"{}", headers=headers)
        assert response.status_code == 401
        assert await store.db.records.count_documents({}) == 0

    async def test_replayed_old_request_is_401(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        body = (FIXTURES / "zendesk" / "page1.json").read_bytes()
        old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
        response = await self.post(client, body, old, sign(ZENDESK_SECRET, old.encode() + body))
        assert response.status_code == 401
        assert "too old" in response.json()["detail"]
        assert await store.db.records.count_documents({}) == 0
