"""The console's session cookie and the checks every change through the console passes.

- The cookie holds an opaque random token and nothing else: ``HttpOnly`` (no script reads it),
  ``SameSite=Strict`` (no other site's page or link sends it), ``Secure`` and named with the
  ``__Host-`` prefix (this host only, path ``/``, never over plain HTTP) when the console is
  reached over HTTPS, or ``C360_PUBLIC_URL`` is an HTTPS address (behind a proxy that ends TLS).
- CSRF: every request to the console's GraphQL endpoint carries the session's token in
  ``X-CSRF-Token`` (the page is given it in a ``<meta>`` element; a form on another site cannot
  set a header), and the sign-out form carries it as a field. The sign-in form carries a token
  of its own, paired with a short-lived cookie (double submit), so no other site can sign a
  browser in with its key. Beside them, a request that says where it comes from (``Origin``,
  ``Sec-Fetch-Site``) must come from the console's own origin.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from c360.console.service import ConsoleSession, CsrfRefused
from c360.services import Services
from c360.settings import Settings
from schemas.quoting import shown

COOKIE = "c360_console"
SECURE_COOKIE = "__Host-c360_console"
SIGN_IN_COOKIE = "c360_console_sign_in"
SECURE_SIGN_IN_COOKIE = "__Host-c360_console_sign_in"
SIGN_IN_TTL_S = 3600  # how long a sign-in form may stay open
CSRF_HEADER = "X-CSRF-Token"


def secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return request.url.scheme == "https" or settings.public_base.startswith("https://")


def session_cookie(request: Request) -> str:
    return SECURE_COOKIE if secure(request) else COOKIE


def sign_in_cookie(request: Request) -> str:
    return SECURE_SIGN_IN_COOKIE if secure(request) else SIGN_IN_COOKIE


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",  # the __Host- prefix requires it
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", secure=secure(request), httponly=True, samesite="strict")


async def current_session(request: Request) -> ConsoleSession | None:
    """The live session the request's cookie names (None: none, or it ended)."""
    services: Services = request.app.state.services
    token = request.cookies.get(session_cookie(request))
    return await services.console.resume(token, dt.datetime.now(dt.UTC))


def has_session_cookie(request: Request) -> bool:
    return session_cookie(request) in request.cookies


def check_same_origin(request: Request) -> None:
    """A request that names where it comes from must come from the console's own origin.
    (Browsers send ``Origin`` with every POST and fetch; ``Sec-Fetch-Site`` with every request
    of a recent one. Neither replaces the CSRF token: they stand beside it.)"""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise CsrfRefused(f"a {site} request cannot change the console's data")
    origin = request.headers.get("origin")
    if origin is not None and origin not in _own_origins(request):
        raise CsrfRefused(f"a request from {shown(origin)} cannot change the console's data")


def _own_origins(request: Request) -> set[str]:
    settings: Settings = request.app.state.settings
    public = urlsplit(settings.public_base)
    return {
        f"{request.url.scheme}://{request.url.netloc}",
        f"{public.scheme}://{public.netloc}",
    }


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of this site, never another site."""
    if not target or not target.startswith("/console") or target.startswith("/console/sign-"):
        return "/console"
    if "\\" in target or any(ord(c) < 0x20 for c in target):
        return "/console"
    return target
