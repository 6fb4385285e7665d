"""The FastAPI application: lifespan owns the store; routers stay thin."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import strawberry
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from c360 import __version__
from c360.api.console import mount_console
from c360.api.contact import router as contact_router
from c360.api.graphql.context import get_context
from c360.api.graphql.http import PATH as GRAPHQL_PATH
from c360.api.graphql.http import GraphQLEndpoint, refusal, status_name
from c360.api.graphql.schema import build_schema
from c360.api.health import router as health_router
from c360.api.ingest import router as ingest_router
from c360.api.kpi_dashboard import router as kpi_dashboard_router
from c360.api.kpis import router as kpis_router
from c360.api.metrics import router as metrics_router
from c360.api.openapi import document
from c360.api.pages import OPENAPI_URL, mount_pages
from c360.api.privacy import router as privacy_router
from c360.auth.service import Role
from c360.demo import issue_demo_keys, load_demo_data
from c360.errors import C360Error, StoreUnavailable
from c360.observability import metrics
from c360.observability.requests import RequestContext
from c360.services import Services
from c360.settings import Settings, get_settings
from c360.store import CONNECTION_ERRORS, Store, store_error, unreachable

log = logging.getLogger(__name__)

MAINTENANCE_INTERVAL_S = 3600.0
WORKER_STOP_S = 30.0
"""How long shutting down waits for the follow-up worker's round under way."""


