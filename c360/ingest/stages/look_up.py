"""Stage ``look up``: the one read of the store the later stages share — who owns the batch's
identifiers (which are flagged shared, which were claimed through another), the stored
revision of each of its records, and the profiles of the stored orders its returns name. Two
or three queries by ``_id``, in flight together, whatever the batch's size."""

from __future__ import annotations

import asyncio

from c360.identity.repository import IdentityRepository
from c360.ingest.batch import Batch
from c360.ingest.stages.base import Stage
from c360.records.repository import RecordRepository
from schemas import Return


class LookUp(Stage):
    name = "look up"

    def __init__(self, identities: IdentityRepository, records: RecordRepository) -> None:
        self._identities = identities
        self._records = records

    async def run(self, batch: Batch) -> None:
        if not batch.entries:
            return
        keys = {i.key for e in batch.entries if not e.linked for i in e.record.identifiers}
        orders = {order_of(e.record) for e in batch.entries if isinstance(e.record, Return)}
        # Independent reads, in flight together: one round trip's wait for all three.
        batch.known, stored, batch.order_profiles = await asyncio.gather(
            self._identities.lookup(keys),  # none asked: none read
            self._records.revisions(e.record_id for e in batch.entries),
            self._records.profile_of(orders),
        )
        for entry in batch.entries:
            entry.seen = stored.get(entry.record_id)


def order_of(record: Return) -> str:
    """The record id of a return's order."""
    return f"{record.source}:order:{record.order_external_id}"
