"""Stage ``link waiting returns``: returns stored before their order join the order's person
once it arrives — also across concurrent writers: a return this batch stored unlinked whose
order another writer stored meanwhile (after this batch looked for it, and before that writer
looked for waiting returns, which this one had not written yet). Of two such writers, the one
that writes second sees the other's record, so asking again after writing is enough."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from c360.ingest.batch import Batch, spans
from c360.ingest.stages.base import Stage
from c360.ingest.stages.look_up import order_of
from c360.profiles.service import ProfileService
from c360.records.repository import RecordRepository
from c360.store import Document
from schemas import Order, Return


class LinkWaitingReturns(Stage):
    name = "link waiting returns"
    journalled = True

    def __init__(self, profiles: ProfileService, records: RecordRepository) -> None:
        self._profiles = profiles
        self._records = records

    async def run(self, batch: Batch) -> None:
        orders = {
            e.record_id: e.profile_id
            for e in batch.entries
            if isinstance(e.record, Order) and e.profile_id is not None
        }
        if orders:
            waiting = await self._records.unlinked_returns(orders)
            batch.relinked |= await self._link(batch, waiting, orders)
        unlinked = {
            order_of(e.record)
            for e in batch.entries
            if isinstance(e.record, Return) and e.profile_id is None
        }
        if unlinked and (stored := await self._records.profile_of(unlinked)):
            waiting = await self._records.unlinked_returns(stored)
            batch.relinked |= await self._link(batch, waiting, stored)

    async def _link(
        self, batch: Batch, waiting: Sequence[Document], orders: Mapping[str, str]
    ) -> set[str]:
        """Link returns to the profile of their order (order record id → profile id);
        returns the profiles that gained records."""
        if not waiting:
            return set()
        order_of_return = {doc["_id"]: _order_of(doc) for doc in waiting}
        await self._profiles.record_activity(
            spans((orders[order_of_return[d["_id"]]], d["occurred_at"]) for d in waiting),
            batch.now,
        )
        await self._records.link(
            {rid: (orders[order], f"record:{order}") for rid, order in order_of_return.items()}
        )
        return {orders[order] for order in order_of_return.values()}


def _order_of(doc: Document) -> str:
    """The record id of a stored return's order."""
    return f"{doc['source']}:order:{doc['data']['order_external_id']}"
