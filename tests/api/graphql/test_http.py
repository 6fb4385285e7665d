"""GraphQL over HTTP as the specification asks: methods, media types, status codes, limits."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from graphql import GraphQLError
from prometheus_client.parser import text_string_to_metric_families
from pymongo.errors import BulkWriteError

from c360.api.graphql.extensions import FAULT_MESSAGE, answered_message, error_code
from c360.contact.service import ContactService
from c360.errors import InvalidInput
from c360.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
TWO_OPERATIONS = "query A { a: __typename } query B { b: __typename }"
MERGE = 'mutation { unmergeProfile(mergeId: "x", reason: "y") { __typename } }'


@pytest.fixture
def client(agent_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A caller with a key: what is tested here is the protocol, not access."""
    return agent_client


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


class TestMediaTypes:
    @pytest.mark.parametrize(
        "accept",
        [
            None,
            "*/*",
            GRAPHQL_RESPONSE,
            "application/*",
            f"application/json;q=0.9, {GRAPHQL_RESPONSE}",
        ],
    )
    async def test_graphql_response_json_by_default_and_when_preferred(
        self, client: httpx.AsyncClient, accept: str | None
    ) -> None:
        headers = {"accept": accept} if accept else {}
        if accept is None:
            client.headers.pop("accept")  # httpx would send */*
        response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
        assert response.json() == {"data": {"__typename": "Query"}}

    @pytest.mark.parametrize(
        "accept", ["application/json", f"application/json, {GRAPHQL_RESPONSE};q=0.5"]
    )
    async def test_application_json_when_asked_for(
        self, client: httpx.AsyncClient, accept: str
    ) -> None:
        response = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"accept": accept}
        )
        assert media_type(response) == "application/json"
        assert response.json() == {"data": {"__typename": "Query"}}

    async def test_406_when_neither_is_acceptable(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"accept": "text/csv"}
        )
        assert response.status_code == 406
        assert "application/graphql-response+json" in response.json()["errors"][0]["message"]


class TestRequestErrors:
    """Nothing runs: 400 and no `data` entry (200 for legacy application/json clients)."""

    @pytest.mark.parametrize(
        ("payload", "message"),
        [
            ({"query": "{ profile("}, "Syntax Error"),
            ({"query": "{ noSuchField }"}, "Cannot query field 'noSuchField'"),
            (
                {"query": "query($id: ID!) { profile(id: $id) { __typename } }", "variables": {}},
                "Variable '$id' has invalid value",
            ),
            ({"query": TWO_OPERATIONS}, "several operations: name one in operationName"),
            ({"query": TWO_OPERATIONS, "operationName": "C"}, 'Unknown operation named "C"'),
        ],
    )
    async def test_are_400_without_data(
        self, client: httpx.AsyncClient, payload: dict[str, Any], message: str
    ) -> None:
        response = await client.post("/graphql", json=payload)
        assert response.status_code == 400
        assert media_type(response) == GRAPHQL_RESPONSE
        body = response.json()
        assert "data" not in body
        assert message in body["errors"][0]["message"]
        assert body["errors"][0]["extensions"]["code"] == "InvalidRequest"

    async def test_are_200_for_application_json(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/graphql", json={"query": "{ noSuchField }"}, headers={"accept": "application/json"}
        )
        assert response.status_code == 200
        assert "data" not in response.json()
        assert response.json()["errors"]

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"{not json", "Unable to parse request body as JSON"),
            (b'{"qeury": "{ __typename }"}', "No GraphQL query found in the request"),
            (b'{"query": "{ __typename }", "variables": [7]}', "`variables` must be an object"),
            (b'{"query": "{ __typename }", "operationName": 7}', "operationName must be a string"),
        ],
    )
    async def test_malformed_requests_are_400_whatever_the_media_type(
        self, client: httpx.AsyncClient, body: bytes, message: str
    ) -> None:
        for accept in (GRAPHQL_RESPONSE, "application/json"):
            response = await client.post(
                "/graphql",
                content=body,
                headers={"content-type": "application/json", "accept": accept},
            )
            assert response.status_code == 400
            assert media_type(response) == accept
            assert message in response.json()["errors"][0]["message"]

    async def test_a_body_that_is_not_json_is_415(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/graphql", content=b"{ __typename }", headers={"content-type": "application/graphql"}
        )
        assert response.status_code == 415

    @pytest.mark.parametrize(
        "content_type", ["APPLICATION/JSON", "Application/Json; Charset=UTF-8", "application/JSON"]
    )
    async def test_the_media_type_is_read_in_any_case(
        self, client: httpx.AsyncClient, content_type: str
    ) -> None:
        """A type and subtype are case-insensitive (RFC 9110, 8.3.1), as /ingest reads them."""
        response = await client.post(
            "/graphql",
            content=b'{"query": "{ __typename }"}',
            headers={"content-type": content_type},
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"data": {"__typename": "Query"}}

    async def test_field_errors_are_200_with_data(self, client: httpx.AsyncClient) -> None:
        # An agent may not list keys: the field is null with an error, the rest is answered.
        response = await client.post("/graphql", json={"query": "{ apiKeys { id } __typename }"})
        assert response.status_code == 200
        body = response.json()
        assert body["data"] == {"apiKeys": None, "__typename": "Query"}
        assert [e["path"] for e in body["errors"]] == [["apiKeys"]]


