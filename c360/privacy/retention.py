"""Retention: records of a kind older than its window (``C360_RETENTION_DAYS``) are removed,
and the profiles that held them are
recomputed, so their metrics stay equal to a recomputation over what is left. Dead letters
have a window of their own (by their latest rejection).

Every step can run twice. Before a page is deleted its profiles are noted as pending
(``retention_pending``) and they are cleared once recomputed, so a run cut short between the
two is completed by the next run, which recomputes what is pending first. In ``c360 serve`` the
hourly run takes a lease (``retention``) so one API process at a time does the work.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from c360.privacy.repository import RetentionRepository
from c360.profiles.service import ProfileService
from c360.steps import StepHook, no_hook
from c360.store.leases import LeaseRepository

log = logging.getLogger(__name__)

DEAD_LETTERS = "dead_letters"
LEASE = "retention"
KEPT_KINDS = frozenset({"person", "consent_change", "preference_change", "contact_point_status"})
"""Record kinds no window applies to: who the person is, and the evidence of their consent
and preferences (which a regulator asks for as long as the person is contacted)."""


@dataclass
class Pruned:
    """What one run removed: records per kind, dead letters, and the profiles recomputed."""

    removed: dict[str, int] = field(default_factory=dict)
    profiles: int = 0


class Retention:
    def __init__(
        self,
        repository: RetentionRepository,
        profiles: ProfileService,
        windows: Mapping[str, int],
        leases: LeaseRepository,
    ) -> None:
        self._repository = repository
        self._profiles = profiles
        self._windows = dict(windows)
        self._leases = leases
        self.before_step: StepHook = no_hook  # tests cut a run short here

    @property
    def configured(self) -> bool:
        return bool(self._windows)

    async def apply_leased(
        self, now: dt.datetime, holder: str, every: dt.timedelta
    ) -> Pruned | None:
        """The periodic run of ``c360 serve``: only while this process holds the lease (kept
        past the next round, so the holder keeps it and the others skip; taken over once a
        holder that died lets it lapse). None when another process holds it."""
        if not await self._leases.take(LEASE, holder, now, every * 1.5):
            return None
        return await self.apply(now)

    async def apply(self, now: dt.datetime) -> Pruned:
        pruned = Pruned()
        # What a run cut short deleted but did not recompute.
        pruned.profiles += await self._recompute(await self._repository.pending())
        for kind, days in sorted(self._windows.items()):
            before = now - dt.timedelta(days=days)
            if kind == DEAD_LETTERS:
                pruned.removed[kind] = await self._repository.prune_dead_letters(before)
                continue
            removed = 0
            while page := await self._repository.expired(kind, before):
                profiles = {p for _, p in page if p is not None}
                await self._repository.note_pending(profiles)
                await self.before_step("delete")
                await self._repository.delete_records(page)
                await self.before_step("recompute")
                pruned.profiles += await self._recompute(profiles)
                removed += len(page)
            pruned.removed[kind] = removed
        if any(pruned.removed.values()):
            log.info("retention applied", extra={"removed": pruned.removed})
        return pruned

    async def _recompute(self, profiles: Iterable[str]) -> int:
        """Recompute the profiles that held deleted records, then clear them from pending."""
        wanted = sorted(set(profiles))
        if not wanted:
            return 0
        await self._profiles.metrics.recompute(wanted)
        for profile_id in wanted:
            await self._profiles.recompute_activity(profile_id)
        await self._repository.clear_pending(wanted)
        return len(wanted)
