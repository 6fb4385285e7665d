"""Malformed requests are 4xx with a reason, in the endpoint's own error shape, and the server
answers normally afterwards: bodies that are no UTF-8 or no JSON object, another charset, JSON
nested past the parser, bodies and query strings over the limits, too many variable values, a
lone surrogate; 405 answers that list every method of their path; cursors that are refused
without being echoed whole."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from c360.instants import ASKABLE_PATTERN, ASKABLE_YEARS
from c360.settings import Settings
from tests import factories as f
from tests.garbage import call
from tests.helpers import gql

GRAPHQL_RESPONSE = "application/graphql-response+json"
TYPENAME = {"query": "{ __typename }"}
MAX_BODY = 8192
MAX_VALUES = 50


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"graphql_max_body_bytes": MAX_BODY, "graphql_max_variable_values": MAX_VALUES}
    )


@pytest.fixture
def client(agent_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A caller with a key: what is tested is the request's shape, not access."""
    return agent_client


def graphql_error(response: httpx.Response, status: int, code: str) -> str:
    """The message of a GraphQL-over-HTTP error answer: ``status``, the GraphQL response media
    type, ``errors`` with one error of ``code`` and no ``data``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    body = response.json()
    assert set(body) == {"errors"}, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == code
    message: str = error["message"]
    assert message
    return message


async def still_answers(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json=TYPENAME)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def post(client: httpx.AsyncClient, body: bytes, content_type: str) -> httpx.Response:
    return await client.post("/graphql", content=body, headers={"content-type": content_type})


class TestEncodings:
    @pytest.mark.parametrize(
        "body",
        [
            b'{"query": "{ __typename \xff }"}',  # a byte no UTF-8 text holds
            b'{"query": "{ profile(id: \\"\xc3\\") { __typename } }"}',  # a cut sequence
            b"\xfe\xff\x00{",  # UTF-16 with its byte order mark
        ],
    )
    async def test_a_body_that_is_no_utf8_is_400(
        self, client: httpx.AsyncClient, body: bytes
    ) -> None:
        response = await post(client, body, "application/json")
        assert "not UTF-8" in graphql_error(response, 400, "BadRequest")
        await still_answers(client)

    @pytest.mark.parametrize("charset", ["latin-1", "utf-16", '"iso-8859-1"'])
    async def test_another_charset_is_415(self, client: httpx.AsyncClient, charset: str) -> None:
        body = json.dumps(TYPENAME).encode()
        response = await post(client, body, f"application/json; charset={charset}")
        message = graphql_error(response, 415, "UnsupportedMediaType")
        assert "must be UTF-8" in message
        await still_answers(client)

    @pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "utf8", '"utf-8"'])
    async def test_utf8_spelled_any_way_is_taken(
        self, client: httpx.AsyncClient, charset: str
    ) -> None:
        body = json.dumps(TYPENAME).encode()
        response = await post(client, body, f"application/json; charset={charset}")
        assert response.json() == {"data": {"__typename": "Query"}}

    async def test_a_lone_surrogate_in_the_variables_is_400(
        self, client: httpx.AsyncClient
    ) -> None:
        query = "query($v: String!) { profileByIdentifier(type: EMAIL, value: $v) { __typename } }"
        # json.dumps would write the surrogate escaped the same way: the body is plain ASCII.
        body = json.dumps({"query": query, "variables": {"v": "a\ud800b"}}).encode()
        assert b"\\ud800" in body
        response = await post(client, body, "application/json")
        assert "lone surrogate" in graphql_error(response, 400, "BadRequest")
        await still_answers(client)

    async def test_a_lone_surrogate_in_the_document_is_a_request_error(
        self, client: httpx.AsyncClient
    ) -> None:
        body = b'{"query": "{ profile(id: \\"\\udfff\\") { __typename } }"}'
        response = await post(client, body, "application/json")
        assert response.status_code == 400
        assert "data" not in response.json()
        await still_answers(client)


class TestJsonShapes:
    @pytest.mark.parametrize("body", [b"null", b'"x"', b"123", b"true", b"1e999"])
    async def test_a_body_that_is_no_object_is_400(
        self, client: httpx.AsyncClient, body: bytes
    ) -> None:
        response = await post(client, body, "application/json")
        assert "must be a JSON object" in graphql_error(response, 400, "BadRequest")
        await still_answers(client)

    @pytest.mark.parametrize(
        "body",
        [
            b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 4301 + b"}}",
            b'{"query": ' + b"1" * 4400 + b"}",
        ],
    )
    async def test_a_number_past_the_parsers_digits_is_400(
        self, client: httpx.AsyncClient, body: bytes
    ) -> None:
        response = await post(client, body, "application/json")
        assert "over 4,300 digits" in graphql_error(response, 400, "BadRequest")
        await still_answers(client)

    async def test_a_url_parameter_with_such_a_number_is_400(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/graphql", params={**TYPENAME, "variables": "9" * 4301})
        assert "over 4,300 digits" in graphql_error(response, 400, "BadRequest")

    async def test_a_batch_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await post(client, b"[]", "application/json")
        assert 400 <= response.status_code < 500
        assert "data" not in response.json()
        await still_answers(client)


class TestDeepJson:
    """With the default body bound, which deep nesting fits in."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"graphql_max_body_bytes": 1024 * 1024})

    @pytest.mark.parametrize(
        "body",
        [
            b"[" * 100_000,
            b'{"a":' * 100_000,
            b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 100_000 + b"}",
        ],
    )
    async def test_json_nested_past_the_parser_is_400(
        self, client: httpx.AsyncClient, body: bytes
    ) -> None:
        response = await post(client, body, "application/json")
        assert "nested too deeply" in graphql_error(response, 400, "BadRequest")
        await still_answers(client)

    async def test_a_url_parameter_nested_past_the_parser_is_400(
        self, client: httpx.AsyncClient
    ) -> None:
        # 15,000 levels: httpx caps a URL at 64 KiB.
        params = {"query": "{ __typename }", "variables": "[" * 15_000}
        response = await client.get("/graphql", params=params)
        assert "nested too deeply" in graphql_error(response, 400, "BadRequest")
        await still_answers(client)


