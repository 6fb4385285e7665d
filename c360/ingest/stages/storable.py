"""Stage ``check storable``: each record's document drafted, and the items whose records the
store cannot hold refused whole, with the path to the value (:mod:`c360.ingest.storable`),
before anything of the batch is linked or written."""

from __future__ import annotations

from c360.ingest.batch import Batch, Entry
from c360.ingest.stages.base import Stage
from c360.ingest.storable import refuse_unstorable
from c360.records.documents import draft_document


class CheckStorable(Stage):
    name = "check storable"

    async def run(self, batch: Batch) -> None:
        now = batch.now
        kept, drafts, refused = refuse_unstorable(
            batch.parsed, lambda record: draft_document(record, now)
        )
        batch.errors += refused
        batch.entries += [Entry.of(item, draft) for item, draft in zip(kept, drafts, strict=True)]
