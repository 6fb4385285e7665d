"""Customer-facing links and the audience export. Translation only.

- ``/unsubscribe/{token}``: one-click unsubscribe (RFC 8058). ``GET`` shows a confirmation page
  and changes nothing (mail scanners follow links); ``POST`` with ``List-Unsubscribe=One-Click``
  unsubscribes at once, with no redirect. A tampered link is refused (403), an expired one too
  (410).
- ``/consent/confirm/{token}``: the double opt-in link. ``GET`` shows the page, ``POST`` confirms
  (single use; 410 once used or expired, 404 when unknown).
- ``GET /audiences/export``: everyone the policy allows, streamed as NDJSON or CSV (cells a
  spreadsheet would run as a formula, phone numbers among them, begin with a quote: see
  :mod:`c360.spreadsheet`).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import email.policy
import hashlib
import html
import io
import json
from collections.abc import AsyncIterator
from email.parser import BytesParser
from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from c360.api.auth import requires
from c360.api.ingest import read_body
from c360.api.openapi import KEYED, answers, pages, raw_body
from c360.audit.service import Action, AuditService
from c360.auth.masking import mask_contact_point
from c360.auth.service import Caller, Permission
from c360.contact.links import Unsubscribe
from c360.contact.service import ContactService
from c360.contact.types import AudienceFilter, Member
from c360.errors import C360Error
from c360.instants import ASKABLE_PATTERN
from c360.observability.requests import request_id
from c360.profiles.lifecycle import LifecycleStage, ValueTier
from c360.spreadsheet import neutralised
from schemas.records import ContactChannel

router = APIRouter(tags=["contact"])
_FORM_LIMIT = 4096
EXPORT_COLUMNS = (
    "profile_id",
    "channel",
    "purpose",
    "contact_point",
    "country",
    "time_zone",
    "unsubscribe_url",
)


UNSUBSCRIBE_PAGES = {
    200: "The page: what the link unsubscribes from, and a button (a GET changes nothing).",
    400: "The form lacks `List-Unsubscribe=One-Click`; nothing was changed.",
    403: "The link was tampered with (its signature does not match).",
    404: "The person is no longer known.",
    410: "The link expired.",
}
CONFIRM_PAGES = {
    200: "The page: what the link confirms, and a button (a GET changes nothing).",
    404: "No such confirmation link.",
    410: "The link was already used, or expired.",
}
ONE_CLICK_FORM = {
    "schema": {
        "type": "object",
        "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}},
        "required": ["List-Unsubscribe"],
    }
}
ONE_CLICK = raw_body(
    "RFC 8058 one-click: `List-Unsubscribe=One-Click`, as a form (what mail clients send).",
    {"application/x-www-form-urlencoded": ONE_CLICK_FORM, "multipart/form-data": ONE_CLICK_FORM},
)
EXPORT_ROWS = (
    "One row per member: `profile_id, channel, purpose, contact_point, country, time_zone, "
    "unsubscribe_url` (NDJSON: an object per line; CSV: a header line, then rows)."
)


def _contact(request: Request) -> ContactService:
    return request.app.state.services.contact


# The link pages' one style: a readable column, and a button of at least 24 by 24 CSS px
# (WCAG 2.2 SC 2.5.8; the browser's own is 21 px tall) that a thumb finds on a phone.
LINK_PAGE_STYLE = (
    "body{margin:0;font:1rem/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:#1b1f24}"
    "main{max-width:34rem;margin:0 auto;padding:1.5rem 1rem}"
    "button{font:inherit;min-height:2.75rem;min-width:2.75rem;padding:0.5rem 1.25rem;"
    "border:1px solid #1d4ed8;border-radius:0.35rem;background:#1d4ed8;color:#fff;"
    "cursor:pointer}"
    "button:focus-visible{outline:3px solid #b45309;outline-offset:2px}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(LINK_PAGE_STYLE.encode()).digest()).decode()
LINK_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # A page with one button that acts for the customer: no other site may frame it under
    # bait (clickjacking). It runs nothing and loads nothing (its one style is inline, allowed
    # by its hash); its address is the token, so it is sent nowhere.
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{LINK_PAGE_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(page, status_code=status_code, headers=LINK_PAGE_HEADERS)


def _refused(exc: C360Error) -> HTMLResponse:
    return _page("This link cannot be used", f"<p>{html.escape(exc.detail)}</p>", exc.status_code)


def _what(what: Unsubscribe) -> str:
    point = f" at {mask_contact_point(what.contact_point)}" if what.contact_point else ""
    purpose = "anything" if what.purpose == "all" else f"{what.purpose} messages"
    return html.escape(f"{purpose} by {what.channel}{point}")


def _form(button: str, fields: dict[str, str]) -> str:
    hidden = "".join(
        f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
        for k, v in fields.items()
    )
    return (
        f"<form method='post'>{hidden}<button type='submit'>{html.escape(button)}</button></form>"
    )


@router.get(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="The unsubscribe page of a signed link",
    responses=pages(200, 403, 410, why=UNSUBSCRIBE_PAGES),
)
async def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    try:
        what = _contact(request).read_link(token, dt.datetime.now(dt.UTC))
    except C360Error as exc:
        return _refused(exc)
    form = _form("Unsubscribe", {"List-Unsubscribe": "One-Click"})
    return _page("Unsubscribe", f"<p>Stop receiving {_what(what)}?</p>{form}")


@router.post(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="Unsubscribe at once (RFC 8058 one-click)",
    responses={
        **pages(200, 400, 403, 404, 410, why=UNSUBSCRIBE_PAGES),
        **answers(413, why={413: "The form is larger than 4 KiB."}),
    },
    openapi_extra=ONE_CLICK,
)
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """RFC 8058: the body is ``List-Unsubscribe=One-Click``; no redirect, no login."""
    body = await read_body(request, _FORM_LIMIT)
    form = _form_fields(request.headers.get("content-type", ""), body)
    if form.get("List-Unsubscribe") != ["One-Click"]:
        return _page(
            "Nothing was changed",
            "<p>An unsubscribe request carries List-Unsubscribe=One-Click.</p>",
            400,
        )
    evidence = "RFC 8058 one-click POST"
    if agent := request.headers.get("user-agent"):
        evidence += f" from {agent[:200]}"
    try:
        what = await _contact(request).unsubscribe(token, evidence, dt.datetime.now(dt.UTC))
    except C360Error as exc:
        return _refused(exc)
    return _page("You are unsubscribed", f"<p>You will no longer receive {_what(what)}.</p>")


def _form_fields(content_type: str, body: bytes) -> dict[str, list[str]]:
    """A form's fields: ``multipart/form-data`` (what RFC 8058 recommends mail clients send)
    or ``application/x-www-form-urlencoded``."""
    if not content_type.lower().startswith("multipart/form-data"):
        return parse_qs(body.decode("utf-8", "replace"))
    header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    fields: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            fields.setdefault(name, []).append(text)
    return fields


@router.get(
    "/consent/confirm/{token}",
    response_class=HTMLResponse,
    summary="The page of a double opt-in link",
    responses=pages(200, 404, 410, why=CONFIRM_PAGES),
)
async def confirmation_page(request: Request, token: str) -> HTMLResponse:
    try:
        pending = await _contact(request).confirmation(token, dt.datetime.now(dt.UTC))
    except C360Error as exc:
        return _refused(exc)
    what = f"{pending.purpose} messages by {pending.channel}"
    if pending.contact_point:
        what += f" at {mask_contact_point(pending.contact_point)}"
    form = _form("Confirm", {})
    return _page("Confirm your subscription", f"<p>Receive {html.escape(what)}?</p>{form}")


@router.post(
    "/consent/confirm/{token}",
    response_class=HTMLResponse,
    summary="Confirm a double opt-in (single use)",
    responses=pages(200, 404, 410, why={**CONFIRM_PAGES, 200: "Confirmed."}),
)
async def confirm(request: Request, token: str) -> HTMLResponse:
    """The customer's own confirmation, the only one there is: the record keeps when, from
    which address and with which browser the link was followed."""
    now = dt.datetime.now(dt.UTC)
    try:
        await _contact(request).confirm(token, now, _request_evidence(request, now))
    except C360Error as exc:
        return _refused(exc)
    return _page("Thank you", "<p>Your subscription is confirmed.</p>")


def _request_evidence(request: Request, now: dt.datetime) -> str:
    """When, from where and with what a customer followed a link. ``X-Forwarded-For`` is kept
    as sent, beside the peer address: behind a proxy it names the customer, and it is the
    customer's word only."""
    peer = request.client.host if request.client else "unknown"
    evidence = f"confirmation link followed at {now.isoformat(timespec='seconds')} from {peer}"
    if forwarded := request.headers.get("x-forwarded-for"):
        evidence += f" (X-Forwarded-For: {forwarded[:200]})"
    agent = request.headers.get("user-agent")
    return evidence + f", user agent {agent[:300] if agent else 'none'}"


