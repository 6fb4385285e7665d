"""What each GraphQL operation leaves behind besides its answer: its latency and error codes in
the metrics (``OperationMetrics``), its lookups taken from the caller's lookup bucket before it
runs (``LookupLimiter``), and its name and mutations in the access audit (``OperationAudit``)."""

from __future__ import annotations

import dataclasses
import enum
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_operation_ast,
)
from graphql.execution.values import get_argument_values, get_variable_values
from pymongo.errors import PyMongoError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from c360.api.graphql.context import Context
from c360.api.graphql.errors import INVALID_REQUEST
from c360.audit.service import Action
from c360.auth.ratelimit import Bucket, RateLimited
from c360.errors import C360Error
from c360.observability.metrics import (
    ANONYMOUS,
    GRAPHQL_OPERATIONS,
    count_graphql_error,
    operation_names,
)
from c360.store import store_error

LOOKUP_FIELDS = frozenset({"searchProfiles", "profileByIdentifier", "findProfiles"})
"""Root fields that find people by what someone typed: each takes a lookup token."""
# Arguments naming a profile, as GraphQL names them and as input objects' fields are named.
PROFILE_ARGUMENTS = frozenset(
    {"profileId", "survivorId", "absorbedId", "profile_id", "survivor_id", "absorbed_id"}
)


