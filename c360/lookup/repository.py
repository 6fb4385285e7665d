"""Queries on ``records`` by a reference a customer quotes: an order number, an order id, a
ticket id. None of them says the profile, so each goes to every shard on a sharded cluster (a
deliberate broadcast, see ``c360/store/sharding.py``): one agent's lookup, answered by each
shard's index (``data.order_number``, sparse, for order numbers; ``_id`` for ids)."""

from __future__ import annotations

from collections.abc import Sequence

from c360.records.documents import stored_record
from c360.records.types import Record
from c360.store import Database
from c360.store.bulk import find_each

MAX_RECORDS = 100
"""Records one reference may find (a reference is meant to name a few)."""


class ReferenceRepository:
    def __init__(self, db: Database) -> None:
        self._records = db["records"]

    async def orders_numbered(self, numbers: Sequence[str]) -> list[Record]:
        """Orders whose order number is one of ``numbers`` (as the source wrote it)."""
        docs = await find_each(self._records, "data.order_number", numbers, {"kind": "order"})
        return [stored_record(d) for d in docs[:MAX_RECORDS]]

    async def by_ids(self, record_ids: Sequence[str]) -> list[Record]:
        """Records by their ids (``{source}:{kind}:{external id}``)."""
        if not record_ids:
            return []
        cursor = self._records.find({"_id": {"$in": list(record_ids)}}).limit(MAX_RECORDS)
        return [stored_record(d) async for d in cursor]
