"""GraphQL operations of API keys (admin): list, create and revoke. The secret is shown once,
at creation."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from c360.api.graphql.access import Requires
from c360.api.graphql.auth.types import ApiKey, CreateApiKeyResult, NewApiKey, RevokeApiKeyResult
from c360.api.graphql.context import Context
from c360.api.graphql.errors import InvalidInputError
from c360.auth.service import Permission, Role


@strawberry.type
class KeyQuery:
    @strawberry.field(
        description="Every API key, revoked ones too (admin).",
        extensions=[Requires(Permission.MANAGE_KEYS)],
    )
    async def api_keys(self, info: Info[Context, None]) -> list[ApiKey] | None:
        return [ApiKey.from_doc(d) for d in await info.context.services.keys.all()]


@strawberry.type
class KeyMutation:
    @strawberry.mutation(
        description="Create an API key for a role (admin).",
        extensions=[Requires(Permission.MANAGE_KEYS)],
    )
    async def create_api_key(
        self, info: Info[Context, None], role: Role, name: str
    ) -> CreateApiKeyResult:
        name = name.strip()
        if not name:
            return InvalidInputError(
                message="a key needs a name: who or what uses it", code="InvalidInput"
            )
        now = dt.datetime.now(dt.UTC)
        key_id, key = await info.context.services.keys.create(role, name, now)
        api_key = ApiKey(
            id=strawberry.ID(key_id), name=name, role=role, created_at=now, revoked_at=None
        )
        return NewApiKey(api_key=api_key, key=key)

    @strawberry.mutation(
        description="Revoke an API key (admin): it stops working at once.",
        extensions=[Requires(Permission.MANAGE_KEYS)],
    )
    async def revoke_api_key(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> RevokeApiKeyResult:
        keys = info.context.services.keys
        await keys.revoke(str(id), dt.datetime.now(dt.UTC))
        doc = await keys.get(str(id))
        assert doc is not None  # it was just revoked
        return ApiKey.from_doc(doc)
