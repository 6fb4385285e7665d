"""GraphQL over HTTP, as the GraphQL-over-HTTP specification asks.

- ``application/graphql-response+json`` by default and when preferred, ``application/json``
  when the ``Accept`` header asks for it, ``406`` when it accepts neither.
- A request that cannot run — unparseable body, no query, a syntax or validation error,
  variables that do not fit, a cost over the limit — is a GraphQL response without ``data``:
  ``400`` as ``graphql-response+json``, ``200`` as legacy ``application/json`` (its clients
  cannot tell our 4xx from a proxy's).
- Queries over GET, mutations over POST only (``405``, ``Allow: POST``); other methods are
  ``405`` with ``Allow: GET, POST``. A POST body must be ``application/json`` in UTF-8
  (``415`` for another type or charset), a JSON object (``400`` for invalid UTF-8, JSON nested
  past the parser, a number past its digits, or a JSON array, string, number or null), at most
  ``C360_GRAPHQL_MAX_BODY_BYTES`` (``413``; a longer GET query string is ``414``); its
  variables hold at most ``C360_GRAPHQL_MAX_VARIABLE_VALUES`` values and no lone surrogate
  (``\ud800``, which no store or encoder takes) — else ``400``.
- An API key is needed for anything but the GraphiQL page: ``401`` without a valid one, ``403``
  for roles without GraphQL (connectors), ``429`` with ``Retry-After`` (and
  ``extensions.retryAfter``) when its request bucket, or its lookup bucket for the lookups the
  operation holds, is empty. Errors of the endpoint are GraphQL responses too.
- What the request read in full or changed is appended to the access audit in one write
  before the answer is sent (``503`` if it cannot be).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from graphql import GraphQLError
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.types import QueryParams
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from c360.api.auth import authenticate
from c360.api.graphql.context import Context
from c360.api.graphql.errors import INVALID_REQUEST
from c360.api.ingest import PayloadTooLarge, read_body
from c360.api.pages import graphiql_page
from c360.auth.ratelimit import RateLimited
from c360.auth.service import Caller, Permission
from c360.errors import C360Error, StoreUnavailable
from c360.observability.metrics import count_graphql_error
from c360.observability.requests import request_id
from c360.settings import Settings
from c360.store import store_error
from schemas.quoting import shown

PATH = "/graphql"
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MEDIA_TYPES = (GRAPHQL_RESPONSE, JSON)  # in order of preference when the client has none


class MethodNotAllowed(C360Error):
    status_code = 405
    headers: ClassVar[dict[str, str]] = {"Allow": "POST"}


class UriTooLong(C360Error):
    status_code = 414


ALLOWED_METHODS = {"Allow": "GET, POST"}
UTF_8 = ("utf-8", "utf8")
JSON_PARAMETERS = ("variables", "extensions")  # a GET's parameters that hold JSON


def status_name(status: int) -> str:
    """``404`` → ``NotFound``: the code of an error that has no class of its own."""
    return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in: the one the ``Accept`` header ranks highest, ties going to
    the earlier listed, then to ``graphql-response+json``; None when it accepts neither."""
    if not accept or not accept.strip():
        return GRAPHQL_RESPONSE
    best: tuple[float, int, int] | None = None
    chosen = None
    for position, item in enumerate(accept.split(",")):
        kind, params = parse_content_type(item.strip() or "-/-")
        q = _quality(params.get("q"))
        for preference, media in enumerate(MEDIA_TYPES):
            if q > 0 and kind in (media, media.split("/")[0] + "/*", "*/*"):
                rank = (q, -position, -preference)
                if best is None or rank > best:
                    best, chosen = rank, media
    return chosen


def _quality(value: str | None) -> float:
    try:
        return float(value) if value is not None else 1.0
    except ValueError:
        return 0.0


def _is_request_error(result: ExecutionResult) -> bool:
    """Nothing ran: errors, and none of them at a field (parse, validation, variables, cost)."""
    errors = result.errors or []
    return result.data is None and bool(errors) and not any(e.path for e in errors)


