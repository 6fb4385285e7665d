"""Keeping each profile's aggregate equal to the fold of its records, at ingest and after.

Ingest announces a batch on the profiles it touches (a token in ``pending``), writes the
records, then folds their contributions in and removes its token in one versioned replace.
A from-scratch recomputation clears every token it finds: a batch whose token is gone
recomputes instead of folding, since the recomputation may or may not have seen its records.
So the aggregate is right whatever interleaves, and a batch that crashed between writing and
folding leaves its token behind for the next run (or ``c360 profiles recompute``) to repair.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from c360.profiles.lifecycle import (
    ChurnRisk,
    Stage,
    Thresholds,
    Tier,
    churn_risk,
    lifecycle,
    value_tier,
)
from c360.profiles.metrics import (
    Aggregate,
    Metrics,
    aggregate,
    convert,
    epoch_ms,
    metrics,
    net_value,
)
from c360.profiles.repository import MetricsRepository, ProfileRepository
from c360.records.repository import RecordRepository
from c360.records.types import Record
from c360.store import Document

_MAX_ROUNDS = 20
_CUTOFFS_TTL_S = 300.0
_KEPT_FOLDED = 20
_MAX_OPEN_CASES = 50


@dataclass(frozen=True)
class MetricsConfig:
    reporting_currency: str = "EUR"
    rates: Mapping[str, Decimal] | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    tier_percentiles: Sequence[float] = (0.5, 0.8, 0.95)
    recent_case_days: int = 90
    past_problems: int = 5


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

    @staticmethod
    def new_token(now: dt.datetime) -> str:
        """A batch's token: when it started, and a random part."""
        return f"{epoch_ms(now)}:{secrets.token_hex(6)}"

    async def announce(self, profile_ids: Iterable[str], token: str) -> None:
        """Before a batch's records are written to these profiles."""
        await self._metrics.announce(profile_ids, token, _token_time(token))

    async def fold(
        self,
        token: str,
        profile_ids: Iterable[str],
        added: Mapping[str, Aggregate],
        recompute: Iterable[str] = (),
    ) -> None:
        """After the batch was written: fold what it added into each announced profile (one
        versioned replace per profile, all in one round trip), recomputing where told to or
        where a recomputation took the token away."""
        redo = set(recompute)
        todo = set(profile_ids) - redo
        for _ in range(_MAX_ROUNDS):
            if not todo:
                break
            stored = await self._metrics.get_many(todo)
            writes = []
            for profile_id in sorted(todo):
                doc = stored.get(profile_id)
                if doc is not None and token in doc.get("folded", ()):
                    continue  # written in an earlier round
                if doc is None or token not in doc.get("pending", ()):
                    redo.add(profile_id)  # a recomputation cleared it
                    continue
                agg = Aggregate.from_doc(doc.get("agg")).fold(added.get(profile_id, Aggregate()))
                pending = [t for t in doc["pending"] if t != token]
                folded = [*doc.get("folded", ())[-(_KEPT_FOLDED - 1) :], token]
                new = self._document(profile_id, agg, doc["version"] + 1, pending, folded)
                writes.append((new, doc["version"]))
            done = await self._metrics.replace_all(writes)
            # Every write won, or the losers (and winners, skipped by `folded`) are read again.
            todo = set() if done == len(writes) else {doc["_id"] for doc, _ in writes}
        else:
            redo |= todo
        await self.recompute(redo)

    async def recompute(self, profile_ids: Iterable[str]) -> None:
        """Each profile's aggregate from its records, from scratch; clears pending batches.

        An absorbed profile has no aggregate of its own: its document is removed.
        """
        for profile_id in sorted(set(profile_ids)):
            await self._recompute_one(profile_id)

    async def _recompute_one(self, profile_id: str) -> None:
        for _ in range(_MAX_ROUNDS):
            stored = (await self._metrics.get_many([profile_id])).get(profile_id)
            profile = await self._profiles.get(profile_id)
            if profile is None or profile.merged_into is not None:
                if stored is None or await self._metrics.delete(profile_id, stored["version"]):
                    return
                continue
            agg = aggregate([doc async for doc in self._records.of_profile(profile_id)])
            if stored is None:
                if await self._metrics.create(self._document(profile_id, agg, 1, [])):
                    return
                continue
            doc = self._document(profile_id, agg, stored["version"] + 1, [])
            if await self._metrics.replace_all([(doc, stored["version"])]) == 1:
                return
        raise RuntimeError(f"the aggregate of {profile_id} kept changing while recomputed")

    async def stored_ids(self) -> list[str]:
        return await self._metrics.all_ids()

    async def resume(self, now: dt.datetime, grace: dt.timedelta) -> int:
        """Recompute the profiles whose batches were announced before ``now - grace`` and never
        folded in (their worker died); returns how many."""
        stale = await self._metrics.stale(epoch_ms(now - grace))
        await self.recompute(stale)
        return len(stale)

    def _document(
        self,
        profile_id: str,
        agg: Aggregate,
        version: int,
        pending: list[str],
        folded: list[str] | None = None,
    ) -> Document:
        doc: Document = {"_id": profile_id, "version": version, "agg": agg.to_doc()}
        if folded:  # the last batches folded in, so a batch can tell its write won
            doc["folded"] = folded
        # Always an array, even empty: the embedded server's $addToSet does not create a
        # missing array on an existing document.
        doc["pending"] = pending
        if pending:  # the sparse index holds only profiles waiting for a batch
            doc["pending_since_ms"] = min(_token_time(t) for t in pending)
        net = net_value(agg)
        if net:
            ltv, _ = convert(net, self._config.reporting_currency, self._config.rates or {})
            doc["ltv_reporting"] = ltv
        return doc

    # --- reading ------------------------------------------------------------------------------

    async def aggregates(self, profile_ids: Sequence[str]) -> list[Aggregate]:
        """Each profile's aggregate, in the order asked (a DataLoader's batch function)."""
        stored = await self._metrics.get_many(profile_ids)
        return [Aggregate.from_doc((stored.get(p) or {}).get("agg")) for p in profile_ids]

    async def view(
        self, agg: Aggregate, last_seen: dt.datetime | None, now: dt.datetime
    ) -> ProfileView:
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
                await self.cutoffs(),
                config.tier_percentiles,
                config.reporting_currency,
            ),
            churn=churn_risk(current, last_seen, now, config.thresholds),
        )

    async def open_cases(self, profile_ids: Sequence[str]) -> list[list[Record]]:
        """Each profile's unresolved cases, newest first (a DataLoader's batch function)."""
        found = await self._records.cases(profile_ids, closed=False, limit=_MAX_OPEN_CASES)
        return [found[p] for p in profile_ids]

    async def past_problems(self, profile_ids: Sequence[str]) -> list[list[Record]]:
        """Each profile's last resolved cases, newest first (a DataLoader's batch function)."""
        limit = self._config.past_problems
        found = await self._records.cases(profile_ids, closed=True, limit=limit)
        return [found[p] for p in profile_ids]

    async def cutoffs(self) -> list[int]:
        """LTV percentiles among buyers, computed at most every five minutes."""
        async with self._cutoffs_lock:  # concurrent resolvers wait for one computation
            cached = self._cutoffs
            if cached is None or time.monotonic() - cached[0] > _CUTOFFS_TTL_S:
                values = await self._metrics.ltv_cutoffs(self._config.tier_percentiles)
                cached = self._cutoffs = (time.monotonic(), values)
            return cached[1]


def _token_time(token: str) -> int:
    return int(token.split(":", 1)[0])
