"""GraphQL types of identity resolution: identifiers, the merge ledger, match suggestions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from c360.api.graphql.access import MaskedWithout, in_text, public
from c360.api.graphql.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from c360.auth.service import Permission
from c360.identity.types import MergeEntry, Suggestion
from c360.profiles.types import ProfileIdentifier
from c360.records.types import RecordIdentifier
from schemas.identifiers import IdentifierType

_IDS = public("profile and ledger ids made by c360")


@strawberry.type
class Identifier:
    type: IdentifierType
    value: str = strawberry.field(extensions=[MaskedWithout(Permission.CONTACT_POINTS)])
    source: str | None = strawberry.field(extensions=in_text())
    first_seen_at: dt.datetime | None
    profile_id: strawberry.Private[str | None] = None  # whose it is, for the access audit

    @classmethod
    def of(cls, identifier: ProfileIdentifier) -> Identifier:
        """One of a profile's identifiers."""
        return cls(
            type=identifier.type,
            value=identifier.value,
            source=identifier.source,
            first_seen_at=identifier.first_seen_at,
            profile_id=identifier.profile_id,
        )

    @classmethod
    def carried(cls, identifier: RecordIdentifier, profile_id: str | None) -> Identifier:
        """An identifier a record carried (when it was first seen is the identity's)."""
        return cls(
            type=identifier.type,
            value=identifier.value,
            source=identifier.source,
            first_seen_at=None,
            profile_id=profile_id,
        )


@strawberry.type(description="A merge from the ledger, and its undoing if it was undone.")
class Merge:
    id: strawberry.ID = strawberry.field(metadata=_IDS)
    survivor_id: strawberry.ID = strawberry.field(metadata=_IDS)
    absorbed_id: strawberry.ID = strawberry.field(metadata=_IDS)
    rule: str = strawberry.field(metadata=public("a rule name"))
    actor: str = strawberry.field(extensions=in_text())
    reason: str | None = strawberry.field(extensions=in_text())
    status: str = strawberry.field(metadata=public("started, done, undoing or undone"))
    merged_at: dt.datetime | None
    undone_at: dt.datetime | None
    moved_identifiers: list[str] = strawberry.field(extensions=in_text())

    @classmethod
    def of(cls, entry: MergeEntry) -> Merge:
        return cls(
            id=strawberry.ID(entry.id),
            survivor_id=strawberry.ID(entry.survivor),
            absorbed_id=strawberry.ID(entry.absorbed),
            rule=entry.rule,
            actor=entry.actor,
            reason=entry.reason,
            status=entry.status,
            merged_at=entry.started_at,
            undone_at=entry.undone_at,
            moved_identifiers=list(entry.moved_identities),
        )


@strawberry.type(description="Two profiles that may be one person, for someone to decide.")
class MatchSuggestion:
    id: strawberry.ID = strawberry.field(metadata=_IDS)
    profile_ids: list[strawberry.ID] = strawberry.field(metadata=_IDS)
    reasons: list[str] = strawberry.field(extensions=in_text())
    status: str = strawberry.field(metadata=public("open, accepted or rejected"))

    @classmethod
    def of(cls, suggestion: Suggestion) -> MatchSuggestion:
        return cls(
            id=strawberry.ID(suggestion.id),
            profile_ids=[strawberry.ID(p) for p in suggestion.profiles],
            reasons=list(suggestion.reasons),
            status=suggestion.status,
        )


@strawberry.type(description="What a merge would move (dryRun), without moving anything.")
class MergePreview:
    survivor_id: strawberry.ID = strawberry.field(metadata=_IDS)
    absorbed_id: strawberry.ID = strawberry.field(metadata=_IDS)
    identifiers: list[str] = strawberry.field(extensions=in_text())
    records: int


MergeResult = Annotated[
    MergePreview | Merge | ForbiddenError | ConflictError | NotFoundError | InvalidInputError,
    strawberry.union("MergeResult"),
]
UnmergeResult = Annotated[
    Merge | ForbiddenError | ConflictError | NotFoundError | InvalidInputError,
    strawberry.union("UnmergeResult"),
]
SuggestionResult = Annotated[
    MatchSuggestion | ForbiddenError | ConflictError | NotFoundError | InvalidInputError,
    strawberry.union("SuggestionResult"),
]
