"""``/openapi.json`` says what the REST API does: every status each operation answers, in the
shape it answers it, the bodies it reads and their media types, and enums where a value is one
of a few. (tools/conformance.py checks a live server against it with schemathesis.)"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from c360.observability.metrics import CONTENT_TYPE
from c360.settings import Settings
from connectors import CONNECTORS

ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
HTML = {"text/html": {"schema": {"type": "string"}}}

# What each operation with a key answers besides its own: no key, a role that may not, a spent
# rate limit, a store that cannot keep the limit or the audit.
KEYED = {"401": "error", "403": "error", "429": "error", "503": "error"}
# What each operation answers: a status and the media type of its body there.
ANSWERS: dict[tuple[str, str], dict[str, str]] = {
    ("get", "/health"): {"200": "application/json", "503": "application/json"},
    ("post", "/ingest/{connector}"): {
        "200": "application/json",
        **KEYED,
        "404": "error",
        "413": "error",
        "415": "error",
        "422": "error",
    },
    ("post", "/webhooks/shopify"): {
        "200": "application/json",
        "401": "error",
        "404": "error",
        "413": "error",
        "415": "error",
        "422": "error",
    },
    ("post", "/webhooks/zendesk"): {
        "200": "application/json",
        "401": "error",
        "404": "error",
        "413": "error",
        "415": "error",
    },
    ("get", "/unsubscribe/{token}"): {"200": "page", "403": "page", "410": "page"},
    ("post", "/unsubscribe/{token}"): {
        "200": "page",
        "400": "page",
        "403": "page",
        "404": "page",
        "410": "page",
        "413": "error",
    },
    ("get", "/consent/confirm/{token}"): {"200": "page", "404": "page", "410": "page"},
    ("post", "/consent/confirm/{token}"): {"200": "page", "404": "page", "410": "page"},
    ("get", "/audiences/export"): {"200": "files", **KEYED, "422": "error"},
    ("get", "/kpis/export"): {"200": "tables", **KEYED, "422": "error"},
    ("get", "/metrics"): {"200": CONTENT_TYPE, **KEYED},
    ("get", "/privacy/requests/{request_id}/export"): {
        "200": "privacy export",
        **KEYED,
        "404": "error",
        "409": "error",
        "422": "error",
    },
}
PURPOSES = ["service", "newsletters"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"contact_purposes": PURPOSES})


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"][path][method]
    return found


def parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [p for p in operation["parameters"] if p["name"] == name]
    return found


class TestAnswers:
    def test_every_operation_is_described(self, document: dict[str, Any]) -> None:
        described = {(m, p) for p, ops in document["paths"].items() for m in ops}
        assert described == set(ANSWERS)

    @pytest.mark.parametrize(("method", "path"), list(ANSWERS))
    def test_every_status_in_the_shape_it_is_answered(
        self, document: dict[str, Any], method: str, path: str
    ) -> None:
        responses = operation(document, method, path)["responses"]
        assert set(responses) == set(ANSWERS[method, path])
        for status, shape in ANSWERS[method, path].items():
            content = responses[status]["content"]
            assert responses[status]["description"]
            if shape == "error":
                assert content == ERROR_BODY
            elif shape == "page":
                assert content == HTML
            elif shape == "files":
                assert set(content) == {"application/x-ndjson", "text/csv"}
            elif shape == "tables":  # a JSON array or CSV
                assert set(content) == {"application/json", "text/csv"}
            elif shape == "privacy export":
                assert set(content) == {"application/json", "application/zip"}
            else:
                assert set(content) == {shape}

    def test_no_framework_validation_shape_is_left(self, document: dict[str, Any]) -> None:
        assert set(document["components"]["schemas"]).isdisjoint(
            {"HTTPValidationError", "ValidationError"}
        )
        assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error", "detail"]

    def test_a_401_says_which_scheme(self, document: dict[str, Any]) -> None:
        response = operation(document, "get", "/audiences/export")["responses"]["401"]
        assert "WWW-Authenticate" in response["headers"]

    def test_the_keyed_operations_name_the_scheme(self, document: dict[str, Any]) -> None:
        keyed = {
            (m, p)
            for p, ops in document["paths"].items()
            for m, op in ops.items()
            if op.get("security")
        }
        assert keyed == {
            ("post", "/ingest/{connector}"),
            ("get", "/audiences/export"),
            ("get", "/kpis/export"),
            ("get", "/privacy/requests/{request_id}/export"),
        }
        assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"

    def test_graphql_is_left_to_its_own_schema(self, document: dict[str, Any]) -> None:
        assert "/graphql" not in document["paths"]
        assert "/graphql" in document["info"]["description"]


class TestBodies:
    def test_ingest_reads_json_json_lines_and_csv(self, document: dict[str, Any]) -> None:
        body = operation(document, "post", "/ingest/{connector}")["requestBody"]
        assert set(body["content"]) == {"application/json", "application/x-ndjson", "text/csv"}
        assert body["required"] is False  # no body reads no items

    @pytest.mark.parametrize("path", ["/webhooks/shopify", "/webhooks/zendesk"])
    def test_webhooks_read_json(self, document: dict[str, Any], path: str) -> None:
        body = operation(document, "post", path)["requestBody"]
        assert set(body["content"]) == {"application/json"}

    def test_one_click_unsubscribe_is_a_form(self, document: dict[str, Any]) -> None:
        body = operation(document, "post", "/unsubscribe/{token}")["requestBody"]
        assert set(body["content"]) == {
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        }
        form = body["content"]["application/x-www-form-urlencoded"]["schema"]
        assert form["properties"]["List-Unsubscribe"]["enum"] == ["One-Click"]
        assert form["required"] == ["List-Unsubscribe"]


class TestEnums:
    def test_connectors(self, document: dict[str, Any]) -> None:
        connector = parameter(operation(document, "post", "/ingest/{connector}"), "connector")
        assert connector["schema"]["enum"] == sorted(CONNECTORS)

    def test_purposes_are_the_configured_ones(self, document: dict[str, Any]) -> None:
        purpose = parameter(operation(document, "get", "/audiences/export"), "purpose")
        assert purpose["required"] is True
        assert purpose["schema"]["enum"] == PURPOSES

    def test_format_and_channel(self, document: dict[str, Any]) -> None:
        export = operation(document, "get", "/audiences/export")
        assert parameter(export, "format")["schema"]["enum"] == ["ndjson", "csv"]
        channel = parameter(export, "channel")["schema"]["$ref"].rsplit("/", 1)[1]
        assert "email" in document["components"]["schemas"][channel]["enum"]

    def test_the_decision_instant_is_bounded(self, document: dict[str, Any]) -> None:
        at = parameter(operation(document, "get", "/audiences/export"), "at")
        assert at["schema"]["anyOf"][0]["format"] == "date-time"
        assert at["schema"]["pattern"]