class TestSizeBounds:
    async def test_a_body_over_the_bound_is_413(self, client: httpx.AsyncClient) -> None:
        body = json.dumps({"query": "{ __typename }", "padding": "x" * MAX_BODY}).encode()
        response = await post(client, body, "application/json")
        message = graphql_error(response, 413, "PayloadTooLarge")
        assert f"exceeds the limit of {MAX_BODY}" in message
        await still_answers(client)

    async def test_a_streamed_body_over_the_bound_is_413(self, client: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read until too much
            yield b'{"query": "{ __typename }", "padding": "'
            for _ in range(10):
                yield b"x" * 1024

        response = await client.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        graphql_error(response, 413, "PayloadTooLarge")
        await still_answers(client)

    async def test_a_body_at_the_bound_is_taken(self, client: httpx.AsyncClient) -> None:
        head = b'{"query": "{ __typename }", "padding": "'
        body = head + b"x" * (MAX_BODY - len(head) - 2) + b'"}'
        assert len(body) == MAX_BODY
        response = await post(client, body, "application/json")
        assert response.json() == {"data": {"__typename": "Query"}}

    async def test_a_query_string_over_the_bound_is_414(self, client: httpx.AsyncClient) -> None:
        query = "{ __typename " + " " * MAX_BODY + "}"
        response = await client.get("/graphql", params={"query": query})
        message = graphql_error(response, 414, "UriTooLong")
        assert f"limit of {MAX_BODY} bytes" in message
        await still_answers(client)

    @pytest.mark.parametrize(
        "variables",
        [
            {"v": list(range(MAX_VALUES + 1))},
            {"v": {f"k{i}": i for i in range(MAX_VALUES)}},  # keys count too
            {"v": [[[[i]]] for i in range(MAX_VALUES // 4 + 1)]},
        ],
    )
    async def test_variables_over_the_bound_are_400(
        self, client: httpx.AsyncClient, variables: dict[str, Any]
    ) -> None:
        response = await client.post("/graphql", json={**TYPENAME, "variables": variables})
        message = graphql_error(response, 400, "BadRequest")
        assert f"more than {MAX_VALUES} values" in message
        await still_answers(client)

    async def test_variables_at_the_bound_are_taken(self, client: httpx.AsyncClient) -> None:
        # The object, its key, the list and its items: the bound exactly.
        variables = {"v": list(range(MAX_VALUES - 3))}
        response = await client.post("/graphql", json={**TYPENAME, "variables": variables})
        assert response.json() == {"data": {"__typename": "Query"}}
        variables = {"v": list(range(MAX_VALUES - 2))}
        response = await client.post("/graphql", json={**TYPENAME, "variables": variables})
        graphql_error(response, 400, "BadRequest")


class TestMethodNotAllowed:
    @pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
    async def test_graphql_lists_get_and_post(self, client: httpx.AsyncClient, method: str) -> None:
        response = await client.request(method, "/graphql", json=TYPENAME)
        graphql_error(response, 405, "MethodNotAllowed")
        assert response.headers["allow"] == "GET, POST"
        await still_answers(client)

    @pytest.mark.parametrize("path", ["/unsubscribe/some-token", "/consent/confirm/some-token"])
    @pytest.mark.parametrize("method", ["PUT", "DELETE"])
    async def test_link_endpoints_list_every_method(
        self, client: httpx.AsyncClient, path: str, method: str
    ) -> None:
        response = await client.request(method, path)
        assert response.status_code == 405
        assert response.json() == {"error": "MethodNotAllowed", "detail": "Method Not Allowed"}
        assert response.headers["allow"] == "GET, POST"

    async def test_a_query_string_of_any_bytes_is_answered(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        # Starlette's request.url decodes the query string as UTF-8: this was a 500.
        key = [(b"authorization", client.headers["authorization"].encode())]
        answer = await call(app, "PUT", b"/graphql", query=b"q=\xed\xa0", headers=key)
        assert answer.status == 405
        assert answer.header("allow") == "GET, POST"
        assert json.loads(answer.body)["errors"][0]["extensions"]["code"] == "MethodNotAllowed"
        query = b"query=%7B__typename%7D&x=\xff"
        answer = await call(app, "GET", b"/graphql", query=query, headers=key)
        assert json.loads(answer.body) == {"data": {"__typename": "Query"}}

    async def test_a_rest_endpoint_lists_its_one_method(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/ingest/canonical")
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert response.json()["error"] == "MethodNotAllowed"


class TestInstants:
    """A decision asked for an instant the calendar arithmetic around it cannot reach."""

    @pytest.mark.parametrize(
        "at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z", "1899-12-31T23:59:59Z"]
    )
    async def test_the_export_refuses_it(
        self, marketing_client: httpx.AsyncClient, at: str
    ) -> None:
        params = {"channel": "email", "purpose": "marketing", "at": at}
        response = await marketing_client.get("/audiences/export", params=params)
        assert response.status_code == 422
        assert response.json() == {
            "error": "InvalidInput",
            "detail": f"{at.replace('Z', '+00:00')} is not in the years 1900 to 8999",
        }

    def test_the_documented_pattern_takes_the_same_years(self) -> None:
        first, end = ASKABLE_YEARS
        for year in range(1000, 10_000):
            matches = re.match(ASKABLE_PATTERN, f"{year:04d}-01-01T00:00:00Z") is not None
            assert matches == (first <= year < end), year

    async def test_a_decision_refuses_it(self, marketing_client: httpx.AsyncClient) -> None:
        query = """{ contactDecision(profileId: "000000000000000000000000", channel: EMAIL,
            purpose: "marketing", at: "9999-12-31T23:59:59Z") {
            __typename ... on Error { code message } } }"""
        data = await gql(marketing_client, query)
        assert data["contactDecision"]["code"] == "InvalidInput"
        assert "not in the years 1900 to 8999" in data["contactDecision"]["message"]


def _cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


TIMELINE = """query($after: String) { profileByIdentifier(type: EMAIL, value: "ana@example.com") {
    ... on Profile { timeline(first: 2, after: $after) { edges { cursor } } } } }"""
SEARCH = """query($after: String) { searchProfiles(text: "ana", after: $after) {
    edges { node { id } } } }"""
AUDIENCE = """query($after: String) { audience(channel: EMAIL, purpose: "service", after: $after) {
    edges { node { profileId } } } }"""


class TestCursors:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"graphql_max_body_bytes": 1024 * 1024})

    @pytest.fixture
    async def ana(self, client: httpx.AsyncClient, connector_client: httpx.AsyncClient) -> None:
        body = "\n".join(json.dumps(r) for r in (f.person(), f.order(), f.survey()))
        response = await connector_client.post(
            "/ingest/canonical",
            content=body.encode(),
            headers={"content-type": "application/x-ndjson"},
        )
        assert response.json()["rejected"] == 0

    async def field_error(
        self, client: httpx.AsyncClient, query: str, after: str
    ) -> dict[str, Any]:
        payload = {"query": query, "variables": {"after": after}}
        response = await client.post("/graphql", json=payload)
        assert response.status_code == 200  # it ran: a field error beside data
        (error,) = response.json()["errors"]
        return dict(error)

    @pytest.mark.usefixtures("ana")
    async def test_a_long_cursor_is_not_echoed_whole(self, client: httpx.AsyncClient) -> None:
        garbage = "%" * 500_000
        error = await self.field_error(client, TIMELINE, garbage)
        assert error["extensions"]["code"] == "InvalidCursor"
        assert len(error["message"]) < 200
        assert "500,000 characters" in error["message"]
        await still_answers(client)

    @pytest.mark.usefixtures("ana")
    @pytest.mark.parametrize("key", ["²|x", "١٢|x", "12|", "|x", "12x"])
    async def test_a_cursor_whose_position_is_no_ascii_number_is_refused(
        self, client: httpx.AsyncClient, key: str
    ) -> None:
        error = await self.field_error(client, TIMELINE, _cursor(key))
        assert error["extensions"]["code"] == "InvalidCursor"
        await still_answers(client)

    @pytest.mark.usefixtures("ana")
    async def test_a_cursor_of_a_page_still_works(self, client: httpx.AsyncClient) -> None:
        first = await gql(client, TIMELINE, after=None)
        cursor = first["profileByIdentifier"]["timeline"]["edges"][-1]["cursor"]
        rest = await gql(client, TIMELINE, after=cursor)
        assert rest["profileByIdentifier"]["timeline"]["edges"]

    @pytest.mark.usefixtures("ana")
    @pytest.mark.parametrize("query", [SEARCH, AUDIENCE], ids=["search", "audience"])
    @pytest.mark.parametrize("after", ["nope", "ffff", "0" * 25, "A" * 24, "x" * 100_000])
    async def test_an_after_that_is_no_profile_id_is_refused(
        self, client: httpx.AsyncClient, query: str, after: str
    ) -> None:
        error = await self.field_error(client, query, after)
        assert error["extensions"]["code"] == "InvalidCursor"
        assert len(error["message"]) < 200
        await still_answers(client)

    @pytest.mark.usefixtures("ana")
    @pytest.mark.parametrize("query", [SEARCH, AUDIENCE], ids=["search", "audience"])
    async def test_an_after_that_is_a_profile_id_pages(
        self, client: httpx.AsyncClient, query: str
    ) -> None:
        data = await gql(client, query, after="0" * 24)
        (connection,) = data.values()
        assert connection["edges"]


LONG = 100_000  # characters of a value no message repeats whole
LOOKUP = """query($type: IdentifierType!, $value: String!) {
  profileByIdentifier(type: $type, value: $value) { __typename ... on Error { message } } }"""


class TestLongValues:
    """A message that quotes a value it refuses quotes its first 100 characters and says how
    long it was, whichever layer refuses it."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(
            update={"graphql_max_body_bytes": 1024 * 1024, "graphql_max_tokens": 50_000}
        )

    @pytest.mark.parametrize(
        ("kind", "value", "reason"),
        [
            ("EMAIL", "a" * LONG + "@x.com", "invalid e-mail address"),
            ("PHONE", "6" * LONG, "unparseable phone number"),
            ("EMAIL", "<" * LONG + "@x.com", "invalid e-mail address"),  # a reason listing it
        ],
    )
    async def test_a_lookup_quotes_the_value_cut(
        self, client: httpx.AsyncClient, kind: str, value: str, reason: str
    ) -> None:
        answer = (await gql(client, LOOKUP, type=kind, value=value))["profileByIdentifier"]
        assert answer["__typename"] == "InvalidInputError"
        message = answer["message"]
        assert message.startswith(reason)
        assert f"{value[:100]!r}… ({len(value):,} characters)" in message
        assert len(message) < 400

    async def test_a_value_written_in_the_document_is_quoted_cut(
        self, client: httpx.AsyncClient
    ) -> None:
        query = f'{{ bestChannels(profileId: "p", purpose: "{"X" * LONG}") {{ __typename }} }}'
        response = await client.post("/graphql", json={"query": query})
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["message"].startswith(f"{'X' * 100!r}… ({LONG:,} characters)")
        assert len(error["message"]) < 400

    async def test_a_rest_parameter_is_quoted_cut(self, client: httpx.AsyncClient) -> None:
        params = {"channel": "email", "purpose": "service", "country": "Z" * 5000}
        response = await client.get("/audiences/export", params=params)
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert f"{'Z' * 100!r}… (5,000 characters)" in detail
        assert len(detail) < 400
