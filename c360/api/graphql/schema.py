"""The GraphQL schema: queries translate arguments, call a service, and map the answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, Info

from c360.api.graphql.access import fast_masking, undeclared_text_fields
from c360.api.graphql.audit import AuditLogQuery
from c360.api.graphql.contact import ContactMutation, ContactQuery
from c360.api.graphql.context import Context
from c360.api.graphql.identity import Mutation
from c360.api.graphql.keys import KeyMutation, KeyQuery
from c360.api.graphql.kpis import KpiQueryType
from c360.api.graphql.limits import (
    CachedDocuments,
    OneOperation,
    QueryCostLimiter,
    ShapeLimiter,
)
from c360.api.graphql.operations import LookupLimiter, OperationAudit, OperationMetrics
from c360.api.graphql.scalars import PURPOSE_SCALAR, Purpose
from c360.api.graphql.types import (
    TIMELINE_TYPES,
    IdentifierType,
    InvalidInputError,
    NotFoundError,
    PageInfo,
    Profile,
    ProfileConnection,
    ProfileEdge,
    ProfileResult,
)
from c360.audit.service import Action
from c360.auth.service import Permission
from c360.errors import C360Error, InvalidInput, NotFound
from c360.profiles.service import ProfileNotFound


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
        doc = await info.context.profiles.load(str(id))  # batched across the query
        if doc is None:
            return _as_error(ProfileNotFound(f"no profile with id {str(id)!r}"))
        return Profile.from_doc(doc)

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
        asked = f"{type.value}:{source}:{value}" if source else f"{type.value}:{value}"
        try:
            doc = await info.context.services.profiles.by_identifier(type, value, source)
        except C360Error as exc:
            info.context.audit.add(Action.LOOKUP, "profileByIdentifier", detail=asked)
            return _as_error(exc)
        info.context.audit.add(Action.LOOKUP, "profileByIdentifier", [doc["_id"]], detail=asked)
        return Profile.from_doc(doc)

    @strawberry.field(
        description=(
            "Profiles by a name, e-mail or phone number, or their beginning: 'ana gar', "
            "'ana@exa', '+34 611', '611 22' (national numbers read in the default region). "
            "Keys that read contact points masked (marketing) find e-mail addresses and phone "
            "numbers whole only; names by their beginning for every role."
        )
    )
    async def search_profiles(
        self, info: Info[Context, None], text: str, first: int = 20, after: str | None = None
    ) -> ProfileConnection:
        caller = info.context.caller
        masked = caller is None or not caller.may(Permission.CONTACT_POINTS)
        try:
            page = await info.context.services.profiles.search(
                text, first=first, after=after, whole_contact_points=masked
            )
        except C360Error:
            info.context.audit.add(Action.LOOKUP, "searchProfiles", detail=text)
            raise
        found = [doc["_id"] for doc in page.profiles] or [None]
        info.context.audit.add(Action.LOOKUP, "searchProfiles", found, detail=text)
        edges = [
            ProfileEdge(cursor=doc["_id"], node=Profile.from_doc(doc)) for doc in page.profiles
        ]
        return ProfileConnection(
            edges=edges,
            page_info=PageInfo.after(edges, page.has_next_page),
        )


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


class _Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logs server faults only: a refused field, a bad cursor or a syntax error is the
        client's, answered in the response."""
        super().process_errors([e for e in errors if _is_fault(e)], execution_context)


def _is_fault(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False  # the document or its variables
    return not isinstance(original, C360Error) or original.status_code >= 500


def build_schema(max_depth: int, max_tokens: int, max_cost: int | None = None) -> strawberry.Schema:
    """The schema with its operation limits; a query over them is refused before it runs.
    Without ``max_cost``, cost is not limited (the SDL, tests of the schema alone)."""
    limits: list[Callable[[], SchemaExtension]] = [
        lambda: ShapeLimiter(max_depth=max_depth),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
    ]
    if max_cost is not None:
        limits.append(lambda: QueryCostLimiter(max_cost=max_cost))
    schema = _Schema(
        query=merge_types("Query", (Query, ContactQuery, KeyQuery, AuditLogQuery, KpiQueryType)),
        mutation=merge_types("Mutation", (Mutation, ContactMutation, KeyMutation)),
        types=list(TIMELINE_TYPES),
        # CachedDocuments last, after OneOperation: repeated texts skip parsing and validation.
        extensions=[
            OperationMetrics,
            OneOperation,
            *limits,
            LookupLimiter,
            OperationAudit,
            ErrorCodes,
            CachedDocuments,
        ],
        config=StrawberryConfig(scalar_map={Purpose: PURPOSE_SCALAR}),
    )
    # Strawberry keeps the graphql-core schema it built in _schema (it has no public name).
    undeclared = undeclared_text_fields(schema._schema)
    if undeclared:
        # Each text field says who reads it and how: a new one cannot leak by default.
        raise TypeError(f"text fields without an access rule or public(): {undeclared}")
    fast_masking(schema._schema)
    return schema


def render_sdl() -> str:
    """The schema's SDL (the limits do not change it)."""
    return build_schema(max_depth=1, max_tokens=1).as_str() + "\n"
