"""GraphQL operations of profiles: by id, by any identifier, and search."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from c360.api.graphql.context import Context
from c360.api.graphql.types.profiles import (
    Profile,
    ProfileConnection,
    ProfileEdge,
    ProfileResult,
)
from c360.api.graphql.values import PageInfo
from c360.audit.service import Action
from c360.auth.service import Permission
from c360.errors import C360Error
from c360.profiles.service import MAX_SEARCH_RESULTS, ProfileNotFound
from schemas.identifiers import IdentifierType
from schemas.quoting import shown

SEARCH_FIRST = f"Profiles on this page, 1 to {MAX_SEARCH_RESULTS} (else an InvalidInput error)."


@strawberry.type
class ProfileQuery:
    @strawberry.field(description="A profile by its id.")
    async def profile(self, info: Info[Context, None], id: strawberry.ID) -> ProfileResult:
        profile = await info.context.profiles.load(str(id))  # batched across the query
        if profile is None:
            raise ProfileNotFound(f"no profile with id {shown(str(id))}")
        return Profile.of(profile)

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
            profile = await info.context.services.profiles.by_identifier(type, value, source)
        except C360Error:
            info.context.audit.add(Action.LOOKUP, "profileByIdentifier", detail=asked)
            raise
        info.context.audit.add(Action.LOOKUP, "profileByIdentifier", [profile.id], detail=asked)
        return Profile.of(profile)

    @strawberry.field(
        description=(
            "Profiles by a name, e-mail or phone number, or their beginning: 'ana gar', "
            "'ana@exa', '+34 611', '611 22' (national numbers read in the default region). "
            "Keys that read contact points masked (marketing) find e-mail addresses and phone "
            "numbers whole only; names by their beginning for every role."
        )
    )
    async def search_profiles(
        self,
        info: Info[Context, None],
        text: str,
        first: Annotated[int, strawberry.argument(description=SEARCH_FIRST)] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The previous page's endCursor.")
        ] = None,
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
        found: list[str | None] = [p.id for p in page.profiles] or [None]
        info.context.audit.add(Action.LOOKUP, "searchProfiles", found, detail=text)
        edges = [ProfileEdge(cursor=p.id, node=Profile.of(p)) for p in page.profiles]
        return ProfileConnection(
            edges=edges,
            page_info=PageInfo.after(edges, page.has_next_page),
        )