async def errors_counted(client: httpx.AsyncClient, code: str) -> float:
    """``c360_graphql_errors_total`` for ``code``, as ``/metrics`` answers it now."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "c360_graphql_errors_total" and sample.labels["code"] == code:
                return sample.value
    return 0.0


PURPOSE_BY_VARIABLE = """query($purpose: Purpose!) {
  bestChannels(profileId: "p", purpose: $purpose) { __typename } }"""


class TestBadValuesInTheDocument:
    """A value written in the document that its type refuses is a request error, as the same
    value in a variable is: 400 with the reason, counted as the request's (``InvalidRequest``),
    never logged or counted as the server's fault."""

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            (
                'mutation { recordContact(input: {profileId: "p", channel: EMAIL, '
                'purpose: "Bad!"}) { __typename } }',
                "'Bad!' is not a purpose",
            ),
            ('{ bestChannels(profileId: "p", purpose: 5) { __typename } }', "not 5"),
            ('{ bestChannels(profileId: "p", purpose: service) { __typename } }', "not service"),
            (
                '{ bestChannels(profileId: "p", purpose: "service", at: "noon") { __typename } }',
                "Value cannot represent a DateTime",
            ),
            (
                '{ bestChannels(profileId: "p", purpose: "service", at: 12) { __typename } }',
                "Value cannot represent a DateTime",
            ),
            (
                '{ audience(channel: EMAIL, purpose: "service", '
                "filter: {lifecycleStages: [NOPE]}) { at } }",
                "'NOPE'",
            ),
            ('{ bestChannels(profileId: "p", purpose: "service") { nope } }', "'nope'"),
            ('{ bestChannels(profileId: "p", purpose: "service" { __typename } }', "Syntax Error"),
        ],
    )
    async def test_is_a_request_error_not_a_fault(
        self,
        client: httpx.AsyncClient,
        caplog: pytest.LogCaptureFixture,
        query: str,
        message: str,
    ) -> None:
        faults = await errors_counted(client, "InternalError")
        refused = await errors_counted(client, "InvalidRequest")
        response = await client.post("/graphql", json={"query": query})

        assert response.status_code == 400
        body = response.json()
        assert "data" not in body
        (error,) = body["errors"]
        assert message in error["message"]
        assert error["extensions"]["code"] == "InvalidRequest"  # what a client branches on
        assert await errors_counted(client, "InternalError") == faults
        assert await errors_counted(client, "InvalidRequest") == refused + 1
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    async def test_says_what_the_same_value_in_a_variable_says(
        self, client: httpx.AsyncClient
    ) -> None:
        literal = '{ bestChannels(profileId: "p", purpose: "Bad!") { __typename } }'
        written = await client.post("/graphql", json={"query": literal})
        given = await client.post(
            "/graphql", json={"query": PURPOSE_BY_VARIABLE, "variables": {"purpose": "Bad!"}}
        )

        assert written.status_code == given.status_code == 400
        [in_document], [in_variable] = written.json()["errors"], given.json()["errors"]
        assert in_variable["message"].endswith(in_document["message"])
        assert in_document["message"].startswith("'Bad!' is not a purpose: a string of")
        assert in_document["locations"] == [{"line": 1, "column": 41}]  # the value written


