"""Absorbing one profile into another, as a journal of idempotent steps.

The journal entry is written first; then identities and records are repointed, the activity
folded in and the absorbed profile marked ``merged_into`` the survivor; then the entry is
closed. Every step can run twice, so a crash anywhere is repaired by running the unfinished
entries again (ingest does so before each run). No multi-document transaction is needed.
"""

from __future__ import annotations

import datetime as dt
import logging

from c360.identity.repository import IdentityRepository, MergeRepository
from c360.profiles.service import ProfileService
from c360.records.repository import RecordRepository
from c360.store import Document

log = logging.getLogger(__name__)


class MergeService:
    def __init__(
        self,
        merges: MergeRepository,
        identities: IdentityRepository,
        records: RecordRepository,
        profiles: ProfileService,
    ) -> None:
        self._merges = merges
        self._identities = identities
        self._records = records
        self._profiles = profiles

    async def absorb(self, absorbed: str, survivor: str, rule: str, now: dt.datetime) -> None:
        entry: Document = {
            "_id": f"{absorbed}>{survivor}",
            "absorbed": absorbed,
            "survivor": survivor,
            "rule": rule,
            "status": "started",
            "started": {"at": now},
        }
        await self._merges.start(entry)
        await self._complete(entry, now)
        log.info(
            "profiles merged", extra={"absorbed": absorbed, "survivor": survivor, "rule": rule}
        )

    async def resume_unfinished(self, now: dt.datetime) -> int:
        """Complete the merges a crashed run left half-done; returns how many."""
        unfinished = await self._merges.unfinished()
        for entry in unfinished:
            await self._complete(entry, now)
        return len(unfinished)

    async def _complete(self, entry: Document, now: dt.datetime) -> None:
        absorbed, survivor = entry["absorbed"], entry["survivor"]
        await self._identities.repoint(absorbed, survivor)
        await self._records.repoint(absorbed, survivor)
        await self._profiles.fold_activity(absorbed, survivor, now)
        await self._profiles.mark_merged(absorbed, survivor)
        await self._merges.finish(entry["_id"], now)
