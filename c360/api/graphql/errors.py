"""Expected failures are part of the schema: the ``Error`` interface, its types, and the one
place a service's ``C360Error`` becomes one of them.

A field that may fail declares the failures in its union (``Profile | NotFoundError |
InvalidInputError``) and its resolver just calls the service: ``EXCEPTION_HANDLERS``, given to
the schema, answer an error raised inside it as the union's member for its class — when the
union declares one; otherwise it stays a field error. A refused ``Requires`` field (a
``Forbidden`` error) follows the same rule.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLSchema, GraphQLUnionType, get_nullable_type
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from c360.api.graphql.access import Requires, in_text, public
from c360.auth.service import Forbidden
from c360.errors import C360Error, Conflict, InvalidInput, NotFound

INVALID_REQUEST = "InvalidRequest"
"""The code of a document's own errors: its syntax, an unknown field, a variable of the wrong
type (``extensions.code``, and the errors metric's label)."""


@strawberry.interface(description="An expected failure, returned as data.")
class Error:
    message: str = strawberry.field(  # may repeat what it refuses
        description="What went wrong and, where it can, what to change: a sentence for a person.",
        extensions=in_text(),
    )
    code: str = strawberry.field(
        description="The failure by name, for a program: the type's own (InvalidInput, "
        "NotFound, Forbidden, Conflict) or a narrower kind of it (ProfileNotFound, "
        "InvalidCursor, MergeRefused, …). Switch on __typename; read code to tell kinds of one "
        "type apart. A field error's extensions.code uses the same names.",
        metadata=public("an error class name"),
    )


@strawberry.type(description="Nothing matches what was asked for.")
class NotFoundError(Error):
    pass


@strawberry.type(description="The input cannot be used as given; the message says why.")
class InvalidInputError(Error):
    pass


@strawberry.type(description="The caller's API key lacks the role this needs.")
class ForbiddenError(Error):
    pass


@strawberry.type(description="The request contradicts the current state (e.g. two customers).")
class ConflictError(Error):
    pass


class AsUnionMember:
    """A schema exception handler (Strawberry's ``ExceptionHandler``): ``exception_type``
    raised in a field whose union holds ``error_type`` is answered as that member."""

    def __init__(self, exception_type: type[C360Error], error_type: type[Error]) -> None:
        self.exception_type = exception_type
        self.error_type = error_type

    def handle(self, exception: C360Error, *, field: StrawberryField, info: Info[Any, Any]) -> Any:
        return self.error_type(message=exception.detail, code=exception.code)


EXCEPTION_HANDLERS = (
    AsUnionMember(Forbidden, ForbiddenError),
    AsUnionMember(NotFound, NotFoundError),
    AsUnionMember(InvalidInput, InvalidInputError),
    AsUnionMember(Conflict, ConflictError),
)


def unanswered_refusals(schema: GraphQLSchema) -> list[str]:
    """Non-null fields with ``Requires`` whose union has no ``ForbiddenError`` member: a
    refusal there would null the parent, and with it what the caller may read."""
    unanswered = []
    for name, named in schema.type_map.items():
        for field_name, field in getattr(named, "fields", {}).items():
            definition = (field.extensions or {}).get("strawberry-definition")
            if not isinstance(definition, StrawberryField) or not any(
                isinstance(e, Requires) for e in definition.extensions
            ):
                continue
            if field.type is get_nullable_type(field.type):
                continue  # nullable: a refusal is null and a Forbidden field error
            union = get_nullable_type(field.type)
            members = union.types if isinstance(union, GraphQLUnionType) else ()
            if not any(m.name == ForbiddenError.__name__ for m in members):
                unanswered.append(f"{name}.{field_name}")
    return sorted(unanswered)
