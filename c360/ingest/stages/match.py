"""Stage ``match``: the profiles whose people changed (new and amended person records, those an
unfinished run of the batch wrote, and the survivors of its merges, which hold the absorbed
profiles' people now) compared afresh with their likely twins (:mod:`c360.identity.match_service`):
merged above the automatic threshold, suggested between the thresholds."""

from __future__ import annotations

from c360.identity.match_service import Matcher
from c360.ingest.batch import Batch
from c360.ingest.stages.base import Stage


class Match(Stage):
    name = "match"
    journalled = True

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher

    async def run(self, batch: Batch) -> None:
        people = batch.people()
        redone = {d["profile_id"] for d in batch.redone if "profile_id" in d}
        await self._matcher.evaluate(
            {d["profile_id"] for d in people if "profile_id" in d} | batch.survivors,
            batch.now,
            again=redone | (batch.survivors if batch.rerun else set()),
        )
