"""Expected failures are part of the schema: the ``Error`` interface and its types."""

from __future__ import annotations

import strawberry

from c360.api.graphql.access import in_text, public
from c360.auth.service import Forbidden
from c360.errors import C360Error, InvalidInput, NotFound


@strawberry.interface(description="An expected failure, returned as data.")
class Error:
    message: str = strawberry.field(extensions=in_text())  # may repeat what it refuses
    code: str = strawberry.field(metadata=public("an error class name"))


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


ExpectedError = ForbiddenError | ConflictError | NotFoundError | InvalidInputError


def as_error(exc: C360Error) -> ExpectedError:
    """Expected failures as typed results; anything else is a server error."""
    if isinstance(exc, Forbidden):
        return ForbiddenError(message=exc.detail, code=exc.code)
    if isinstance(exc, NotFound):
        return NotFoundError(message=exc.detail, code=exc.code)
    if isinstance(exc, InvalidInput):
        return InvalidInputError(message=exc.detail, code=exc.code)
    if exc.status_code == 409:
        return ConflictError(message=exc.detail, code=exc.code)
    raise exc
