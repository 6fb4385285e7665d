"""Keeping each profile's aggregate equal to the fold of its records, at ingest and after.

Ingest reads the aggregates of the profiles a batch's records go to before it writes them
(:meth:`MetricsService.current`), then folds the records' contributions in, each aggregate
replaced only if it is still at the version read (:meth:`MetricsService.fold`): one read and
one write per batch. Any other write in between — a concurrent batch's fold, a recomputation,
which may or may not have seen the batch's records — raises the version, and the batch then
recomputes that profile from its records instead. So the aggregate is right whatever
interleaves. A batch that died between writing its records and folding them in is found in the
ingest journal, which names the profiles it was to fold into, by the next run (see
:mod:`c360.ingest.service`), or repaired by ``c360 profiles recompute``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from c360.metrics.aggregate import Aggregate, aggregate
from c360.metrics.figures import Metrics, Summary, convert, metrics, net_value
from c360.metrics.repository import (
    AggregateWrite,
    MetricsRepository,
    StoredAggregate,
    StoredLedger,
)
from c360.profiles.lifecycle import (
    ChurnRisk,
    Stage,
    Thresholds,
    Tier,
    churn_risk,
    lifecycle,
    value_tier,
)
from c360.profiles.repository import ProfileRepository
from c360.records.repository import RecordRepository
from c360.records.types import Record

_MAX_ROUNDS = 20
_CUTOFFS_TTL_S = 300.0
_MAX_OPEN_CASES = 50
_PROFILES_A_READ = 32
"""Profiles whose records a recomputation reads at once (one round trip, a bounded memory)."""


@dataclass(frozen=True)
class MetricsConfig:
    """Made from the settings by the wiring (``c360.services.metrics_config``), which hold the
    defaults."""

    reporting_currency: str
    rates: Mapping[str, Decimal] | None
    thresholds: Thresholds
    tier_percentiles: Sequence[float]
    recent_case_days: int
    past_problems: int


@dataclass(frozen=True)
class ProfileView:
    """What the profile 360 shows beyond identity: metrics and the rules' verdicts."""

    metrics: Metrics
    stage: Stage
    tier: Tier
    churn: ChurnRisk


