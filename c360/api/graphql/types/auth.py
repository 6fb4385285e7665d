"""GraphQL types of API keys (admin): never a secret but at its creation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from c360.api.graphql.access import public
from c360.api.graphql.errors import ForbiddenError, InvalidInputError, NotFoundError
from c360.auth import types as auth
from c360.auth.types import Role

strawberry.enum(Role)


@strawberry.type(description="An API key; never its secret, of which only a hash is stored.")
class ApiKey:
    id: strawberry.ID = strawberry.field(metadata=public("admin only (manageKeys)"))
    name: str = strawberry.field(metadata=public("admin only (manageKeys)"))
    role: Role
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, key: auth.ApiKey) -> ApiKey:
        return cls(
            id=strawberry.ID(key.id),
            name=key.name,
            role=key.role,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


@strawberry.type(description="A new key. `key` is shown only in this answer: store it safely.")
class NewApiKey:
    api_key: ApiKey
    key: str = strawberry.field(metadata=public("admin only (manageKeys)"))


CreateApiKeyResult = Annotated[
    NewApiKey | ForbiddenError | InvalidInputError, strawberry.union("CreateApiKeyResult")
]
RevokeApiKeyResult = Annotated[
    ApiKey | ForbiddenError | NotFoundError, strawberry.union("RevokeApiKeyResult")
]
