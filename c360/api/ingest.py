"""Push ingestion: ``POST /ingest/{connector}`` and signed webhooks. Translation only."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from c360.api.auth import requires
from c360.auth.service import Permission
from c360.errors import C360Error, NotFound
from c360.ingest.service import IngestSummary
from c360.ingest.webhooks import verify_shopify, verify_zendesk
from c360.services import Services
from c360.settings import Settings
from connectors import CONNECTORS

router = APIRouter(tags=["ingest"])

# Shopify topic family → connector; the connector reads each body by what it is (an order, an
# order edit, a deleted order's id, a consent update). Other topics are acknowledged and
# answered as ignored.
SHOPIFY_TOPICS = {
    "orders": "shopify-orders",
    "refunds": "shopify-refunds",
    "customers": "shopify-customers",
    "customers_email_marketing_consent": "shopify-customers",
    "customers_marketing_consent": "shopify-customers",
}


class PayloadTooLarge(C360Error):
    status_code = 413


class UnknownConnector(NotFound):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it grows past ``limit`` bytes (never buffered whole)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _ingest(request: Request, connector_name: str, body: bytes, origin: str) -> IngestSummary:
    services: Services = request.app.state.services
    settings: Settings = request.app.state.settings
    connector = CONNECTORS.get(connector_name)
    if connector is None:
        raise UnknownConnector(
            f"unknown connector {connector_name!r}; known: {', '.join(sorted(CONNECTORS))}"
        )
    options = settings.parse_options()
    items = connector.parse(io.BytesIO(body), options)
    return await services.ingest.ingest(
        connector.name, items, origin=origin, keep_items=True, options=options
    )


def _report(summary: IngestSummary) -> dict[str, Any]:
    return {
        **summary.counts(),
        "items": [
            {"position": i.position, "record_id": i.record_id, "outcome": i.outcome}
            for i in summary.items or []
        ],
        "errors": [{"position": e.position, "reason": e.reason} for e in summary.errors],
        "ignored_items": [
            {"position": i.position, "reason": i.reason} for i in summary.ignored_items
        ],
    }


@router.post(
    "/ingest/{connector}",
    summary="Ingest a JSON, NDJSON or CSV body through a connector",
    description=(
        "Answers what it did: counts (read = inserted + updated + duplicates + rejected), the "
        "outcome of every record, and every rejected item with its position and reason. "
        "Rejected items are dead-lettered; the rest are stored. Needs a connector or admin key."
    ),
    dependencies=[Depends(requires(Permission.INGEST))],
)
async def ingest(request: Request, connector: str) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    body = await read_body(request, settings.ingest_max_body_bytes)
    return _report(await _ingest(request, connector, body, origin=f"POST /ingest/{connector}"))


@router.post(
    "/webhooks/shopify",
    summary="Shopify webhooks (orders/*, refunds/create, customers/*, marketing consent updates)",
)
async def shopify_webhook(
    request: Request,
    x_shopify_hmac_sha256: Annotated[str | None, Header()] = None,
    x_shopify_topic: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    body = await read_body(request, settings.ingest_max_body_bytes)
    secret = settings.shopify_webhook_secret
    verify_shopify(secret.get_secret_value() if secret else None, body, x_shopify_hmac_sha256)
    connector = SHOPIFY_TOPICS.get((x_shopify_topic or "").partition("/")[0])
    if connector is None:
        reason = f"topic {x_shopify_topic!r} carries nothing c360 reads"
        return {"ignored": True, "topic": x_shopify_topic, "reason": reason}
    return _report(await _ingest(request, connector, body, origin=f"shopify {x_shopify_topic}"))


@router.post("/webhooks/zendesk", summary="Zendesk webhooks carrying tickets")
async def zendesk_webhook(
    request: Request,
    x_zendesk_webhook_signature: Annotated[str | None, Header()] = None,
    x_zendesk_webhook_signature_timestamp: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    body = await read_body(request, settings.ingest_max_body_bytes)
    secret = settings.zendesk_webhook_secret
    verify_zendesk(
        secret.get_secret_value() if secret else None,
        body,
        x_zendesk_webhook_signature,
        x_zendesk_webhook_signature_timestamp,
        dt.datetime.now(dt.UTC),
    )
    return _report(await _ingest(request, "zendesk-tickets", body, origin="zendesk webhook"))
