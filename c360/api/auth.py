"""API keys at the door: who calls (401 without a valid key) and whether the role may (403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from c360.auth.ratelimit import Bucket
from c360.auth.service import Caller, Permission, Unauthenticated
from c360.services import Services

# Documents the scheme in OpenAPI (the "Authorize" button); the header is checked below.
bearer = HTTPBearer(
    auto_error=False, description="An API key: `Authorization: Bearer c360_<id>_<secret>`."
)


def authorization(request: Request) -> str | None:
    """The request's ``Authorization`` header. Two of them (a proxy or a client adding its own
    to one already there) are refused: which is meant cannot be told, and taking the first
    would let a key in front decide what a key behind it may do."""
    values = request.headers.getlist("authorization")
    if len(values) > 1:
        raise Unauthenticated(f"send one Authorization header, not {len(values)}")
    return values[0] if values else None


async def authenticate(request: Request, permission: Permission) -> Caller:
    """The caller named by the request's API key, if its role holds ``permission`` and its
    key has a request left in its bucket (else 429 with ``Retry-After``)."""
    services: Services = request.app.state.services
    caller = await services.keys.authenticate(authorization(request))
    if caller is None:
        raise Unauthenticated("an API key is needed: Authorization: Bearer c360_<id>_<secret>")
    caller.require(permission)
    await services.limits.take(caller, Bucket.REQUESTS)
    return caller


def requires(permission: Permission) -> Callable[..., Awaitable[Caller]]:
    """A route dependency: the caller, or 401/403 before the route runs."""

    async def caller(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        return await authenticate(request, permission)

    return caller
