"""Stage ``index names``: new and amended person records made findable by their names' words,
and those an unfinished run of the batch wrote (duplicates now, their index unsure). Only the
amended and unsure ones have earlier words to replace: new ones are indexed without looking."""

from __future__ import annotations

from c360.ingest.batch import Batch
from c360.ingest.stages.base import Stage
from c360.profiles.service import ProfileService
from c360.records.documents import stored_record


class IndexNames(Stage):
    name = "index names"
    journalled = True

    def __init__(self, profiles: ProfileService) -> None:
        self._profiles = profiles

    async def run(self, batch: Batch) -> None:
        # A record the batch inserted was never stored before: it has no earlier words.
        first = {e.record_id for e in batch.inserts if e.kind == "person"}
        await self._profiles.index_names([stored_record(doc) for doc in batch.people()], first)
