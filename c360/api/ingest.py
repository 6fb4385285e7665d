"""Push ingestion: ``POST /ingest/{connector}`` and signed webhooks. Translation only."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Request
from pydantic import BaseModel, Field

from c360.api.auth import requires
from c360.api.openapi import KEYED, answers, raw_body
from c360.auth.service import Permission
from c360.errors import C360Error, InvalidInput, NotFound
from c360.ingest.service import IngestSummary
from c360.ingest.webhooks import verify_shopify, verify_zendesk
from c360.privacy.given import GivenIdentifier
from c360.privacy.rules import RequestType
from c360.services import Services
from c360.settings import Settings
from connectors import CONNECTORS, Connector
from connectors.base import Ignore, Rejected
from connectors.shopify.compliance import COMPLIANCE_TOPICS, compliance_request
from schemas.identifiers import IdentifierType
from schemas.quoting import shown

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


class UnsupportedMediaType(C360Error):
    status_code = 415


class UnreadableRequest(InvalidInput):
    """A privacy request a vendor signed that names no one c360 could find."""


UTF_8 = ("utf-8", "utf8", "us-ascii")  # what a body may say it is in: UTF-8, or ASCII within it


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it grows past ``limit`` bytes (never buffered whole).
    A declared length over the limit is refused before reading; one that is no number (the
    HTTP server refuses those first) counts for nothing: what arrives is counted."""
    declared = request.headers.get("content-length")
    # isdigit alone takes '²', which int() refuses.
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _connector(name: str) -> Connector:
    connector = CONNECTORS.get(name)
    if connector is None:
        raise UnknownConnector(
            f"unknown connector {shown(name)}; known: {', '.join(sorted(CONNECTORS))}"
        )
    return connector


