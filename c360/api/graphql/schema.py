"""The GraphQL schema: queries translate arguments, call a service, and map the answer."""

from __future__ import annotations

from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.types import Info

from c360.api.graphql.context import Context
from c360.api.graphql.identity import Mutation
from c360.api.graphql.types import (
    TIMELINE_TYPES,
    IdentifierType,
    InvalidInputError,
    NotFoundError,
    Profile,
    ProfileResult,
)
from c360.errors import C360Error, InvalidInput, NotFound


def _as_error(exc: C360Error) -> NotFoundError | InvalidInputError:
    if isinstance(exc, NotFound):
        return NotFoundError(message=exc.detail, code=exc.code)
    if isinstance(exc, InvalidInput):
        return InvalidInputError(message=exc.detail, code=exc.code)
    raise exc


@strawberry.type
class Query:
    @strawberry.field(description="A profile by its id.")
    async def profile(self, info: Info[Context, None], id: strawberry.ID) -> ProfileResult:
        try:
            return Profile.from_doc(await info.context.services.profiles.get(str(id)))
        except C360Error as exc:
            return _as_error(exc)

    @strawberry.field(
        description=(
            "The profile that owns an identifier. The value is normalised as at ingest, so "
            "'+34 600 12 34 56' and '0034600123456' find the same person. `source` is "
            "required for EXTERNAL ids (e.g. 'shopify') and only for them."
        )
    )
    async def profile_by_identifier(
        self,
        info: Info[Context, None],
        type: IdentifierType,
        value: str,
        source: str | None = None,
    ) -> ProfileResult:
        try:
            doc = await info.context.services.profiles.by_identifier(type, value, source)
        except C360Error as exc:
            return _as_error(exc)
        return Profile.from_doc(doc)


class ErrorCodes(SchemaExtension):
    """Errors that escape a resolver carry their class name as ``extensions.code``."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in (result.errors if result else None) or []:
            original = error.original_error
            if isinstance(original, C360Error):
                _set_code(error, original.code)


def _set_code(error: GraphQLError, code: str) -> None:
    error.extensions = {**(error.extensions or {}), "code": code}


def build_schema(max_depth: int, max_tokens: int) -> strawberry.Schema:
    """The schema with its operation limits; a query over them is refused before it runs."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=list(TIMELINE_TYPES),
        extensions=[
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            ErrorCodes,
        ],
    )


def render_sdl() -> str:
    """The schema's SDL (the limits do not change it)."""
    return build_schema(max_depth=1, max_tokens=1).as_str() + "\n"
