"""What a push may send: each connector reads the media types it declares, in UTF-8 (JSON and
JSON lines for the JSON connectors, CSV for the CSV ones, plain text for both); a body of
another type is refused with 415 before it is read, nothing stored, where it was answered 200
with every item rejected as invalid JSON. A body without a type is read as the connector's
format, as before."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import pytest
from pydantic import SecretStr

from c360.settings import Settings
from tests import factories as f

EVENTS = "\n".join(
    json.dumps(
        {
            "type": "track",
            "messageId": f"m-{n}",
            "userId": f"u-{n}",
            "event": "Viewed",
            "timestamp": "2024-05-01T10:00:00Z",
        }
    )
    for n in range(2)
).encode()
ORDERS = (
    b"order_id,ordered_at,quantity,unit_price,currency,email\n"
    b"A-1,2024-05-01T10:00:00Z,1,12.50,EUR,one@example.com\n"
)
ORDER = json.dumps(f.order()).encode()  # a canonical record
SHOPIFY_SECRET = "shpss_test_secret"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "shopify_webhook_secret": SecretStr(SHOPIFY_SECRET),
            "ingest_max_body_bytes": 64 * 1024,
        }
    )


async def push(
    client: httpx.AsyncClient, connector: str, body: bytes, content_type: str | None
) -> httpx.Response:
    headers = {} if content_type is None else {"content-type": content_type}
    return await client.post(f"/ingest/{connector}", content=body, headers=headers)


class TestWhatIsRead:
    @pytest.mark.parametrize(
        "content_type",
        [
            "application/json",
            "application/x-ndjson",
            "application/ndjson",
            "application/jsonl",
            "text/plain",
            "application/json; charset=utf-8",
            'Application/X-NDJSON; charset="UTF-8"',
            None,
        ],
    )
    async def test_a_json_connector_reads_json_and_json_lines(
        self, connector_client: httpx.AsyncClient, content_type: str | None
    ) -> None:
        response = await push(connector_client, "segment", EVENTS, content_type)
        assert response.status_code == 200, response.text
        assert (response.json()["inserted"], response.json()["rejected"]) == (2, 0)

    @pytest.mark.parametrize(
        "content_type", ["text/csv", "text/csv; charset=utf-8", "application/csv", "text/plain"]
    )
    async def test_a_csv_connector_reads_csv(
        self, connector_client: httpx.AsyncClient, content_type: str
    ) -> None:
        response = await push(connector_client, "pos-csv", ORDERS, content_type)
        assert response.status_code == 200, response.text
        assert (response.json()["inserted"], response.json()["rejected"]) == (1, 0)


class TestWhatIsRefused:
    @pytest.mark.parametrize(
        ("connector", "body", "content_type", "detail"),
        [
            (
                "segment",
                EVENTS,
                "application/xml",
                "segment reads application/json, application/x-ndjson, application/ndjson, "
                "application/jsonl, text/plain bodies, not 'application/xml': send the body "
                "with Content-Type: application/json",
            ),
            (
                "segment",
                EVENTS,
                "application/x-www-form-urlencoded",  # curl --data-binary without -H
                "not 'application/x-www-form-urlencoded'",
            ),
            ("canonical", ORDER, "text/csv", "canonical reads application/json"),
            (
                "pos-csv",
                ORDERS,
                "application/json",
                "pos-csv reads text/csv, application/csv, text/plain bodies, not "
                "'application/json': send the body with Content-Type: text/csv",
            ),
            (
                "segment",
                EVENTS,
                "application/json; charset=latin-1",
                "bodies are read as UTF-8, not 'latin-1'",
            ),
        ],
    )
    async def test_another_type_is_415_and_nothing_is_stored(
        self,
        connector_client: httpx.AsyncClient,
        connector: str,
        body: bytes,
        content_type: str,
        detail: str,
    ) -> None:
        refused = await push(connector_client, connector, body, content_type)
        assert refused.status_code == 415
        assert refused.json()["error"] == "UnsupportedMediaType"
        assert detail in refused.json()["detail"]
        # Sent again as what it is, every item is new: the refused push stored nothing.
        again = await push(connector_client, connector, body, None)
        assert again.json()["inserted"] > 0
        assert again.json()["duplicates"] == 0

    async def test_the_type_is_refused_before_the_body_is_read(
        self, connector_client: httpx.AsyncClient
    ) -> None:
        huge = b"<events>" + b"<event/>" * 100_000 + b"</events>"  # over the body limit
        response = await push(connector_client, "segment", huge, "application/xml")
        assert response.status_code == 415

    async def test_an_unknown_connector_is_404_whatever_the_type(
        self, connector_client: httpx.AsyncClient
    ) -> None:
        response = await push(connector_client, "nope", b"<x/>", "application/xml")
        assert response.status_code == 404

    async def test_a_signed_webhook_of_another_type_is_415(
        self, connector_client: httpx.AsyncClient
    ) -> None:
        body = json.dumps({"order": f.order()}).encode()
        signature = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
        headers = {
            "x-shopify-topic": "orders/create",
            "x-shopify-hmac-sha256": base64.b64encode(signature).decode(),
            "content-type": "application/xml",
        }
        response = await connector_client.post("/webhooks/shopify", content=body, headers=headers)
        assert response.status_code == 415
        unsigned = {**headers, "x-shopify-hmac-sha256": "forged"}
        forged = await connector_client.post("/webhooks/shopify", content=body, headers=unsigned)
        assert forged.status_code == 401  # the signature first: nothing is said to strangers
