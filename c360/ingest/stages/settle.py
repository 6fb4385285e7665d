"""Stage ``settle merges``: the merges that absorbed any of the batch's profiles run again. A
worker that linked records or claimed identifiers to a profile while another was absorbing it
may have written them after the repointing, and its fold may have made an aggregate for the
absorbed profile: running the merge's idempotent steps again moves them to the survivor. After
the fold, so that nothing this batch writes comes after it."""

from __future__ import annotations

from c360.identity.merge import MergeService
from c360.ingest.batch import Batch
from c360.ingest.stages.base import Stage


class SettleMerges(Stage):
    name = "settle merges"
    journalled = True

    def __init__(self, merges: MergeService) -> None:
        self._merges = merges

    async def run(self, batch: Batch) -> None:
        await self._merges.settle(batch.linked_profiles, batch.now)