class _RequestAdapter(StarletteRequestAdapter):
    """Strawberry's adapter, with the body's media type in lower case: a type and subtype are
    case-insensitive (RFC 9110, 8.3.1), and Strawberry finds ``application/json`` by its
    spelling."""

    @property
    def content_type(self) -> str | None:
        given = super().content_type
        if given is None:
            return None
        kind, semicolon, parameters = given.partition(";")
        return kind.lower() + semicolon + parameters


class GraphQLEndpoint(GraphQLRouter[Context, None]):
    """Strawberry's FastAPI router with the status codes, media types and keys above."""

    request_adapter_class = _RequestAdapter

    max_variable_values = Settings.model_fields["graphql_max_variable_values"].default
    """``C360_GRAPHQL_MAX_VARIABLE_VALUES``, taken from the app's settings by each request."""

    async def run(  # type: ignore[override]  # narrows Strawberry's request and context types
        self,
        request: Request | WebSocket,
        context: Context = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        if isinstance(request, WebSocket):  # no subscriptions: refused by the protocol list
            return await super().run(request, context, root_value)
        if self.should_render_graphql_ide(self.request_adapter_class(request)):
            return await super().run(request, context, root_value)
        media = negotiate(request.headers.get("accept"))
        if media is None:
            accepted = " or ".join(MEDIA_TYPES)
            return _error(406, status_name(406), f"responses are {accepted}", GRAPHQL_RESPONSE)
        try:
            context.caller = await self.authenticate(request)
            settings: Settings = request.app.state.settings
            self.max_variable_values = settings.graphql_max_variable_values
            await _bounded(request, settings)
            response = await super().run(request, context, root_value)
            await _audited(context)
        except C360Error as exc:
            return _error(exc.status_code, exc.code, exc.detail, media, exc.response_headers())
        except HTTPException as exc:
            headers = ALLOWED_METHODS if exc.status_code == 405 else None
            return _error(exc.status_code, status_name(exc.status_code), exc.reason, media, headers)
        assert isinstance(response, Response)
        response.headers["content-type"] = f"{media}; charset=utf-8"
        limited = getattr(request.state, "rate_limited", None)
        if isinstance(limited, RateLimited):  # the lookup bucket: the whole request refused
            response.status_code = limited.status_code
            response.headers.update(limited.response_headers())
        elif media == GRAPHQL_RESPONSE and getattr(request.state, "request_error", False):
            response.status_code = 400
        return response

    async def authenticate(self, request: Request) -> Caller:
        """Who calls, before anything runs: the request's API key (the console's endpoint
        overrides it with its session)."""
        return await authenticate(request, Permission.READ_PROFILES)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """GraphiQL from the assets the package ships, not from a CDN."""
        return graphiql_page(request.scope["path"])  # request.url: UTF-8 query strings only

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST":
            kind, params = parse_content_type(request.content_type or "-/-")
            if kind != JSON:
                raise HTTPException(415, f"a POST body must be {JSON}")
            charset = params.get("charset")
            if charset is not None and charset.strip('"').lower() not in UTF_8:
                raise HTTPException(415, f"a POST body must be UTF-8, not {shown(charset)}")
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData):
            name = data.operation_name
            if name is not None and not isinstance(name, str):
                raise HTTPException(400, "operationName must be a string or null")
            if name == "":  # the specification: the same as none
                data = dataclasses.replace(data, operation_name=None)
            _check_values(data.variables, self.max_variable_values)
        return data

    def parse_query_params(self, params: QueryParams) -> dict[str, Any]:
        """A GET's parameters, ``variables`` and ``extensions`` read as JSON; one that is not
        is named (Strawberry would blame "the request body", which a GET has none of)."""
        parsed: dict[str, Any] = dict(params)
        for name in JSON_PARAMETERS:
            text = parsed.get(name)
            if text:
                try:
                    parsed[name] = self.decode_json(text)
                except json.JSONDecodeError as exc:
                    raise HTTPException(
                        400,
                        f"the {name} parameter is not valid JSON: {exc.msg} at character "
                        f"{exc.pos + 1}",
                    ) from None
        return parsed

    def decode_json(self, data: str | bytes) -> object:
        """JSON of the body (bytes) or of a URL parameter (text). A body is a JSON object in
        UTF-8; what the parser cannot take is the request's fault, never the server's."""
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
        except UnicodeDecodeError as exc:
            raise HTTPException(400, f"the body is not UTF-8 (byte {exc.start})") from exc
        try:
            value = json.loads(text)
        except RecursionError:
            raise HTTPException(400, "the JSON is nested too deeply") from None
        except json.JSONDecodeError:
            raise  # the body's: Strawberry answers "Unable to parse request body as JSON"
        except ValueError:  # the one other: an integer past int()'s limit on digits
            limit = sys.get_int_max_str_digits()
            raise HTTPException(400, f"the JSON holds a number over {limit:,} digits") from None
        if isinstance(data, bytes) and not isinstance(value, dict | list):  # lists: batches
            raise HTTPException(400, "a POST body must be a JSON object")
        return value

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as exc:
            cause = exc.__cause__
            if isinstance(cause, InvalidOperationTypeError) and request_adapter.method == "GET":
                raise MethodNotAllowed(f"{exc.reason}: send it with POST") from exc
            if isinstance(cause, CannotGetOperationTypeError):
                # A request error of the document (which operation?), answered and counted as
                # one (Strawberry raises it before any extension sees it).
                count_graphql_error(INVALID_REQUEST)
                error = GraphQLError(exc.reason, extensions={"code": INVALID_REQUEST})
                return ExecutionResult(data=None, errors=[error])
            raise

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = process_result(result)
        if _is_request_error(result):
            response.pop("data", None)  # nothing was executed: no data entry at all
            request.state.request_error = True
        return response


