"""Stage ``write``: the batch's profiles created or widened (first and last seen, one upsert
each, in one round trip) while its records are written — each insert only if the record is
still new, each replace only if the stored revision is still the one the batch saw. Records
another writer changed meanwhile are read again and decided again."""

from __future__ import annotations

import asyncio

from c360.ingest.batch import Batch, Entry, spans
from c360.ingest.stages.base import Stage
from c360.ingest.stages.decide import decide_writes
from c360.profiles.service import ProfileService
from c360.records.repository import NOT_ACTIVITY, RecordRepository
from c360.records.types import StoredRevision

_MAX_WRITE_ROUNDS = 10


class Write(Stage):
    name = "write"
    journalled = True

    def __init__(self, profiles: ProfileService, records: RecordRepository) -> None:
        self._profiles = profiles
        self._records = records

    async def run(self, batch: Batch) -> None:
        linked = [(e.profile_id, e) for e in batch.entries if e.profile_id is not None]
        activity = dict.fromkeys(p for p, _ in linked) | spans(
            (p, e.record.occurred_at) for p, e in linked if e.kind not in NOT_ACTIVITY
        )
        # Nothing orders the two: a re-run records the activity of every linked record,
        # duplicates too, so a run cut short between them is completed either way.
        await asyncio.gather(
            self._profiles.record_activity(activity, batch.now), self._write_records(batch)
        )

    async def _write_records(self, batch: Batch) -> None:
        decided = batch.entries
        inserts, replaces = batch.inserts, batch.replaces
        for _ in range(_MAX_WRITE_ROUNDS):
            lost = await self._write(batch, inserts, replaces)
            self._note(batch, decided, replaces, lost)
            if not lost:
                batch.redone = await self._records.get_many(batch.written.redo)
                return
            # Another writer wrote these first: decided again against what it wrote.
            decided = [e for e in batch.entries if e.record_id in lost]
            stored = await self._records.revisions(lost)
            for entry in decided:
                entry.seen = stored.get(entry.record_id)
            inserts, replaces = decide_writes(decided)
            batch.inserts = [e for e in batch.inserts if e.record_id not in lost] + inserts
            batch.replaces = [
                (e, seen) for e, seen in batch.replaces if e.record_id not in lost
            ] + replaces
        raise RuntimeError("record writes kept conflicting; is another writer looping?")

    async def _write(
        self, batch: Batch, inserts: list[Entry], replaces: list[tuple[Entry, StoredRevision]]
    ) -> set[str]:
        for entry in [*inserts, *(e for e, _ in replaces)]:
            entry.stored = entry.document(batch.key or None)
        return await self._records.write(
            [e.stored for e in inserts if e.stored is not None],
            [(e.stored, seen) for e, seen in replaces if e.stored is not None],
        )

    @staticmethod
    def _note(
        batch: Batch,
        decided: list[Entry],
        replaces: list[tuple[Entry, StoredRevision]],
        lost: set[str],
    ) -> None:
        """What the writes did besides their outcomes: the profiles revisions moved from,
        and the duplicates an unfinished run of this batch wrote (their derived data is
        redone, their profiles' metrics recomputed)."""
        written = batch.written
        written.moved_from |= {
            seen.profile_id
            for entry, seen in replaces
            if seen.profile_id is not None and entry.record_id not in lost and entry.counted
        }
        if not batch.rerun:
            return
        for entry in decided:
            seen = entry.seen
            if entry.outcome == "duplicate" and seen is not None and seen.batch == batch.key:
                written.redo.add(entry.record_id)
                if seen.profile_id is not None and entry.counted:
                    written.recount.add(seen.profile_id)
