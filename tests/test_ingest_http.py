"""Push ingestion over HTTP through the ASGI app: /ingest/{connector} and the webhooks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from c360.settings import Settings
from c360.store import Store
from tests import factories as f


def ndjson(*items: f.Record | str) -> bytes:
    return "\n".join(i if isinstance(i, str) else json.dumps(i) for i in items).encode()


class TestIngestEndpoint:
    async def test_answers_what_it_did_item_by_item(
        self, client: httpx.AsyncClient, store: Store
    ) -> None:
        body = ndjson(f.order(external_id="1"), "{nope", f.order(external_id="1"), f.survey())
        response = await client.post(
            "/ingest/canonical", content=body, headers={"content-type": "application/x-ndjson"}
        )
        assert response.status_code == 200
        report = response.json()
        assert {
            k: report[k] for k in ("read", "inserted", "updated", "duplicates", "rejected")
        } == {
            "read": 4,
            "inserted": 2,
            "updated": 0,
            "duplicates": 1,
            "rejected": 1,
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
        assert await store.db.dead_letters.count_documents({}) == 1

    async def test_accepts_a_json_array(self, client: httpx.AsyncClient) -> None:
        body = json.dumps([f.order(external_id="1"), f.order(external_id="2")])
        response = await client.post(
            "/ingest/canonical", content=body, headers={"content-type": "application/json"}
        )
        assert response.json()["inserted"] == 2

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
