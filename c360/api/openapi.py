"""What ``/openapi.json`` says beyond what FastAPI infers, so that it describes what the API
does: every status an operation answers and the shape it answers it in, request bodies the
routes read raw (JSON, NDJSON, CSV, forms), and the enums the settings decide.

FastAPI documents a ``422`` with its own validation-error shape for every operation that has
parameters; ours answer ``422`` only where a parameter can fail its type, and always as
``{"error", "detail"}``. Routes declare their answers with :func:`answers`; :func:`document`
builds the document and drops the inferred ``422`` wherever a route did not declare one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Every REST error: the error's class and a sentence saying what to change."""

    error: str = Field(description="What went wrong, as a class name: `InvalidInput`, …")
    detail: str = Field(description="Why, for a person.")


WHY: dict[int, str] = {
    400: "The request is malformed.",
    401: "No API key, or an unknown or revoked one (`Authorization: Bearer c360_<id>_<secret>`).",
    403: "The key's role may not do this.",
    404: "Nothing by that name.",
    409: "The request contradicts the current state (the detail says how).",
    410: "Gone: expired, or already used.",
    413: "The body is larger than the limit.",
    415: "The body's media type (or charset) is not one this endpoint reads.",
    422: "A value out of its type or range; the detail names it.",
    429: "The key's rate limit is spent: try again after `Retry-After` seconds.",
    503: "The store does not answer (the key's rate limit or the access audit cannot be kept).",
}
# The answers every keyed operation may give besides its own: no key, a role that may not,
# a spent rate limit, a store that cannot check the limit or keep the audit.
KEYED = (401, 403, 429, 503)
UNAUTHENTICATED_HEADERS = {
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with: `Bearer`.",
        "schema": {"type": "string"},
    }
}
RATE_LIMITED_HEADERS = {
    "Retry-After": {
        "description": "Seconds until the key's bucket holds a token again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def answers(*statuses: int, why: dict[int, str] | None = None) -> dict[int | str, Any]:
    """The error responses of an operation, each with the REST error body; ``why`` says what
    a status means there when the general sentence is not enough."""
    responses: dict[int | str, Any] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "model": ErrorBody,
            "description": (why or {}).get(status, WHY[status]),
        }
        if status == 401:
            response["headers"] = UNAUTHENTICATED_HEADERS
        elif status == 429:
            response["headers"] = RATE_LIMITED_HEADERS
        responses[status] = response
    return responses


HTML = {"text/html": {"schema": {"type": "string"}}}


def pages(*statuses: int, why: dict[int, str]) -> dict[int | str, Any]:
    """Answers that are HTML pages for a person who followed a link."""
    return {status: {"description": why[status], "content": HTML} for status in statuses}


def raw_body(description: str, content: dict[str, Any], required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its body itself (so FastAPI sees none)."""
    return {"requestBody": {"description": description, "required": required, "content": content}}


def document(app: FastAPI, purposes: Sequence[str], description: str) -> None:
    """Serve ``app``'s document as this module completes it; ``purposes`` are the contact
    purposes a ``purpose`` parameter takes (they come from the settings)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=description,
                routes=app.routes,
            )
            _drop_inferred_validation_errors(schema)
            _errors_are_json(schema)
            _enumerate(schema, "purpose", list(purposes))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


_INFERRED = "#/components/schemas/HTTPValidationError"


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for path in schema.get("paths", {}).values() for op in path.values()]


def _drop_inferred_validation_errors(schema: dict[str, Any]) -> None:
    for operation in _operations(schema):
        response = operation.get("responses", {}).get("422", {})
        refs = [c.get("schema", {}).get("$ref") for c in response.get("content", {}).values()]
        if _INFERRED in refs:
            del operation["responses"]["422"]
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


_ERROR_BODY = "#/components/schemas/ErrorBody"


def _errors_are_json(schema: dict[str, Any]) -> None:
    """An error body is JSON even where the route's own answers are pages (FastAPI gives a
    declared model the route's media type)."""
    for operation in _operations(schema):
        for response in operation.get("responses", {}).values():
            content = response.get("content", {})
            if any(c.get("schema", {}).get("$ref") == _ERROR_BODY for c in content.values()):
                response["content"] = {"application/json": {"schema": {"$ref": _ERROR_BODY}}}


def _enumerate(schema: dict[str, Any], name: str, values: list[str]) -> None:
    for operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == name:
                parameter["schema"] = {**parameter["schema"], "enum": values}