class TestMethods:
    async def test_get_runs_queries_with_variables_and_operation_name(
        self, client: httpx.AsyncClient
    ) -> None:
        params = {
            "query": "query A($id: ID!) { profile(id: $id) { __typename } } query B { __typename }",
            "variables": json.dumps({"id": "nope"}),
            "operationName": "A",
        }
        response = await client.get("/graphql", params=params)
        assert response.status_code == 200
        assert response.json() == {"data": {"profile": {"__typename": "NotFoundError"}}}

    async def test_an_empty_operation_name_is_none(self, client: httpx.AsyncClient) -> None:
        params = {"query": "{ __typename }", "operationName": ""}
        response = await client.get("/graphql", params=params)
        assert response.json() == {"data": {"__typename": "Query"}}

    async def test_post_picks_the_named_operation(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/graphql", json={"query": TWO_OPERATIONS, "operationName": "B"}
        )
        assert response.json() == {"data": {"b": "Query"}}

    @pytest.mark.parametrize("name", ["variables", "extensions"])
    async def test_a_parameter_that_is_not_json_is_named(
        self, client: httpx.AsyncClient, name: str
    ) -> None:
        params = {"query": "{ __typename }", name: '{"id": }'}
        response = await client.get("/graphql", params=params)
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["message"] == (
            f"the {name} parameter is not valid JSON: Expecting value at character 8"
        )
        assert error["extensions"] == {"code": "BadRequest"}

    async def test_a_mutation_over_get_is_405(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/graphql", params={"query": MERGE})
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert "mutations are not allowed when using GET" in response.json()["errors"][0]["message"]

    async def test_a_query_of_a_document_with_mutations_runs_over_get(
        self, client: httpx.AsyncClient
    ) -> None:
        document = f"query Q {{ __typename }} {MERGE.replace('mutation', 'mutation M')}"
        response = await client.get("/graphql", params={"query": document, "operationName": "Q"})
        assert response.json() == {"data": {"__typename": "Query"}}


PAGE = """query($first: Int) { profile(id: "x") { ... on Profile {
    id timeline(first: $first) { edges { cursor node { id kind } } } } } }"""


class TestQueryCost:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"graphql_max_complexity": 100})

    async def test_counts_what_is_under_a_list_once_per_item_asked_for(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/graphql", json={"query": PAGE, "variables": {"first": 50}})
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        # profile + id + timeline, and 50 times edges + cursor + node + id + kind
        assert error["extensions"] == {"code": "QueryTooComplex", "cost": 253, "maxCost": 100}
        assert "more than the maximum of 100" in error["message"]

    async def test_lets_cheaper_queries_run(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/graphql", json={"query": PAGE, "variables": {"first": 10}})
        assert response.status_code == 200
        assert response.json() == {"data": {"profile": {}}}

    async def test_counts_the_default_page_size_when_first_is_not_given(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/graphql", json={"query": PAGE})
        (error,) = response.json()["errors"]
        assert error["extensions"]["cost"] == 3 + 20 * 5  # timeline's default page is 20


class TestAnArgumentRefusedAsTheFieldRuns:
    async def test_is_the_requests_error_not_a_fault(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        # Validation lets a defaulted variable into a non-null argument; an explicit null in
        # it is refused only as the field runs, at the field's path.
        query = 'query($t: String = "a") { searchProfiles(text: $t) { __typename } }'
        faults = await errors_counted(client, "InternalError")

        response = await client.post("/graphql", json={"query": query, "variables": {"t": None}})

        (error,) = response.json()["errors"]
        assert error["path"] == ["searchProfiles"]
        assert "Argument 'text' has invalid value" in error["message"]
        assert error["extensions"]["code"] == "InvalidRequest"
        assert await errors_counted(client, "InternalError") == faults
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


class TestErrorCodes:
    """Which side an error is: the request's (no path: the document, its variables) or the
    server's (at a field, a value graphql-core cannot answer with; not one of ours)."""

    def test_an_error_at_a_field_that_is_not_ours_is_the_servers(self) -> None:
        cannot = GraphQLError("Int cannot represent non 32-bit signed integer value: 2500000000")
        at_field = GraphQLError(cannot.message, path=["profile", "total"], original_error=cannot)

        assert error_code(at_field) == "InternalError"
        assert error_code(GraphQLError("Cannot query field 'nope' on type 'Query'.")) == (
            "InvalidRequest"
        )
        assert error_code(GraphQLError("x", path=["f"], original_error=InvalidInput("y"))) == (
            "InvalidInput"
        )


class TestWhatAFaultSays:
    """A fault's text is the server's: the log keeps it; the client is told what it can use."""

    def test_a_store_refusal_is_one_line_without_the_documents_a_write_carried(self) -> None:
        refused = BulkWriteError(
            {
                "writeErrors": [
                    {
                        "index": 0,
                        "code": 8,
                        "errmsg": "disk I/O error",
                        "op": {"_id": "email:ana@example.com", "profile_id": "p1"},
                    }
                ]
            }
        )
        error = GraphQLError(str(refused), path=["recordConsent"], original_error=refused)

        assert error_code(error) == "StoreUnavailable"
        assert answered_message(error) == "the store refused a write (disk I/O error, code 8)"

    def test_a_fault_of_ours_says_where_to_look_not_what_it_was_working_on(self) -> None:
        fault = ValueError("cannot compare 'ana@example.com' with None")
        error = GraphQLError(str(fault), path=["profile", "timeline"], original_error=fault)

        assert error_code(error) == "InternalError"
        assert answered_message(error) == FAULT_MESSAGE
        assert "ana@example.com" not in FAULT_MESSAGE
        # graphql-core's own, and ours, are said as they are.
        for said in (InvalidInput("first must be between 1 and 100"), GraphQLError("Int …")):
            answered = GraphQLError(said.args[0], path=["f"], original_error=said)
            assert answered_message(answered) == said.args[0]

    async def test_a_store_refusal_is_logged_without_the_documents_a_write_carried(
        self,
        agent_client: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        async def refused(*args: Any, **kwargs: Any) -> None:
            op = {"_id": "email:ana@example.com", "name": "Ana García"}
            error = {"index": 0, "code": 8, "errmsg": "disk I/O error", "op": op}
            raise BulkWriteError({"writeErrors": [error]})

        monkeypatch.setattr(ContactService, "record_consent", refused)
        change = {"profileId": "p1", "channel": "SMS", "status": "OPTED_OUT"}
        query = "mutation($i: RecordConsentInput!) { recordConsent(input: $i) { __typename } }"
        with caplog.at_level(logging.ERROR, logger="c360"):
            answer = await agent_client.post(
                "/graphql", json={"query": query, "variables": {"i": change}}
            )
        [error] = answer.json()["errors"]
        assert error["message"] == "the store refused a write (disk I/O error, code 8)"
        [logged] = [r for r in caplog.records if r.getMessage() == "store refused a command"]
        assert logged.__dict__["reason"] == error["message"]
        for said in (answer.text, caplog.text, *map(str, (r.__dict__ for r in caplog.records))):
            assert "ana@example.com" not in said


class TestOtherOrigins:
    """A key is a server's secret: no page of another origin may call the API from a browser."""

    async def test_a_preflight_is_refused_and_no_answer_allows_another_origin(
        self, client: httpx.AsyncClient
    ) -> None:
        origin = {"Origin": "https://shop.example"}
        preflight = await client.options(
            "/graphql",
            headers={
                **origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 405
        answered = await client.post("/graphql", json={"query": "{ __typename }"}, headers=origin)
        assert answered.status_code == 200
        for response in (preflight, answered):
            assert not any(h.startswith("access-control-") for h in response.headers)