def _row(member: Member) -> dict[str, str | None]:
    decision = member.decision
    return {
        "profile_id": member.profile_id,
        "channel": str(decision.channel),
        "purpose": decision.purpose,
        "contact_point": decision.contact_point,
        "country": decision.country,
        "time_zone": decision.time_zones[0] if len(decision.time_zones) == 1 else None,
        "unsubscribe_url": member.unsubscribe_url,
    }


async def _audited(
    members: AsyncIterator[Member],
    audit: AuditService,
    caller: Caller,
    detail: str,
    batch: int,
) -> AsyncIterator[Member]:
    """The members, each batch appended to the access audit (one write) before it is sent: the
    audit names everyone an export handed out, even when the client stops reading half-way."""
    rid = request_id.get()
    pending: list[Member] = []
    sent = False

    async def record(chunk: list[Member]) -> None:
        await audit.record(
            caller,
            Action.EXPORT,
            ",".join(EXPORT_COLUMNS),
            operation="GET /audiences/export",
            profile_ids=[m.profile_id for m in chunk] or [None],
            detail=detail,
            request_id=rid,
        )

    async for member in members:
        pending.append(member)
        if len(pending) >= batch:
            await record(pending)
            for done in pending:
                yield done
            pending, sent = [], True
    if pending or not sent:
        await record(pending)  # an export of nobody is audited too
    for done in pending:
        yield done


