"""Stages ``read aggregates`` and ``fold metrics``: the aggregates of the profiles whose
counted records the batch writes are read before it writes them; afterwards their new records'
contributions are folded in (one versioned write per profile, one round trip), and the
profiles whose counted records changed otherwise (an amended revision, a record moved away, a
return linked through its order, a re-run's records) are recomputed from their records
(:mod:`c360.metrics.service`)."""

from __future__ import annotations

from c360.ingest.batch import Batch
from c360.ingest.stages.base import Stage
from c360.metrics.aggregate import Aggregate, contribution
from c360.metrics.repository import StoredAggregate
from c360.metrics.service import MetricsService


class ReadAggregates(Stage):
    name = "read aggregates"
    journalled = True

    def __init__(self, metrics: MetricsService) -> None:
        self._metrics = metrics

    async def run(self, batch: Batch) -> None:
        profiles = {e.profile_id for e in batch.inserts if e.counted and e.profile_id is not None}
        batch.aggregates = await self._metrics.current(profiles)


class FoldMetrics(Stage):
    name = "fold metrics"
    journalled = True

    def __init__(self, metrics: MetricsService) -> None:
        self._metrics = metrics

    async def run(self, batch: Batch) -> None:
        added: dict[str, Aggregate] = {}
        recompute = batch.written.moved_from | batch.relinked | batch.written.recount
        for entry in batch.entries:
            if entry.profile_id is None or entry.outcome == "duplicate" or not entry.counted:
                continue
            if entry.outcome == "updated":
                recompute.add(entry.profile_id)
            elif entry.stored is not None:
                added.setdefault(entry.profile_id, Aggregate()).fold(contribution(entry.stored))
        current: dict[str, StoredAggregate | None] = batch.aggregates
        await self._metrics.fold(current, added, recompute)
