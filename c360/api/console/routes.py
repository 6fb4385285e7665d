"""The console's routes: its pages, signing in and out, and its GraphQL endpoint.

- ``GET /console``, ``/console/profile/{id}``, ``/console/lookup?phone=|email=|order=|ticket=``
  serve the page shell (the console's script reads the URL and asks GraphQL), or send to the
  sign-in form and back;
- ``GET``/``POST /console/sign-in``, ``POST /console/sign-out``;
- ``POST /console/graphql``: the same schema, rules, limits and audit as ``/graphql``, with the
  caller taken from the session and every request carrying the CSRF token.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from strawberry import Schema

from c360.api.console.html import message_page, shell, sign_in_page
from c360.api.console.session import (
    CSRF_HEADER,
    SIGN_IN_TTL_S,
    check_same_origin,
    clear_cookie,
    current_session,
    has_session_cookie,
    safe_next,
    session_cookie,
    set_cookie,
    sign_in_cookie,
)
from c360.api.graphql.context import get_context
from c360.api.graphql.http import GraphQLEndpoint
from c360.api.ingest import read_body
from c360.auth.ratelimit import Bucket
from c360.auth.service import Caller, Unauthenticated
from c360.console.service import ConsoleSession, CsrfRefused, check_csrf
from c360.errors import C360Error
from c360.services import Services
from c360.settings import Settings

PATH = "/console"
GRAPHQL_PATH = f"{PATH}/graphql"
FORM_LIMIT = 8192
FORM = "application/x-www-form-urlencoded"

router = APIRouter(include_in_schema=False)


class ConsoleGraphQL(GraphQLEndpoint):
    """``/graphql`` as the console's page calls it: the caller is the session's key."""

    async def authenticate(self, request: Request) -> Caller:
        check_same_origin(request)
        session = await current_session(request)
        if session is None:
            raise Unauthenticated("the console session ended: sign in again")
        check_csrf(session, request.headers.get(CSRF_HEADER))
        services: Services = request.app.state.services
        await services.limits.take(session.caller, Bucket.REQUESTS)
        return session.caller


def mount_console(app: FastAPI, schema: Schema) -> None:
    app.include_router(
        ConsoleGraphQL(
            schema, context_getter=get_context, graphql_ide=None, subscription_protocols=()
        ),
        prefix=GRAPHQL_PATH,
        include_in_schema=False,
    )
    app.include_router(router)  # after: its last route takes every other console path


Page = Callable[[Request, ConsoleSession], Awaitable[Response]]


async def _signed_in(request: Request, render: Page) -> Response:
    """The page for a live session; else the sign-in form, which comes back here."""
    try:
        session = await current_session(request)
        if session is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            ended = "&ended=1" if has_session_cookie(request) else ""
            return RedirectResponse(
                f"{PATH}/sign-in?next={quote(target, safe='')}{ended}", status_code=303
            )
        return await render(request, session)
    except C360Error as exc:
        return message_page("The console cannot open", exc.detail, exc.status_code)


async def _shell(request: Request, session: ConsoleSession) -> Response:
    settings: Settings = request.app.state.settings
    return shell(session, settings.contact_purposes, request.query_params.get("q", ""))


@router.get(PATH)
async def console(request: Request) -> Response:
    return await _signed_in(request, _shell)


@router.get(f"{PATH}/profile/{{profile_id}}")
async def profile_page(request: Request, profile_id: str) -> Response:
    return await _signed_in(request, _shell)


@router.get(f"{PATH}/lookup")
async def lookup(request: Request) -> Response:
    """The screen pop: a telephony or help-desk system links here with what it knows."""
    return await _signed_in(request, _shell)


@router.get(f"{PATH}/sign-in")
async def sign_in_form(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    message = None
    if request.query_params.get("ended"):
        message = "Your session ended. Sign in again to go on."
    elif request.query_params.get("signed_out"):
        message = "You are signed out."
    return _form(request, next_path, message)


def _form(
    request: Request, next_path: str, message: str | None, status_code: int = 200
) -> Response:
    """The form, with a fresh sign-in token in the form and in a short-lived cookie."""
    token = secrets.token_urlsafe(24)
    response = sign_in_page(token, next_path, message, status_code)
    set_cookie(response, request, sign_in_cookie(request), token, SIGN_IN_TTL_S)
    return response


@router.post(f"{PATH}/sign-in")
async def sign_in(request: Request) -> Response:
    services: Services = request.app.state.services
    next_path = safe_next(None)
    try:
        form = await _form_fields(request)
        next_path = safe_next(form.get("next"))
        check_same_origin(request)
        paired = request.cookies.get(sign_in_cookie(request))
        sent = form.get("csrf")
        if not paired or not sent or not secrets.compare_digest(paired, sent):
            raise CsrfRefused("the sign-in form expired or came from elsewhere: try again")
        token, session = await services.console.sign_in(
            form.get("key", ""), dt.datetime.now(dt.UTC)
        )
        await services.limits.take(session.caller, Bucket.REQUESTS)
    except C360Error as exc:
        return _form(request, next_path, exc.detail, exc.status_code)
    response = RedirectResponse(next_path, status_code=303)
    settings: Settings = request.app.state.settings
    set_cookie(response, request, session_cookie(request), token, settings.console_session_ttl_s)
    clear_cookie(response, request, sign_in_cookie(request))
    return response


@router.post(f"{PATH}/sign-out")
async def sign_out(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        form = await _form_fields(request)
        check_same_origin(request)
        session = await current_session(request)
        if session is not None:
            check_csrf(session, form.get("csrf"))
            await services.console.sign_out(request.cookies.get(session_cookie(request)))
    except C360Error as exc:
        return message_page("Not signed out", exc.detail, exc.status_code)
    response = RedirectResponse(f"{PATH}/sign-in?signed_out=1", status_code=303)
    clear_cookie(response, request, session_cookie(request))
    return response


async def _form_fields(request: Request) -> dict[str, str]:
    """An HTML form's fields (the first value of each), from a bounded body."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM:
        raise UnsupportedForm(f"a form is sent as {FORM}")
    body = await read_body(request, FORM_LIMIT)
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnsupportedForm(f"the form cannot be read: {exc}") from exc
    return {name: values[0] for name, values in fields.items()}


class UnsupportedForm(C360Error):
    status_code = 415


@router.get(f"{PATH}/{{rest:path}}")
async def not_a_page(request: Request, rest: str) -> Response:
    """Any other console address: a page that says so, not a JSON error in a browser."""
    return message_page("Not found", "There is no such page in the console.", 404)
