"""The GraphQL schema: every domain's queries and mutations merged, with the operation limits
and checks; the top of the package (see ``__init__``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator

import strawberry
from graphql import GraphQLError
from pymongo.errors import PyMongoError
from strawberry.extensions import MaxTokensLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from c360.api.graphql.access import fast_masking, undeclared_text_fields
from c360.api.graphql.errors import EXCEPTION_HANDLERS, unanswered_refusals
from c360.api.graphql.extensions import (
    LookupLimiter,
    OperationAudit,
    OperationMetrics,
    answered_message,
    error_code,
)
from c360.api.graphql.limits import (
    CachedDocuments,
    OneOperation,
    QueryCostLimiter,
    ShapeLimiter,
)
from c360.api.graphql.operations.audit import AuditLogQuery
from c360.api.graphql.operations.auth import KeyMutation, KeyQuery
from c360.api.graphql.operations.contact import ContactMutation, ContactQuery
from c360.api.graphql.operations.followups import (
    FOLLOW_UP_TYPES,
    FollowUpMutation,
    FollowUpQuery,
)
from c360.api.graphql.operations.identity import IdentityMutation
from c360.api.graphql.operations.kpis import KpiQuery
from c360.api.graphql.operations.lookup import LookupQuery
from c360.api.graphql.operations.privacy import PrivacyMutation, PrivacyQuery
from c360.api.graphql.operations.profiles import ProfileQuery
from c360.api.graphql.types.timeline import TIMELINE_TYPES
from c360.api.graphql.values import (
    DATETIME_SCALAR,
    MINOR_UNITS_SCALAR,
    PURPOSE_SCALAR,
    MinorUnits,
    Purpose,
)
from c360.errors import C360Error
from c360.store import store_error

log = logging.getLogger(__name__)


class ErrorCodes(SchemaExtension):
    """Every error carries an ``extensions.code`` a client can branch on: ours (an error that
    escapes a resolver) their class name, a document's own (its syntax, an unknown field, a
    variable of the wrong type) ``InvalidRequest``, a server fault ``InternalError``; the
    limits set theirs (``QueryTooDeep``…)."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        errors = context.result.errors if context.result else context.pre_execution_errors
        for error in errors or []:
            _set_code(error, error_code(error))
            error.message = answered_message(error)


def _set_code(error: GraphQLError, code: str) -> None:
    error.extensions = {**(error.extensions or {}), "code": code}


class _Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logs server faults only: a refused field, a bad cursor or a syntax error is the
        client's, answered in the response. A store's refusal is logged in a line, without
        the traceback, whose error lists every document a bulk write carried."""
        for error in errors:
            # Called before the extensions answer the error: its message is still the driver's.
            if isinstance(refused := error.original_error, PyMongoError):
                log.error("store refused a command", extra={"reason": store_error(refused).detail})
        super().process_errors([e for e in errors if _is_fault(e)], execution_context)


def _is_fault(error: GraphQLError) -> bool:
    original = error.original_error
    if isinstance(original, PyMongoError):
        return False  # logged in a line above
    if isinstance(original, C360Error):
        return original.status_code >= 500  # the store gone, and the like
    return error_code(error) == "InternalError"


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
        query=merge_types(
            "Query",
            (
                ProfileQuery,
                LookupQuery,
                ContactQuery,
                KeyQuery,
                AuditLogQuery,
                FollowUpQuery,
                PrivacyQuery,
                KpiQuery,
            ),
        ),
        mutation=merge_types(
            "Mutation",
            (IdentityMutation, ContactMutation, KeyMutation, FollowUpMutation, PrivacyMutation),
        ),
        types=[*TIMELINE_TYPES, *FOLLOW_UP_TYPES],
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
        config=StrawberryConfig(
            scalar_map={
                Purpose: PURPOSE_SCALAR,
                MinorUnits: MINOR_UNITS_SCALAR,
                dt.datetime: DATETIME_SCALAR,
            }
        ),
        exception_handlers=EXCEPTION_HANDLERS,
    )
    # Strawberry keeps the graphql-core schema it built in _schema (it has no public name).
    undeclared = undeclared_text_fields(schema._schema)
    if undeclared:
        # Each text field says who reads it and how: a new one cannot leak by default.
        raise TypeError(f"text fields without an access rule or public(): {undeclared}")
    unanswered = unanswered_refusals(schema._schema)
    if unanswered:
        raise TypeError(f"non-null fields with Requires and no ForbiddenError: {unanswered}")
    fast_masking(schema._schema)
    return schema


def render_sdl() -> str:
    """The schema's SDL (the limits do not change it)."""
    return build_schema(max_depth=1, max_tokens=1).as_str() + "\n"
