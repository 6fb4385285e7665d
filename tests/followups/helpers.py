"""What the follow-up tests share: importing records, snapshots of the follow-ups and the outbox,
and a local webhook receiver (a real HTTP server on a free port) that can fail, stall and
recover, and checks every signature it gets."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from c360.ingest.files import import_file
from c360.ingest.service import IngestSummary
from c360.notifications.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)
from c360.services import Services
from c360.store import Database, Store
from tests import factories as f
from tests.helpers import parse_options
from tests.served import free_port

SECRET = "s3cret-for-the-care-team-webhook"

# Fields that say when something was written, not what: a run and its re-run differ there.
_MOMENTS = frozenset(
    {
        "opened_ms",
        "updated_ms",
        "at_ms",
        "due",
        "escalated",
        "due_soon",
        "warned",
        "next_due_ms",
        "due_soon_ms",
        "alarm_ms",
        "assigned_ms",
        "first_response_ms",
        "resolved_ms",
        "queue_key",
        "created_ms",
        "next_ms",
        "page_key",
        "body",
        "version",
    }
)


async def ingest(
    services: Services, path: Path, records: Sequence[f.Record | str], connector: str = "canonical"
) -> IngestSummary:
    f.write_jsonl(path, list(records))
    summary = await import_file(
        services.ingest, connector, str(path), parse_options(default_region="ES")
    )
    assert summary.rejected == 0, summary.errors
    return summary


async def raw(store: Store | Database, collection: str) -> list[dict[str, Any]]:
    db = store.db if isinstance(store, Store) else store
    return await db[collection].find({}).sort("_id", 1).to_list()


def _timeless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in _MOMENTS}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


async def snapshot(store: Store | Database) -> dict[str, list[dict[str, Any]]]:
    """Follow-ups and the outbox as stored, without the moments they were written at."""
    return {name: _timeless(await raw(store, name)) for name in ("follow_ups", "outbox")}


def nps(external_id: str, email: str, score: int, at: str, **more: Any) -> f.Record:
    return f.survey(
        external_id=external_id,
        identifiers=[f.email(email)],
        score=score,
        occurred_at=at,
        **more,
    )


@dataclass
class Received:
    key: str
    event: str
    body: dict[str, Any]
    signed: bool


@dataclass
class Receiver:
    """A team's webhook. ``plan``: how to answer the next requests, in order ("fail": 500,
    "stall": answer after ``stall_s``, "busy": 429 with Retry-After 0, anything else: 200);
    then 200 for ever."""

    secret: str = SECRET
    plan: list[str] = field(default_factory=list)
    stall_s: float = 3.0
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    @property
    def delivered(self) -> set[str]:
        return {r.key for r in self.requests if r.signed and r.event}

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        signed = verify(
            self.secret,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(TIMESTAMP_HEADER),
            body,
            time.time(),
        )
        what = self.plan.pop(0) if self.plan else "ok"
        self.requests.append(
            Received(
                request.headers.get(IDEMPOTENCY_HEADER, ""),
                json.loads(body).get("type", ""),
                json.loads(body),
                signed,
            )
        )
        if what == "fail":
            return Response("down for maintenance", status_code=500)
        if what == "stall":
            await asyncio.sleep(self.stall_s)
        if what == "busy":
            return Response("slow down", status_code=429, headers={"Retry-After": "0"})
        if not signed:
            return Response("bad signature", status_code=401)
        return JSONResponse({"ok": True})


@contextlib.asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[Receiver]:
    """The receiver as a real HTTP server on a free port of this machine."""
    port = free_port()
    app = Starlette(routes=[Route("/hooks/care", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the receiver did not start")
        await asyncio.sleep(0.02)
    receiver.url = f"http://127.0.0.1:{port}/hooks/care"
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task


def later(hours: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
