"""GraphQL types of the one search box: a profile a search found, what found it, and the
record a reference named."""

from __future__ import annotations

import strawberry

from c360.api.graphql.types.profiles import Profile
from c360.api.graphql.types.timeline import TimelineItem, timeline_item
from c360.lookup.service import FindBy, Match

strawberry.enum(FindBy, name="FindBy", description="What a search text was read as.")


@strawberry.type(description="A profile a search found, and how.")
class ProfileMatch:
    profile: Profile
    matched_by: FindBy
    record: TimelineItem | None = strawberry.field(
        description="The order or service case the reference named (null for a name, an "
        "address or a number)."
    )

    @classmethod
    def of(cls, match: Match) -> ProfileMatch:
        return cls(
            profile=Profile.of(match.profile),
            matched_by=match.by,
            record=None if match.record is None else timeline_item(match.record),
        )


@strawberry.type(description="What a search found, best first.")
class ProfileMatches:
    matches: list[ProfileMatch]
    has_more: bool = strawberry.field(description="More matched than `first`: be more precise.")