async def _ndjson(members: AsyncIterator[Member]) -> AsyncIterator[bytes]:
    async for member in members:
        yield (json.dumps(_row(member), separators=(",", ":")) + "\n").encode()


async def _csv(members: AsyncIterator[Member]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    async for member in members:
        writer.writerow({k: neutralised(v) for k, v in _row(member).items()})
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


@router.get(
    "/audiences/export",
    summary="Everyone the contact policy allows, as a file",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": EXPORT_ROWS,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
            "headers": {
                "Content-Disposition": {"schema": {"type": "string"}},
                "X-Audience-At": {
                    "description": "The instant decided for (ISO 8601).",
                    "schema": {"type": "string", "format": "date-time"},
                },
            },
        },
        **answers(
            *KEYED,
            422,
            why={
                422: "A parameter out of its type, a purpose not configured, a country that "
                "is no ISO 3166-1 alpha-2 code, or an `at` outside the years 1900 to 9000; the "
                "detail names it."
            },
        ),
    },
)
async def export_audience(
    request: Request,
    caller: Annotated[Caller, Depends(requires(Permission.READ_PROFILES))],
    channel: ContactChannel,
    purpose: Annotated[str, Query(description="One of the configured contact purposes.")],
    format: Literal["ndjson", "csv"] = "ndjson",
    at: Annotated[
        dt.datetime | None,
        Query(
            description="The instant to decide for, with its zone (default: now), in the "
            "years 1900 to 8999.",
            json_schema_extra={"pattern": ASKABLE_PATTERN},
        ),
    ] = None,
    lifecycle_stage: Annotated[list[LifecycleStage] | None, Query()] = None,
    value_tier: Annotated[list[ValueTier] | None, Query()] = None,
    country: Annotated[
        list[str] | None,
        Query(
            description="ISO 3166-1 alpha-2 codes of the contact point, any case (a code that "
            "names no country is 422)."
        ),
    ] = None,
) -> StreamingResponse:
    """Everyone the contact policy allows on ``channel`` for ``purpose`` at ``at`` (default:
    now), with the contact point to use and an unsubscribe link; streamed in constant memory."""
    contact = _contact(request)
    moment, found = contact.export(
        channel.value,
        purpose,
        dt.datetime.now(dt.UTC) if at is None else at,
        AudienceFilter.of(lifecycle_stage, value_tier, country),
        unmasked=caller.may(Permission.CONTACT_POINTS),
    )
    services = request.app.state.services
    members = _audited(
        found,
        services.audit,
        caller,
        # What was asked, as values: the decisions' moment, and the filters as normalised.
        json.dumps(
            {
                "channel": channel.value,
                "purpose": purpose,
                "at": moment.isoformat(),
                "format": format,
                "lifecycle_stage": [s.value for s in lifecycle_stage or ()],
                "value_tier": [t.value for t in value_tier or ()],
                "country": sorted({c.upper() for c in country or ()}),
            },
            sort_keys=True,
        ),
        contact.config.audience_batch,
    )
    body, media = (_ndjson(members), "application/x-ndjson")
    if format == "csv":
        body, media = (_csv(members), "text/csv; charset=utf-8")
    name = f"audience-{channel.value}-{purpose}-{moment:%Y%m%dT%H%M%SZ}.{format}"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Audience-At": moment.isoformat(),
    }
    return StreamingResponse(body, media_type=media, headers=headers)
