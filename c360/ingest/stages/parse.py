"""Stage ``parse``: the connector's results for the batch's items, sorted into records, item
errors and ignored items, and the items counted. Pure (the connector parsed them already, in a
worker thread while the batch before was stored)."""

from __future__ import annotations

from c360.ingest.batch import Batch
from c360.ingest.stages.base import Stage
from connectors import Ignored, ItemError, Parsed


class Parse(Stage):
    name = "parse"

    async def run(self, batch: Batch) -> None:
        last: str | None = None
        for result in batch.results:  # an item's results are adjacent and share its position
            if result.position != last:
                batch.items_read += 1
                last = result.position
            if isinstance(result, Parsed):
                batch.parsed.append(result)
            elif isinstance(result, ItemError):
                batch.errors.append(result)
            elif isinstance(result, Ignored):
                batch.ignored.append(result)