async def _audited(context: Context) -> None:
    """Appends what the request disclosed or changed to the access audit, in one write, before
    the answer leaves: an answer whose audit could not be written is not given."""
    try:
        await context.services.audit.flush(context.audit, context.caller, request_id.get())
    except PyMongoError as exc:
        # The store's reason, not the error's text: a bulk write's lists every entry, with
        # what was looked up.
        raise StoreUnavailable(
            f"the access audit cannot be written: {store_error(exc).detail}"
        ) from exc


async def _bounded(request: Request, settings: Settings) -> None:
    """Refuses a body or a query string over ``C360_GRAPHQL_MAX_BODY_BYTES`` before it is read
    whole; the body read stays with the request for Strawberry to parse."""
    limit = settings.graphql_max_body_bytes
    if len(request.scope.get("query_string", b"")) > limit:
        raise UriTooLong(f"the query string exceeds the limit of {limit} bytes")
    if request.method == "POST":
        try:
            body = await read_body(request, limit)
        except PayloadTooLarge as exc:
            raise PayloadTooLarge(exc.detail.replace("body", "GraphQL request body", 1)) from exc
        request._body = body  # Starlette's own cache of the body: request.body() returns it


def _check_values(variables: Mapping[str, object] | None, limit: int) -> None:
    """At most ``limit`` values in ``variables`` (walked without recursion, stopping at the
    limit), and no string a UTF-8 encoder refuses (a lone surrogate from a ``\\ud800``)."""
    pending: list[object] = [variables] if variables else []
    count = 0
    while pending:
        value = pending.pop()
        count += 1
        if count > limit:
            raise HTTPException(400, f"the variables hold more than {limit:,} values")
        if isinstance(value, dict):
            pending.extend(value.values())
            pending.extend(value.keys())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise HTTPException(400, "the variables hold a lone surrogate") from exc


def refusal(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """An error of the endpoint that the framework answers before it runs (another method
    than GET or POST), as a GraphQL response like every other error of the endpoint."""
    media = negotiate(request.headers.get("accept")) or GRAPHQL_RESPONSE
    return _error(status, status_name(status), message, media, headers)


def _error(
    status: int,
    code: str,
    message: str,
    media: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    extensions: dict[str, object] = {"code": code}
    if "Retry-After" in (headers or {}):
        extensions["retryAfter"] = int((headers or {})["Retry-After"])
    body = {"errors": [{"message": message, "extensions": extensions}]}
    count_graphql_error(code)
    return Response(
        json.dumps(body),
        status_code=status,
        headers=dict(headers or {}),
        media_type=f"{media}; charset=utf-8",
    )