def _check_media_type(content_type: str | None, connector: Connector) -> None:
    """Refuses (415) a body whose ``Content-Type`` the connector does not read, or in another
    charset than UTF-8: reading XML as JSON would answer every item rejected as invalid JSON.
    A body without a type is read as the connector's format."""
    if content_type is None or not content_type.strip():
        return
    kind, *parameters = content_type.split(";")
    kind = kind.strip().lower()
    accepted = ", ".join(connector.media_types)
    if kind not in connector.media_types:
        raise UnsupportedMediaType(
            f"{connector.name} reads {accepted} bodies, not {shown(kind)}: send the body with "
            f"Content-Type: {connector.media_types[0]}"
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in UTF_8:
            raise UnsupportedMediaType(f"bodies are read as UTF-8, not {shown(charset)}")


async def _ingest(
    request: Request, connector: Connector, body: bytes, origin: str
) -> IngestSummary:
    services: Services = request.app.state.services
    settings: Settings = request.app.state.settings
    options = settings.parse_options()
    items = connector.parse(io.BytesIO(body), options)
    return await services.ingest.ingest(
        connector.name, items, origin=origin, keep_items=True, options=options
    )


class RecordOutcome(BaseModel):
    position: str = Field(description="Where in the body: `line 3`, `item 2`, `lines 4-5`, …")
    record_id: str
    outcome: Literal["inserted", "updated", "duplicate"]


class ItemProblem(BaseModel):
    position: str
    reason: str


class IngestReport(BaseModel):
    """What became of a body: read = inserted + updated + duplicates + rejected + ignored +
    suppressed."""

    items_read: int = Field(description="Items in the body (an order and its lines are one).")
    records: int = Field(description="Records those items became, whatever their outcome.")
    inserted: int
    updated: int
    duplicates: int
    rejected: int = Field(description="Items refused, each dead-lettered with its reason.")
    ignored: int = Field(description="Items read and deliberately kept nothing of.")
    suppressed: int = Field(
        description="Records and rejected items of erased people: skipped, nothing kept."
    )
    conflicts: int = Field(
        description="Of the updated and duplicates, records that came with the revision time "
        "of the stored copy and other content: the copy stating more values was kept, else "
        "one by a fixed order (so every arrival order ends alike). A correction needs a later "
        "revision time (the source's updated_at) to win."
    )
    effects: dict[str, int] = Field(
        description="What the records led to beyond themselves, by name, only those that "
        "happened: `follow_ups_opened`, the follow-ups the alert rules opened for them. The "
        "same records sent again lead to nothing: `{}`."
    )
    items: list[RecordOutcome]
    errors: list[ItemProblem] = Field(description="Every rejected item.")
    ignored_items: list[ItemProblem]


class TakenRequest(BaseModel):
    id: str = Field(description="`c360 privacy status <id>`, `privacyRequest(id:)`.")
    type: RequestType
    status: str = Field(description="`verified`: the shop verified the person; a person runs it.")
    received_at: dt.datetime
    deadline: dt.datetime


class PrivacyRequestTaken(BaseModel):
    """A compliance webhook taken in as a privacy request."""

    privacy_request: TakenRequest
    new: bool = Field(
        description="False: a repeated delivery of a request already taken in (the same "
        "X-Shopify-Event-Id, or Shopify's data request id), answered with that request."
    )


class IgnoredTopic(BaseModel):
    """A webhook topic acknowledged and not read."""

    ignored: Literal[True]
    topic: str | None
    reason: str


# Any body: what cannot be read is a rejected item in the answer, never a refused request.
JSON_BODY: dict[str, Any] = {"schema": {}}
TEXT_BODY: dict[str, Any] = {"schema": {}}
INGEST_BODY = raw_body(
    "What the connector reads, in UTF-8: JSON (an object, an array, or a wrapper such as "
    '`{"orders": [...]}`) or JSON lines for the JSON connectors (`application/json`, '
    "`application/x-ndjson`, `application/ndjson`, `application/jsonl` or `text/plain`), CSV "
    "with the connector's columns for the CSV ones (`text/csv`, `application/csv` or "
    "`text/plain`); another type is 415, a body without one is read as the connector's "
    "format. At most C360_INGEST_MAX_BODY_BYTES. No body reads no items.",
    {"application/json": JSON_BODY, "application/x-ndjson": TEXT_BODY, "text/csv": TEXT_BODY},
    required=False,
)
WEBHOOK_BODY = raw_body("The vendor's JSON body, signed.", {"application/json": JSON_BODY})
UNREADABLE = "A `Content-Type` the connector does not read, or a charset other than UTF-8."
UNREADABLE_BODY = (
    "A body the connector cannot read at all: a CSV body whose header cannot be split, or "
    "lacks a column the connector needs. Nothing of it is read, stored or dead-lettered; the "
    "detail names the line and the columns."
)
WEBHOOK_ANSWERS = answers(
    401,
    404,
    413,
    415,
    why={
        401: "The signature is missing, wrong, or (Zendesk) more than 5 minutes off; "
        "nothing is stored.",
        404: "The webhook's secret is not configured: the endpoint is off.",
        415: "A `Content-Type` other than JSON, or a charset other than UTF-8.",
    },
)


def _report(summary: IngestSummary) -> dict[str, Any]:
    return {
        **summary.counts(),
        "effects": {
            re.sub(r"\W+", "_", name): count  # follow-ups opened → follow_ups_opened
            for name, count in sorted(summary.effects.items())
            if count
        },
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
        "Answers what it did: counts (read = inserted + updated + duplicates + rejected + "
        "ignored), the outcome of every record, and every rejected item with its position and "
        "reason. Rejected items are dead-lettered; the rest are stored. A CSV body whose header "
        "the connector cannot read is refused whole (422). Needs a connector or admin key."
    ),
    dependencies=[Depends(requires(Permission.INGEST))],
    response_description="What became of each item",
    responses={
        200: {"model": IngestReport},
        **answers(*KEYED, 404, 413, 415, 422, why={415: UNREADABLE, 422: UNREADABLE_BODY}),
    },
    openapi_extra=INGEST_BODY,
)
async def ingest(
    request: Request,
    connector: Annotated[
        str,
        Path(
            description="The connector that reads the body (an unknown one is 404).",
            json_schema_extra={"enum": sorted(CONNECTORS)},
        ),
    ],
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    reader = _connector(connector)
    _check_media_type(request.headers.get("content-type"), reader)  # before reading the body
    body = await read_body(request, settings.ingest_max_body_bytes)
    return _report(await _ingest(request, reader, body, origin=f"POST /ingest/{connector}"))


@router.post(
    "/webhooks/shopify",
    summary="Shopify webhooks (orders/*, refunds/create, customers/*, marketing consent updates, "
    "the compliance topics)",
    description="`customers/data_request` and `customers/redact` become a privacy request, "
    "verified by the shop, for a person to run (`c360 privacy run`); a repeated delivery "
    "answers the request the first made. `shop/redact` and other topics are acknowledged and "
    "answered as ignored, with the reason.",
    responses={
        200: {"model": IngestReport | PrivacyRequestTaken | IgnoredTopic},
        **WEBHOOK_ANSWERS,
        **answers(422, why={422: "A compliance request that names no one c360 could find."}),
    },
    openapi_extra=WEBHOOK_BODY,
)
async def shopify_webhook(
    request: Request,
    x_shopify_hmac_sha256: Annotated[
        str | None, Header(description="Base64 HMAC-SHA256 of the raw body with the secret.")
    ] = None,
    x_shopify_topic: Annotated[
        str | None, Header(description="`orders/create`, `refunds/create`, …")
    ] = None,
    x_shopify_event_id: Annotated[
        str | None, Header(description="The event: the same in every delivery of it.")
    ] = None,
    x_shopify_webhook_id: Annotated[
        str | None, Header(description="The delivery: the same in its retries.")
    ] = None,
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    body = await read_body(request, settings.ingest_max_body_bytes)
    secret = settings.shopify_webhook_secret
    verify_shopify(secret.get_secret_value() if secret else None, body, x_shopify_hmac_sha256)
    if x_shopify_topic in COMPLIANCE_TOPICS:
        delivery = x_shopify_event_id or x_shopify_webhook_id
        return await _privacy_request(request, x_shopify_topic, body, delivery)
    name = SHOPIFY_TOPICS.get((x_shopify_topic or "").partition("/")[0])
    if name is None:
        reason = (
            f"topic {shown(x_shopify_topic)} carries nothing c360 reads"
            if x_shopify_topic is not None
            else "no X-Shopify-Topic header: nothing says what the body is"
        )
        return {"ignored": True, "topic": x_shopify_topic, "reason": reason}
    connector = _connector(name)
    _check_media_type(request.headers.get("content-type"), connector)
    return _report(await _ingest(request, connector, body, origin=f"shopify {x_shopify_topic}"))


async def _privacy_request(
    request: Request, topic: str, body: bytes, delivery: str | None
) -> dict[str, Any]:
    """A compliance webhook: ``customers/data_request`` and ``customers/redact`` become a
    verified access or erasure request, ``shop/redact`` is answered as ignored."""
    services: Services = request.app.state.services
    settings: Settings = request.app.state.settings
    try:
        asked = compliance_request(topic, body, settings.default_region, delivery=delivery)
    except Ignore as exc:
        return {"ignored": True, "topic": topic, "reason": str(exc)}
    except Rejected as exc:
        raise UnreadableRequest(f"a Shopify {topic} c360 cannot take in: {exc}") from None
    taken, new = await services.privacy.receive(
        RequestType(asked.asked.value),
        [
            GivenIdentifier(IdentifierType(i["type"]), i["value"], i.get("source"))
            for i in asked.identifiers
        ],
        sender=f"shopify webhook ({asked.shop})",
        reference=asked.reference,
        now=dt.datetime.now(dt.UTC),
        note=asked.note(topic),
    )
    return {
        "privacy_request": {
            "id": taken.id,
            "type": taken.type,
            "status": taken.status,
            "received_at": taken.received_at,
            "deadline": taken.deadline,
        },
        "new": new,
    }


@router.post(
    "/webhooks/zendesk",
    summary="Zendesk webhooks carrying tickets",
    description='The body is an export page: `{"tickets": [...], "users": [...]}`.',
    responses={200: {"model": IngestReport}, **WEBHOOK_ANSWERS},
    openapi_extra=WEBHOOK_BODY,
)
async def zendesk_webhook(
    request: Request,
    x_zendesk_webhook_signature: Annotated[
        str | None,
        Header(description="Base64 HMAC-SHA256 of the timestamp and the body with the secret."),
    ] = None,
    x_zendesk_webhook_signature_timestamp: Annotated[
        str | None, Header(description="When Zendesk signed it (ISO 8601).")
    ] = None,
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
    connector = _connector("zendesk-tickets")
    _check_media_type(request.headers.get("content-type"), connector)
    return _report(await _ingest(request, connector, body, origin="zendesk webhook"))