def error_code(error: GraphQLError) -> str:
    """The ``extensions.code`` an error is answered with (or will be: ``ErrorCodes`` sets it
    for ours); a document's own errors are ``InvalidRequest``, anything else ``InternalError``."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        # At a field, an error that points at no part of the document is graphql-core's
        # failing to answer it (a value its type cannot represent): ours. One that does (an
        # argument's value, checked as the field runs) is the request's, as are those before
        # any field runs (the document, its variables).
        unplaced = original is not None and not original.nodes
        return "InternalError" if error.path and unplaced else INVALID_REQUEST
    if isinstance(original, PyMongoError):
        return store_error(original).code  # the store gone or refusing, not a fault of ours
    return original.code if isinstance(original, C360Error) else "InternalError"


FAULT_MESSAGE = "the server failed to answer this; it is logged with this response's X-Request-Id"


def answered_message(error: GraphQLError) -> str:
    """What the client is told of an error: a store that refused a command in one line, with
    its reason (never the documents a write carried: a bulk write's error lists every one);
    a fault of ours without its text, which may quote what it was working on (the log keeps
    it, with the traceback); anything else as it is."""
    original = error.original_error
    if isinstance(original, PyMongoError):
        return store_error(original).detail
    if error_code(error) == "InternalError" and not (
        original is None or isinstance(original, GraphQLError)
    ):
        return FAULT_MESSAGE
    return error.message


def _operation_type(context: ExecutionContext) -> str:
    try:
        return context.operation_type.value
    except Exception:  # no document, or no operation of that name: a request error
        return "unknown"


def _operation(context: ExecutionContext) -> OperationDefinitionNode | None:
    if context.graphql_document is None:
        return None
    try:
        return get_operation_ast(context.graphql_document, context.operation_name)
    except GraphQLError:
        return None


def _root_fields(
    context: ExecutionContext, operation: OperationDefinitionNode
) -> Iterator[FieldNode]:
    """The root fields an operation selects, through fragments (each walked once)."""
    assert context.graphql_document is not None
    fragments = {
        d.name.value: d
        for d in context.graphql_document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    seen: set[str] = set()
    pending: list[SelectionSetNode] = [operation.selection_set]
    while pending:
        for node in pending.pop().selections:
            if isinstance(node, FieldNode):
                yield node
            elif isinstance(node, InlineFragmentNode):
                pending.append(node.selection_set)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                seen.add(node.name.value)
                fragment = fragments.get(node.name.value)
                if fragment is not None:
                    pending.append(fragment.selection_set)


class OperationMetrics(SchemaExtension):
    """The operation's time by type and name (bounded: see ``BoundedLabel``), and the code of
    every error it answers with."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        refused: GraphQLError | None = None
        try:
            yield
        except GraphQLError as error:
            # A document that did not parse (a syntax error, the token limit): Strawberry
            # answers it after leaving the operation's extensions, throwing it through them.
            refused = error
            raise
        finally:
            self._record(time.perf_counter() - started, refused)

    def _record(self, seconds: float, refused: GraphQLError | None) -> None:
        context = self.execution_context
        name = context.operation_name
        label = ANONYMOUS if name is None else operation_names(name)
        GRAPHQL_OPERATIONS.labels(_operation_type(context), label).observe(seconds)
        result = context.result
        errors = [refused] if refused else (result.errors if result else None) or []
        for error in errors:
            count_graphql_error(error_code(error))


class LookupLimiter(SchemaExtension):
    """Takes one token per lookup field of the operation (``searchProfiles`` and
    ``profileByIdentifier``, aliases too) from the caller's lookup bucket before anything runs:
    a refusal is the whole request's (``429`` with ``Retry-After``, see the HTTP layer)."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        app = context.context
        operation = _operation(context)
        caller = app.caller if isinstance(app, Context) else None
        if context.result is None and operation is not None and caller is not None:
            lookups = sum(
                1 for node in _root_fields(context, operation) if node.name.value in LOOKUP_FIELDS
            )
            if operation.operation.value == "query" and lookups:
                try:
                    await app.services.limits.take(caller, Bucket.LOOKUPS, lookups)
                except C360Error as exc:  # over the limit or the burst, or no store to ask
                    extensions: dict[str, Any] = {"code": exc.code}
                    if isinstance(exc, RateLimited):
                        extensions["retryAfter"] = exc.retry_after_s
                        if app.request is not None:
                            app.request.state.rate_limited = exc
                    error = GraphQLError(exc.detail, extensions=extensions)
                    context.result = ExecutionResult(data=None, errors=[error])
        yield


class OperationAudit(SchemaExtension):
    """Names the operation in the request's audit trail (``query AgentView``), and puts every
    mutation field of it there, with its arguments (confirmation tokens left out) and the
    profiles they name."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        app = context.context
        operation = _operation(context)
        if operation is None or not isinstance(app, Context):  # no request: the schema alone
            yield
            return
        kind = operation.operation.value
        app.audit.operation = f"{kind} {context.operation_name or ANONYMOUS}"
        yield
        if kind != "mutation":
            return  # attempts count: a refused mutation is audited as one that ran
        root = context.schema._schema.mutation_type
        definitions = operation.variable_definitions or ()
        coerced = get_variable_values(
            context.schema._schema, definitions, dict(context.variables or {})
        )
        variables = coerced if not isinstance(coerced, list) else None
        for node in _root_fields(context, operation):
            definition = root.fields.get(node.name.value) if root is not None else None
            arguments: Mapping[str, Any] = {}
            if definition is not None and variables is not None:
                try:
                    arguments = get_argument_values(definition, node, variables)
                except GraphQLError:
                    arguments = {}
            plain = _plain(arguments)
            key = node.alias.value if node.alias else node.name.value
            named = _profile_ids(plain) | app.audit.acted_on.get(key, set())
            profiles: list[str | None] = [*sorted(named)] or [None]
            app.audit.add(
                Action.MUTATION,
                node.name.value,
                profiles,
                detail=json.dumps(plain, sort_keys=True, default=str),
            )


def _plain(value: Any) -> Any:
    """Arguments as JSON-able values (input objects are Strawberry dataclasses)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _profile_ids(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PROFILE_ARGUMENTS and isinstance(item, str):
                found.add(item)
            else:
                found |= _profile_ids(item)
    elif isinstance(value, list):
        for item in value:
            found |= _profile_ids(item)
    return found
