"""GraphQL operations of identity resolution: the admin's merge, unmerge and review."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from c360.api.graphql.access import Requires
from c360.api.graphql.context import Context
from c360.api.graphql.types.identity import (
    MatchSuggestion,
    Merge,
    MergePreview,
    MergeResult,
    SuggestionResult,
    UnmergeResult,
)
from c360.auth.service import Permission


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(
        description=(
            "Merge absorbedId into survivorId (admin). dryRun previews what would move. "
            "Refused for two customers of one source. Undo with unmergeProfile."
        ),
        extensions=[Requires(Permission.MERGE)],
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
        if dry_run:
            preview = await merges.preview(str(survivor_id), str(absorbed_id))
            return MergePreview(
                survivor_id=survivor_id,
                absorbed_id=absorbed_id,
                identifiers=list(preview.identities),
                records=preview.records,
            )
        entry = await merges.merge(
            str(survivor_id),
            str(absorbed_id),
            actor=info.context.actor,
            reason=reason,
            now=info.context.now,
        )
        return Merge.of(entry)

    @strawberry.mutation(
        description="Undo a merge (admin): both profiles as if never merged.",
        extensions=[Requires(Permission.MERGE)],
    )
    async def unmerge_profile(
        self, info: Info[Context, None], merge_id: strawberry.ID, reason: str
    ) -> UnmergeResult:
        entry = await info.context.services.merges.unmerge(
            str(merge_id), info.context.now, actor=info.context.actor, reason=reason
        )
        info.context.audit.acts_on(str(info.path.key), entry.survivor, entry.absorbed)
        return Merge.of(entry)

    @strawberry.mutation(
        description="Accept (merge; the older survives) or reject (never suggest again).",
        extensions=[Requires(Permission.MERGE)],
    )
    async def resolve_match_suggestion(
        self, info: Info[Context, None], id: strawberry.ID, accept: bool
    ) -> SuggestionResult:
        resolved = await info.context.services.merges.resolve_suggestion(
            str(id), accept, actor=info.context.actor, now=info.context.now
        )
        info.context.audit.acts_on(str(info.path.key), *resolved.profiles)
        return MatchSuggestion.of(resolved)
