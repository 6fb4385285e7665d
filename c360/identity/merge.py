"""Merging and unmerging profiles, each as a journal of idempotent steps.

A merge is written to the ``merges`` ledger first, with the identifiers the absorbed profile
held; then identities and records are repointed, the activity folded in and the absorbed profile
marked ``merged_into`` the survivor; then the entry is closed. An unmerge follows the ledger
back: the absorbed side is those identifiers plus every identifier claimed through them since,
and every record linked through that side (including records that arrived after the merge)
returns with them; both profiles' activity is recomputed and the pair is set apart, so the
same evidence does not merge them again. Every step can run twice, so a crash anywhere is
repaired by running the unfinished entries again (ingest does so before each run).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from c360.errors import C360Error, NotFound
from c360.identity.repository import IdentityRepository, MergeRepository
from c360.profiles.service import ProfileService
from c360.records.repository import RecordRepository
from c360.store import Document

log = logging.getLogger(__name__)


class MergeNotFound(NotFound):
    pass


class MergeNotUndoable(C360Error):
    status_code = 409


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

    async def absorb(
        self,
        absorbed: str,
        survivor: str,
        rule: str,
        now: dt.datetime,
        *,
        actor: str = "ingest",
        reason: str | None = None,
    ) -> str:
        """Merge ``absorbed`` into ``survivor``; returns the ledger entry's id."""
        entry: Document = {
            "_id": f"{absorbed}>{survivor}",
            "absorbed": absorbed,
            "survivor": survivor,
            "rule": rule,
            "actor": actor,
            "status": "started",
            "started": {"at": now},
            "moved_identities": await self._identities.keys_of(absorbed),
        }
        if reason:
            entry["reason"] = reason
        await self._merges.start(entry)
        stored = await self._merges.get(entry["_id"]) or entry  # a resumed entry keeps its list
        await self._complete(stored, now)
        log.info(
            "profiles merged", extra={"absorbed": absorbed, "survivor": survivor, "rule": rule}
        )
        return str(entry["_id"])

    async def unmerge(
        self, merge_id: str, now: dt.datetime, *, actor: str, reason: str | None = None
    ) -> Document:
        """Undo a merge: both profiles as they would be had it never happened."""
        entry = await self._merges.get(merge_id)
        if entry is None:
            raise MergeNotFound(f"no merge {merge_id!r}")
        if entry["status"] not in ("done", "undoing"):
            raise MergeNotUndoable(f"merge {merge_id!r} is {entry['status']}, not done")
        undo = {"actor": actor, "at": now, **({"reason": reason} if reason else {})}
        await self._merges.mark(merge_id, "undoing", {"undo": undo})
        entry = {**entry, "status": "undoing", "undo": undo}
        await self._undo(entry, now)
        log.info("profiles unmerged", extra={"merge": merge_id})
        return entry

    async def settle(self, profile_ids: Iterable[str], now: dt.datetime) -> None:
        """Re-run the merges that absorbed any of these profiles.

        A worker that linked records or claimed identifiers to a profile while another worker
        was absorbing it may have written them after the repointing: running the merge's
        idempotent steps again moves them to the survivor. Called after each batch is written.
        """
        for entry in await self._merges.absorbing(profile_ids):
            await self._complete(entry, now)

    async def resume_unfinished(self, now: dt.datetime) -> int:
        """Complete the merges and unmerges a crashed run left half-done; returns how many."""
        unfinished = await self._merges.unfinished()
        for entry in unfinished:
            if entry["status"] == "undoing":
                await self._undo(entry, now)
            else:
                await self._complete(entry, now)
        return len(unfinished)

    async def _complete(self, entry: Document, now: dt.datetime) -> None:
        absorbed, survivor = entry["absorbed"], entry["survivor"]
        await self._identities.repoint(absorbed, survivor)
        await self._records.repoint(absorbed, survivor)
        await self._profiles.fold_activity(absorbed, survivor, now)
        await self._profiles.mark_merged(absorbed, survivor)
        await self._merges.finish(entry["_id"], now)

    async def _undo(self, entry: Document, now: dt.datetime) -> None:
        absorbed, survivor = entry["absorbed"], entry["survivor"]
        side = set(entry["moved_identities"])
        while grown := set(await self._identities.claimed_via(survivor, side)) - side:
            side |= grown  # identifiers that joined through the absorbed side since
        await self._identities.assign(sorted(side), absorbed)
        links = side | {f"record:{rid}" for rid in await self._records.linked_by(survivor, side)}
        await self._records.assign(await self._records.linked_by(survivor, links), absorbed)
        await self._profiles.unmark_merged(absorbed)
        await self._identities.separate(absorbed, survivor, entry["_id"], now)
        await self._profiles.recompute_activity(absorbed)
        await self._profiles.recompute_activity(survivor)
        await self._merges.mark(entry["_id"], "undone", {"undone": {"at": now}})
