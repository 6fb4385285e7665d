"""``GET /health`` (and ``HEAD``, as uptime checkers send): is the service up and its store
reachable?"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from c360.store import Store

router = APIRouter(tags=["health"])
_R = TypeVar("_R", bound=Response)

PING_TIMEOUT_S = 2.0


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    store: dict[str, Any] = Field(
        description="Which store (embedded or MongoDB, database, …) and whether it is reachable."
    )


def as_head(request: Request, response: _R) -> _R:
    """``response`` as the answer to ``request``: for ``HEAD``, GET's status and headers
    (``Content-Length`` too) without the body."""
    if request.method == "HEAD":
        response.body = b""
    return response


@router.head("/health", include_in_schema=False)
@router.get(
    "/health",
    summary="Service and store health (503 when the store is unreachable)",
    responses={
        200: {"model": Health, "description": "Up, and the store answers."},
        503: {"model": Health, "description": "The store does not answer within 2 s."},
    },
)
async def health(request: Request) -> JSONResponse:
    store: Store = request.app.state.store
    reachable = await store.ping(PING_TIMEOUT_S)
    body: dict[str, Any] = {
        "status": "ok" if reachable else "unavailable",
        "store": {**store.describe(), "reachable": reachable},
    }
    return as_head(request, JSONResponse(body, status_code=200 if reachable else 503))
