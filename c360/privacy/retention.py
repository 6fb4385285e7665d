"""Retention: records of a kind older than its window (``C360_RETENTION_DAYS``) are removed,
and the profiles that held them are
recomputed, so their metrics stay equal to a recomputation over what is left. Dead letters
have a window of their own (by their latest rejection).

Every step can run twice. A run cut short between deleting a page and recomputing its
profiles leaves those profiles' metrics counting what is gone until ``c360 profiles recompute``
(the pages are a thousand records: the window is short, and said in the README).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from c360.privacy.repository import RetentionRepository
from c360.profiles.service import ProfileService

log = logging.getLogger(__name__)

DEAD_LETTERS = "dead_letters"
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
        repair_after: dt.timedelta,
    ) -> None:
        self._repository = repository
        self._profiles = profiles
        self._windows = dict(windows)
        self._repair_after = repair_after

    @property
    def configured(self) -> bool:
        return bool(self._windows)

    async def apply(self, now: dt.datetime) -> Pruned:
        pruned = Pruned()
        metrics = self._profiles.metrics
        for kind, days in sorted(self._windows.items()):
            before = now - dt.timedelta(days=days)
            if kind == DEAD_LETTERS:
                pruned.removed[kind] = await self._repository.prune_dead_letters(before)
                continue
            removed = 0
            while page := await self._repository.expired(kind, before):
                profiles = {p for _, p in page if p is not None}
                await self._repository.delete_records(page)
                await metrics.recompute(profiles)
                for profile_id in sorted(profiles):
                    await self._profiles.recompute_activity(profile_id)
                pruned.profiles += len(profiles)
                removed += len(page)
            pruned.removed[kind] = removed
        if any(pruned.removed.values()):
            log.info("retention applied", extra={"removed": pruned.removed})
        return pruned
