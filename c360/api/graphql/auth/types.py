"""GraphQL types of API keys (admin): never a secret but at its creation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry

from c360.api.graphql.access import public
from c360.api.graphql.errors import ForbiddenError, InvalidInputError, NotFoundError
from c360.auth.service import Role

strawberry.enum(Role)


@strawberry.type(description="An API key; never its secret, of which only a hash is stored.")
class ApiKey:
    id: strawberry.ID = strawberry.field(metadata=public("admin only (manageKeys)"))
    name: str = strawberry.field(metadata=public("admin only (manageKeys)"))
    role: Role
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ApiKey:
        return cls(
            id=strawberry.ID(doc["_id"]),
            name=doc["name"],
            role=Role(doc["role"]),
            created_at=doc["created"]["at"],
            revoked_at=doc.get("revoked", {}).get("at"),
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
