"""GraphQL for identity resolution: merge history and suggestions, and the admin mutations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from c360.api.graphql.access import Requires, in_text, public
from c360.api.graphql.context import Context
from c360.api.graphql.types import Error, ForbiddenError, InvalidInputError, NotFoundError
from c360.auth.service import Forbidden, Permission
from c360.errors import C360Error, InvalidInput, NotFound
from c360.store import Document

_IDS = public("profile and ledger ids made by c360")


@strawberry.type(description="The request contradicts the current state (e.g. two customers).")
class ConflictError(Error):
    pass


@strawberry.type(description="A merge from the ledger, and its undoing if it was undone.")
class Merge:
    id: strawberry.ID = strawberry.field(metadata=_IDS)
    survivor_id: strawberry.ID = strawberry.field(metadata=_IDS)
    absorbed_id: strawberry.ID = strawberry.field(metadata=_IDS)
    rule: str = strawberry.field(metadata=public("a rule name"))
    actor: str = strawberry.field(extensions=in_text())
    reason: str | None = strawberry.field(extensions=in_text())
    status: str = strawberry.field(metadata=public("merged or undone"))
    merged_at: dt.datetime | None
    undone_at: dt.datetime | None
    moved_identifiers: list[str] = strawberry.field(extensions=in_text())

    @classmethod
    def from_doc(cls, doc: Document) -> Merge:
        return cls(
            id=strawberry.ID(doc["_id"]),
            survivor_id=strawberry.ID(doc["survivor"]),
            absorbed_id=strawberry.ID(doc["absorbed"]),
            rule=doc["rule"],
            actor=doc.get("actor", "ingest"),
            reason=doc.get("reason"),
            status=doc["status"],
            merged_at=doc.get("started", {}).get("at"),
            undone_at=doc.get("undone", {}).get("at"),
            moved_identifiers=list(doc.get("moved_identities", [])),
        )


@strawberry.type(description="Two profiles that may be one person, for someone to decide.")
class MatchSuggestion:
    id: strawberry.ID = strawberry.field(metadata=_IDS)
    profile_ids: list[strawberry.ID] = strawberry.field(metadata=_IDS)
    reasons: list[str] = strawberry.field(extensions=in_text())
    status: str = strawberry.field(metadata=public("open, accepted or rejected"))

    @classmethod
    def from_doc(cls, doc: Document) -> MatchSuggestion:
        return cls(
            id=strawberry.ID(doc["_id"]),
            profile_ids=[strawberry.ID(p) for p in doc["profiles"]],
            reasons=list(doc.get("reasons", [])),
            status=doc["status"],
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


def actor(info: Info[Context, None]) -> str:
    """Who did it, for the ledger: the API key."""
    caller = info.context.caller
    assert caller is not None  # Requires let the call through
    return f"key:{caller.key_id} ({caller.name})"


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Merge absorbedId into survivorId (admin). dryRun previews what would move. "
            "Refused for two customers of one source. Undo with unmergeProfile."
        ),
        extensions=[Requires(Permission.MERGE, refusal=ForbiddenError)],
    )
    async def merge_profiles(
        self,
        info: Info[Context, None],
        survivor_id: strawberry.ID,
        absorbed_id: strawberry.ID,
        reason: str,
        dry_run: bool = False,
    ) -> MergeResult:
        merges = info.context.services.merges
        try:
            if dry_run:
                preview = await merges.preview(str(survivor_id), str(absorbed_id))
                return MergePreview(
                    survivor_id=survivor_id,
                    absorbed_id=absorbed_id,
                    identifiers=preview["identities"],
                    records=preview["records"],
                )
            entry = await merges.merge(
                str(survivor_id),
                str(absorbed_id),
                actor=actor(info),
                reason=reason,
                now=dt.datetime.now(dt.UTC),
            )
        except C360Error as exc:
            return as_error(exc)
        return Merge.from_doc(entry)

    @strawberry.mutation(
        description="Undo a merge (admin): both profiles as if never merged.",
        extensions=[Requires(Permission.MERGE, refusal=ForbiddenError)],
    )
    async def unmerge_profile(
        self, info: Info[Context, None], merge_id: strawberry.ID, reason: str
    ) -> UnmergeResult:
        try:
            entry = await info.context.services.merges.unmerge(
                str(merge_id), dt.datetime.now(dt.UTC), actor=actor(info), reason=reason
            )
        except C360Error as exc:
            return as_error(exc)
        return Merge.from_doc(entry)

    @strawberry.mutation(
        description="Accept (merge; the older survives) or reject (never suggest again).",
        extensions=[Requires(Permission.MERGE, refusal=ForbiddenError)],
    )
    async def resolve_match_suggestion(
        self, info: Info[Context, None], id: strawberry.ID, accept: bool
    ) -> SuggestionResult:
        try:
            doc = await info.context.services.merges.resolve_suggestion(
                str(id), accept, actor=actor(info), now=dt.datetime.now(dt.UTC)
            )
        except C360Error as exc:
            return as_error(exc)
        return MatchSuggestion.from_doc(doc)
