"""GraphQL operations of the one search box: ``findProfiles`` reads what an agent was told (a
name, an e-mail address, a phone number, an order number or id, a ticket id) and answers the
profiles it finds, each with what it was found by and, for a reference, the record that
carries it."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from c360.api.graphql.context import Context
from c360.api.graphql.types.lookup import ProfileMatch, ProfileMatches
from c360.audit.service import Action
from c360.auth.service import Permission
from c360.errors import C360Error
from c360.lookup.service import FindBy
from c360.profiles.service import MAX_SEARCH_RESULTS


@strawberry.type
class LookupQuery:
    @strawberry.field(
        description=(
            "Profiles by whatever the customer gave: a name, an e-mail address, a phone number "
            "written any way, an order number ('#1042', '1042') or order id, a ticket id. The "
            "text's shape says what it can be (`by` narrows it: a screen pop knows it has a "
            "ticket id); references are found first, each with the record that carries it. "
            "Names, addresses and numbers are found as by searchProfiles (whole addresses and "
            "numbers only for keys that read contact points masked). Order and ticket ids are "
            "those of the sources in C360_REFERENCE_SOURCES."
        )
    )
    async def find_profiles(
        self,
        info: Info[Context, None],
        text: str,
        by: list[FindBy] | None = None,
        first: Annotated[
            int,
            strawberry.argument(
                description=f"Matches to answer, 1 to {MAX_SEARCH_RESULTS} (else an "
                "InvalidInput error); hasMore says there were more."
            ),
        ] = 20,
    ) -> ProfileMatches:
        caller = info.context.caller
        masked = caller is None or not caller.may(Permission.CONTACT_POINTS)
        try:
            found = await info.context.services.lookup.find(
                text, by=by, first=first, whole_contact_points=masked
            )
        except C360Error:
            info.context.audit.add(Action.LOOKUP, "findProfiles", detail=text)
            raise
        profiles: list[str | None] = [m.profile.id for m in found.matches] or [None]
        info.context.audit.add(Action.LOOKUP, "findProfiles", profiles, detail=text)
        return ProfileMatches(
            matches=[ProfileMatch.of(m) for m in found.matches], has_more=found.has_more
        )
