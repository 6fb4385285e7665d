"""Stage ``merge``: the stored profiles linking found to be one person are merged (each a
journalled merge of idempotent steps, :mod:`c360.identity.merge`, the batch's merges step by
step together), and the pairs it must not merge are opened as match suggestions."""

from __future__ import annotations

from dataclasses import replace

from c360.identity.merge import MergeService
from c360.identity.repository import SuggestionRepository
from c360.ingest.batch import Batch
from c360.ingest.stages.base import Stage


class Merge(Stage):
    name = "merge"
    journalled = True

    def __init__(self, merges: MergeService, suggestions: SuggestionRepository) -> None:
        self._merges = merges
        self._suggestions = suggestions

    async def run(self, batch: Batch) -> None:
        await self._merges.absorb_all(batch.merges, batch.now)
        await self._suggestions.add(batch.suggestions, batch.now)
        # The merges moved the absorbed profiles' stored records to their survivors: a
        # revision the batch saw there is replaced where it is now.
        for entry, seen in batch.replaces:
            if seen.profile_id in batch.merges:
                moved = replace(seen, profile_id=batch.merges[seen.profile_id][0])
                entry.seen = moved
        batch.replaces = [(entry, entry.seen or seen) for entry, seen in batch.replaces]
