"""GraphQL operations of API keys (admin): list, create and revoke. The secret is shown once,
at creation."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from c360.api.graphql.access import Requires
from c360.api.graphql.context import Context
from c360.api.graphql.types.auth import ApiKey, CreateApiKeyResult, NewApiKey, RevokeApiKeyResult
from c360.auth.service import Permission, Role


@strawberry.type
class KeyQuery:
    @strawberry.field(
        description="Every API key, revoked ones too (admin).",
        extensions=[Requires(Permission.MANAGE_KEYS)],
    )
    async def api_keys(self, info: Info[Context, None]) -> list[ApiKey] | None:
        return [ApiKey.of(k) for k in await info.context.services.keys.all()]


@strawberry.type
class KeyMutation:
    @strawberry.mutation(
        description="Create an API key for a role (admin). `name` says who or what uses it: "
        "one line of at most 100 characters (InvalidInputError otherwise).",
        extensions=[Requires(Permission.MANAGE_KEYS)],
    )
    async def create_api_key(
        self, info: Info[Context, None], role: Role, name: str
    ) -> CreateApiKeyResult:
        key, secret = await info.context.services.keys.create(role, name, info.context.now)
        return NewApiKey(api_key=ApiKey.of(key), key=secret)

    @strawberry.mutation(
        description="Revoke an API key (admin): it stops working at once.",
        extensions=[Requires(Permission.MANAGE_KEYS)],
    )
    async def revoke_api_key(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> RevokeApiKeyResult:
        keys = info.context.services.keys
        await keys.revoke(str(id), info.context.now)
        key = await keys.get(str(id))
        assert key is not None  # it was just revoked
        return ApiKey.of(key)
