"""``GET /metrics`` (and ``HEAD``): the process's Prometheus metrics, in the text exposition
format.

Open to this machine (a request from a loopback address that no proxy relayed: no
``Forwarded`` or ``X-Forwarded-For`` header), since a sidecar or node agent scrapes there.
From anywhere else it needs ``Authorization: Bearer`` with ``C360_METRICS_TOKEN`` (what a
Prometheus server's ``authorization`` setting sends) or an admin API key; else 401 or 403.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import generate_latest

from c360.api.auth import authenticate, authorization
from c360.api.health import as_head
from c360.api.openapi import KEYED, answers
from c360.auth.service import Permission
from c360.observability.metrics import (
    CONTENT_TYPE,
    DEAD_LETTERS_STORED,
    FOLLOW_UP_SLA,
    FOLLOW_UPS,
    NOTIFICATIONS,
    REGISTRY,
    STORE_UP,
    rule_names,
    team_names,
)
from c360.services import Services
from c360.settings import Settings
from c360.store import Store

PING_TIMEOUT_S = 2.0

ScrapeHook = Callable[[Store, Services], Awaitable[None]]


async def _store_gauges(store: Store, services: Services) -> None:
    up = await store.ping(PING_TIMEOUT_S)
    STORE_UP.labels(store.kind).set(1 if up else 0)
    if up:
        DEAD_LETTERS_STORED.set(await services.dead_letters.waiting())


async def _follow_up_gauges(store: Store, services: Services) -> None:
    if not await store.ping(PING_TIMEOUT_S):
        return
    stats = await services.followups.service.stats(dt.datetime.now(dt.UTC))
    FOLLOW_UPS.clear()
    for (status, team, rule), count in stats.by_status.items():
        FOLLOW_UPS.labels(status, team_names(team), rule_names(rule)).inc(count)
    FOLLOW_UP_SLA.clear()
    for (target, state), count in stats.sla.items():
        FOLLOW_UP_SLA.labels(target, state).set(count)
    NOTIFICATIONS.clear()
    for status, count in stats.outbox.items():
        NOTIFICATIONS.labels(status).set(count)


SCRAPE_HOOKS: list[ScrapeHook] = [_store_gauges, _follow_up_gauges]
"""What refreshes the gauges read from the store, just before a scrape."""


async def scrape(store: Store, services: Services) -> bytes:
    """The registry in the Prometheus text format, gauges read from the store refreshed."""
    for hook in SCRAPE_HOOKS:
        await hook(store, services)
    return generate_latest(REGISTRY)


router = APIRouter(tags=["operations"])


def from_this_machine(request: Request) -> bool:
    if "forwarded" in request.headers or "x-forwarded-for" in request.headers:
        return False
    host = request.client.host if request.client else None
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _has_token(request: Request, settings: Settings) -> bool:
    token = settings.metrics_token
    scheme, _, given = (authorization(request) or "").partition(" ")
    return (
        token is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode())
    )


@router.head("/metrics", include_in_schema=False)
@router.get(
    "/metrics",
    summary="Prometheus metrics of this process",
    description="Open from loopback; otherwise `Authorization: Bearer` with "
    "C360_METRICS_TOKEN or an admin API key.",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text exposition format.",
            "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
        },
        **answers(
            *KEYED,
            why={
                401: "Not from this machine, and neither C360_METRICS_TOKEN nor an API key.",
                403: "An API key other than an admin's.",
            },
        ),
    },
)
async def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not from_this_machine(request) and not _has_token(request, settings):
        await authenticate(request, Permission.METRICS)
    body = await scrape(request.app.state.store, request.app.state.services)
    return as_head(request, Response(body, media_type=CONTENT_TYPE))
