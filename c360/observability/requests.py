"""Each HTTP request's id and its latency.

``RequestContext`` is the outermost middleware of the app: it takes the caller's
``X-Request-ID`` when it is sane (1 to 128 visible ASCII characters: letters, digits and
``-_.:/+=@``), else makes one, keeps it in ``request_id`` for the request's log lines (see
``c360.logging``) and its audit entries, sends it back in the ``X-Request-ID`` response header,
and times the request into ``c360_http_request_duration_seconds`` by route template.
"""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from c360.observability.metrics import HTTP_REQUESTS

HEADER = "x-request-id"
_SANE = re.compile(r"[A-Za-z0-9\-_.:/+=@]{1,128}")
UNMATCHED = "unmatched"  # no route: one series for every unknown path

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def accepted_id(value: str | None) -> str | None:
    """The caller's request id when it is fit to log and echo, else None."""
    return value if value is not None and _SANE.fullmatch(value) else None


def new_id() -> str:
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The template of the route that answered (``/unsubscribe/{token}``), never the path."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = accepted_id(value.decode("latin-1"))
                break
        rid = given or new_id()
        token = request_id.set(rid)
        status = 500  # what the client gets if the app fails before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(scope["method"], route_of(scope), str(status)).observe(elapsed)
            request_id.reset(token)