def create_app(
    settings: Settings | None = None,
    *,
    schema: strawberry.Schema | None = None,
    on_ready: Callable[[Store, Mapping[Role, str]], None] | None = None,
    on_store_lost: Callable[[], None] | None = None,
    on_store_unreachable: Callable[[StoreUnavailable], None] | None = None,
) -> FastAPI:
    """Build the app. ``on_ready`` runs once the store is up and demo data is loaded, with
    the store and the demo keys (none without demo data). ``on_store_lost`` runs when the
    embedded store this process owns stopped and cannot be started again: it should stop the
    server, so that a supervisor starts c360 anew rather than it answering 503 for ever (by
    default the process sends itself SIGTERM). ``on_store_unreachable`` is told when the store
    cannot be reached at start-up, before the start fails. ``schema``: one ``build_schema``
    made already with these settings' GraphQL limits, for a caller that builds many apps
    (building one takes a good part of a second; the tests share one per set of limits). Each
    start (lifespan) opens the store of ``app.state.settings``, which a caller may replace
    between a stop and the next start: the routes do not depend on the store's address (the
    tests run one app per set of settings on a database a test)."""
    settings = settings or get_settings()
    stop = on_store_lost or (lambda: os.kill(os.getpid(), signal.SIGTERM))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings: Settings = app.state.settings  # what it is started with (see the docstring)
        metrics.operation_names.configure(settings.metrics_operation_names)
        try:
            store = await Store.open(settings)
        except StoreUnavailable as exc:
            if on_store_unreachable is not None:
                on_store_unreachable(exc)
            raise
        app.state.store = store
        app.state.services = services = Services.build(store.db, settings)
        await services.audit.prepare()
        maintenance = asyncio.create_task(_maintain(services))
        watch = asyncio.create_task(store.keep_embedded_running(lambda _: stop()))
        tasks = [maintenance, watch]
        stop_worker = asyncio.Event()
        worker = None
        if settings.alerts_tick_s > 0:  # escalation and notifications, under a store lease
            rounds = services.followups.worker.run(settings.alerts_tick_s, stop_worker)
            worker = asyncio.create_task(rounds)
        try:
            demo_keys: dict[Role, str] = {}
            if settings.demo_data:
                now = dt.datetime.now(dt.UTC)
                await load_demo_data(app.state.services, settings, now)
                demo_keys = await issue_demo_keys(app.state.services.keys, now)
            if on_ready is not None:
                on_ready(store, demo_keys)
            yield
        finally:
            if worker is not None:  # the round under way ends, not cut in a store operation
                stop_worker.set()
                try:
                    await asyncio.wait_for(worker, WORKER_STOP_S)
                except TimeoutError:
                    log.warning("follow-up worker did not stop in time; cancelled")
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await store.close()

    app = FastAPI(
        title="c360",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=OPENAPI_URL,
        docs_url=None,  # served by mount_pages, from assets shipped with the package
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_middleware(RequestContext)
    app.add_exception_handler(C360Error, _render_error)  # type: ignore[arg-type]  # Starlette types a handler as taking any Exception
    for error in CONNECTION_ERRORS:
        app.add_exception_handler(error, _render_store_down)
    app.add_exception_handler(PyMongoError, _render_store_refusal)
    app.add_exception_handler(RequestValidationError, _render_validation_error)  # type: ignore[arg-type]  # Starlette types a handler as taking any Exception
    app.add_exception_handler(StarletteHTTPException, _render_http_error)  # type: ignore[arg-type]  # Starlette types a handler as taking any Exception
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(ingest_router)
    app.include_router(contact_router)
    app.include_router(kpis_router)
    app.include_router(kpi_dashboard_router)
    app.include_router(privacy_router)
    mount_pages(app)
    schema = schema or build_schema(*graphql_limits(settings))
    app.include_router(
        GraphQLEndpoint(
            schema,
            context_getter=get_context,
            graphql_ide="graphiql",
            subscription_protocols=(),  # no subscriptions; websockets are refused
        ),
        prefix=GRAPHQL_PATH,
        include_in_schema=False,  # GraphQL describes itself: introspection, schema.graphql
    )
    mount_console(app, schema)
    document(app, settings.contact_purposes, DESCRIPTION)
    return app


def graphql_limits(settings: Settings) -> tuple[int, int, int]:
    """What ``build_schema`` takes of the settings: depth, tokens, cost."""
    return (
        settings.graphql_max_depth,
        settings.graphql_max_tokens,
        settings.graphql_max_complexity,
    )


DESCRIPTION = """\
Customer 360 and contact-preference API: the REST endpoints (health, push ingestion, signed
webhooks, the customer's unsubscribe and confirmation links, audience exports).

Profiles, decisions and everything else are read over **GraphQL at `/graphql`** (GraphiQL in a
browser), described by its own schema (introspection, or `schemas/schema.graphql`) and served as
the GraphQL-over-HTTP specification asks.

Errors are `{"error": "ClassName", "detail": "…"}` with a 4xx status; the link endpoints answer
people with HTML pages. A method a path does not take is `405` with `Allow` listing those it
does."""


async def _render_error(request: Request, exc: C360Error) -> JSONResponse:
    return JSONResponse(
        {"error": exc.code, "detail": exc.detail},
        status_code=exc.status_code,
        headers=exc.response_headers(),
    )


async def _maintain(services: Services) -> None:
    """Removes audit entries past their retention now and every hour (MongoDB's TTL monitor
    does it too, a store without one, or a late one, needs it), applies the retention windows
    of records (``C360_RETENTION_DAYS``) in the one process holding the retention lease, and
    runs the erasures c360 started to complete another and nobody carried out. Several API
    processes doing this at once is harmless (each step is idempotent)."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    while True:
        try:
            removed = await services.audit.prune(dt.datetime.now(dt.UTC))
            if removed:
                log.info("audit entries past retention removed", extra={"removed": removed})
            if services.retention.configured:  # records past their kind's window, one process
                await services.retention.apply_leased(
                    dt.datetime.now(dt.UTC), holder, dt.timedelta(seconds=MAINTENANCE_INTERVAL_S)
                )
            completed = await services.privacy.completions.resume(dt.datetime.now(dt.UTC))
            if completed:
                log.info("completing erasures left unrun carried out", extra={"count": completed})
        except C360Error as exc:
            log.warning("maintenance round failed", extra={"reason": exc.detail})
        except PyMongoError as exc:  # the store gone or refusing: its reason, in a line
            log.warning("maintenance round failed", extra={"reason": store_error(exc).detail})
        except Exception:
            log.exception("maintenance round failed")
        await asyncio.sleep(MAINTENANCE_INTERVAL_S)


async def _render_store_down(request: Request, exc: Exception) -> JSONResponse:
    """The store stopped answering mid-request: 503, to be retried (the embedded store is
    started again by the process that owns it)."""
    return await _render_error(request, unreachable(exc))


async def _render_store_refusal(request: Request, exc: Exception) -> JSONResponse:
    """The store refused a command (its disk full): 503, said in one line, in the log too,
    without the traceback, whose error lists every document of a bulk write."""
    refused = store_error(exc) if isinstance(exc, PyMongoError) else unreachable(exc)
    log.error("store refused a command", extra={"reason": refused.detail})
    return await _render_error(request, refused)


async def _render_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return JSONResponse({"error": "InvalidInput", "detail": detail}, status_code=422)


async def _render_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Framework errors (unknown path, wrong method) in the same shape as ours (GraphQL's at
    ``/graphql``). A 405 lists every method of the path: Starlette names only those of the
    first route that matched it."""
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_methods_of(request))
    # The scope's path, not request.url: building the URL decodes the query string as UTF-8,
    # and a client may send any bytes there.
    if request.scope["path"] == GRAPHQL_PATH:
        return refusal(request, exc.status_code, exc.detail, headers)
    return JSONResponse(
        {"error": status_name(exc.status_code), "detail": exc.detail},
        status_code=exc.status_code,
        headers=headers,
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _methods_of(request: Request) -> list[str]:
    """The methods some route takes at this path, asked of the router as a request would."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]