class MetricsService:
    def __init__(
        self,
        metrics: MetricsRepository,
        records: RecordRepository,
        profiles: ProfileRepository,
        config: MetricsConfig,
    ) -> None:
        self._metrics = metrics
        self._records = records
        self._profiles = profiles
        self._config = config
        self._cutoffs: tuple[float, list[int]] | None = None
        self._cutoffs_lock = asyncio.Lock()

    # --- keeping aggregates -------------------------------------------------------------------

    async def current(self, profile_ids: Iterable[str]) -> dict[str, StoredAggregate | None]:
        """The stored aggregates of these profiles (None: none yet), read before a batch
        writes records to them: what its :meth:`fold` adds to."""
        wanted = set(profile_ids)
        stored = await self._metrics.get_many(wanted, ledger=True)
        return {p: stored.get(p) for p in wanted}

    async def fold(
        self,
        current: Mapping[str, StoredAggregate | None],
        added: Mapping[str, Aggregate],
        recompute: Iterable[str] = (),
    ) -> None:
        """After a batch's records are written: fold what they add into each profile's
        aggregate as read before (``current``), all in one round trip, each only if still at
        that version; recompute from scratch the profiles told to, those not read before, and
        those another write reached first. The aggregates read are folded into in place (they
        were read for this fold: copying a long history would cost more than the fold)."""
        redo = set(recompute)
        writes = []
        for profile_id in sorted(set(added) - redo):
            if profile_id not in current:
                redo.add(profile_id)
                continue
            stored = current[profile_id]
            if stored is None:
                total = added[profile_id]
            else:
                total = stored.aggregate.fold(added[profile_id])
            writes.append(self._write(profile_id, total, stored))
        redo |= await self._metrics.write(writes)
        await self.recompute(redo)

    async def recompute(self, profile_ids: Iterable[str]) -> None:
        """Each profile's aggregate from its records, from scratch (a few round trips for all,
        and one read of records per 32 profiles). An absorbed profile has no aggregate of its
        own: its document is removed."""
        todo = set(profile_ids)
        for _ in range(_MAX_ROUNDS):
            if not todo:
                return
            stored, found = await asyncio.gather(
                self._metrics.get_many(todo), self._profiles.get_many(todo)
            )
            profiles = {p.id: p for p in found}
            live = sorted(p for p in todo if p in profiles and profiles[p].merged_into is None)
            gone = [stored[p] for p in sorted(todo) if p not in live and p in stored]
            writes = []
            for start in range(0, len(live), _PROFILES_A_READ):
                chunk = live[start : start + _PROFILES_A_READ]
                records = await self._records.of_profiles(chunk)
                for profile_id in chunk:
                    aggregated = aggregate(records[profile_id])
                    writes.append(self._write(profile_id, aggregated, stored.get(profile_id)))
            todo = await self._metrics.write(writes)
            if gone and await self._metrics.delete(gone) < len(gone):
                todo |= {s.profile_id for s in gone}
        if todo:
            raise RuntimeError(f"aggregates kept changing while recomputed: {sorted(todo)}")

    async def stored_ids(self) -> list[str]:
        return await self._metrics.all_ids()

    def _write(
        self, profile_id: str, agg: Aggregate, stored: StoredAggregate | None
    ) -> AggregateWrite:
        net = net_value(agg)
        ltv = None
        if net:
            ltv, _ = convert(net, self._config.reporting_currency, self._config.rates or {})
        return AggregateWrite(
            profile_id, agg, stored.version if stored else None, ltv, Summary.of(agg)
        )

    # --- reading ------------------------------------------------------------------------------

    async def aggregates(self, profile_ids: Sequence[str]) -> list[Aggregate]:
        """Each profile's aggregate, in the order asked (a DataLoader's batch function)."""
        stored = await self._metrics.get_many(profile_ids)
        return [found.aggregate if (found := stored.get(p)) else Aggregate() for p in profile_ids]

    async def view(
        self,
        agg: Aggregate,
        last_seen: dt.datetime | None,
        now: dt.datetime,
        cutoffs: Sequence[int] | None = None,
    ) -> ProfileView:
        """The figures, stage, tier and churn risk; the tier by ``cutoffs`` when given (a report
        takes them once, fresh), else by the cached ones."""
        config = self._config
        current = metrics(
            agg,
            now,
            reporting_currency=config.reporting_currency,
            rates=config.rates or {},
            recent_days=config.recent_case_days,
        )
        reported = current.lifetime_value_reporting
        return ProfileView(
            metrics=current,
            stage=lifecycle(current, last_seen, now, config.thresholds),
            tier=value_tier(
                reported.amount if reported else None,
                list(cutoffs) if cutoffs is not None else await self.cutoffs(),
                config.tier_percentiles,
                config.reporting_currency,
                current.unconverted_currencies,
            ),
            churn=churn_risk(current, last_seen, now, config.thresholds),
        )

    def ledgers_on(self, first_day: int, last_day: int) -> AsyncIterator[StoredLedger]:
        """The ledgers with entries on a day of ``[first_day, last_day]`` (UTC epoch days)."""
        return self._metrics.ledgers_on(first_day, last_day)

    async def ledgers(self, profile_ids: Iterable[str]) -> list[StoredLedger]:
        """These profiles' ledgers (those that have one)."""
        return await self._metrics.ledgers(profile_ids)

    async def open_cases(self, profile_ids: Sequence[str]) -> list[list[Record]]:
        """Each profile's unresolved cases, newest first (a DataLoader's batch function)."""
        found = await self._records.cases(profile_ids, closed=False, limit=_MAX_OPEN_CASES)
        return [found[p] for p in profile_ids]

    async def past_problems(self, profile_ids: Sequence[str]) -> list[list[Record]]:
        """Each profile's last resolved cases, newest first (a DataLoader's batch function)."""
        limit = self._config.past_problems
        found = await self._records.cases(profile_ids, closed=True, limit=limit)
        return [found[p] for p in profile_ids]

    async def cutoffs(self, *, fresh: bool = False) -> list[int]:
        """LTV percentiles among buyers, computed at most every five minutes (profiles read
        them on every page), or now when ``fresh`` (a report that must equal a recomputation)."""
        async with self._cutoffs_lock:  # concurrent resolvers wait for one computation
            cached = self._cutoffs
            if fresh or cached is None or time.monotonic() - cached[0] > _CUTOFFS_TTL_S:
                values = await self._metrics.ltv_cutoffs(self._config.tier_percentiles)
                cached = self._cutoffs = (time.monotonic(), values)
            return cached[1]
