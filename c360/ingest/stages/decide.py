"""Stage ``decide``: what to write of the batch's records, from the revisions it looked up. A
record is written when it is new or a newer revision than the stored one; anything else is a
duplicate. Several revisions of one record in a batch collapse into one write. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from c360.ingest.batch import Batch, Entry
from c360.ingest.stages.base import Stage
from c360.records.types import StoredRevision


class Decide(Stage):
    name = "decide"

    async def run(self, batch: Batch) -> None:
        batch.inserts, batch.replaces = decide_writes(batch.entries)


def decide_writes(
    entries: Sequence[Entry],
) -> tuple[list[Entry], list[tuple[Entry, StoredRevision]]]:
    """Sets each entry's outcome (in arrival order, against the revision it saw stored) and
    returns the writes that realise them: inserts, and replaces of the revision seen."""
    state: dict[str, StoredRevision | None] = {}
    final: dict[str, Entry] = {}
    for entry in entries:
        current = state.get(entry.record_id, entry.seen)
        # Two contents for one revision time: which is kept is decided, not known to be the
        # newer, so it is counted for the summary to say.
        entry.conflict = (
            current is not None
            and current.revision == entry.revision.revision
            and current.content_hash != entry.revision.content_hash
        )
        if current is None:
            entry.outcome = "inserted"
        elif current.older_than(entry.revision):
            entry.outcome = "updated"
        else:
            entry.outcome = "duplicate"
            continue
        state[entry.record_id] = entry.revision
        final[entry.record_id] = entry
    inserts = [e for e in final.values() if e.seen is None]
    replaces = [(e, e.seen) for e in final.values() if e.seen is not None]
    return inserts, replaces
