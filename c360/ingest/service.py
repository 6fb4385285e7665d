"""The ingest pipeline's loop: parsed items in, batches through the stages, a summary out.

One loop owns what every batch shares: cutting the input into batches (an item is never split
between two; the next one is parsed in a worker thread while this one is stored), the batch
journal, and the summary. What happens to a batch is the stages' business, in the order
:func:`c360.ingest.stages.stages` lists them (its docstring says how to add one).

Crash-safe without transactions: every stage is idempotent, and before the first stage that
writes anything derived from a batch's records the batch is entered in ``ingest_batches``
(keyed by its content, with the profiles it merges others into and those whose metrics it may
change); its records carry that key, and the entry leaves with the next batch's entry, in the
same round trip, once everything derived is written. A run that meets the entry again — the
same input, whose records are duplicates now — redoes what derives from the records the
cut-short run wrote; a run that finds an entry older than ``repair_after`` (its worker died,
and nobody imported the same input again) recomputes the metrics of the profiles it names.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sequence

from c360.errors import InvalidInput
from c360.ingest.batch import Batch, Entry, batch_key
from c360.ingest.batching import batches
from c360.ingest.repository import BatchJournal, JournalEntry
from c360.ingest.stages import Collaborators, Stage, stages
from c360.ingest.stages.base import current_stage
from c360.ingest.stages.currency import ReadInOrderCurrency
from c360.ingest.storable import Unstorable, check_record
from c360.ingest.summary import IngestSummary, Outcome
from c360.observability.metrics import count_ingest
from c360.records.documents import draft_document, stored_record
from c360.records.types import Record
from connectors import ItemError, Parsed, ParseOptions, ParseResult, Unreadable
from schemas import CanonicalRecord

log = logging.getLogger(__name__)

__all__ = ["IngestService", "IngestSummary", "Outcome", "UnreadableInput", "UnstorableRecord"]


class UnstorableRecord(InvalidInput):
    """A record made through the API holds a value the store cannot hold."""


class UnreadableInput(InvalidInput):
    """The input as a whole is not what its connector was told it is (its options, a CSV
    header): nothing of it was read, so nothing was stored or dead-lettered."""


class IngestService:
    def __init__(
        self,
        collaborators: Collaborators,
        journal: BatchJournal,
        *,
        batch_size: int,
        repair_after: dt.timedelta,
    ) -> None:
        self._stages = stages(collaborators)
        self._merges = collaborators.merges
        self._metrics = collaborators.metrics
        self._records = collaborators.records
        self._currency = ReadInOrderCurrency(collaborators.records)
        self._journal = journal
        self._batch_size = batch_size
        self._repair_after = repair_after

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The stages a batch goes through, in order (with those the wiring added)."""
        return self._stages

    def add_stage(self, stage: Stage, *, after: str) -> None:
        """Run ``stage`` after the stage named ``after`` (the wiring adds the stages of
        domains above ingest: the alert rules after ``fold metrics``)."""
        names = [s.name for s in self._stages]
        if after not in names:
            raise ValueError(f"no stage {after!r}: {', '.join(names)}")
        at = names.index(after) + 1
        self._stages = (*self._stages[:at], stage, *self._stages[at:])

    async def ingest(
        self,
        connector: str,
        items: Iterable[ParseResult] | AsyncIterable[ParseResult],
        *,
        origin: str,
        progress: Callable[[IngestSummary], None] | None = None,
        keep_items: bool = False,
        options: ParseOptions | None = None,
    ) -> IngestSummary:
        """Store every valid item, dead-letter every invalid one, and count both.

        ``keep_items`` lists every record's outcome in the summary (for bounded inputs such as
        an HTTP request; a multi-GB file should not). ``options``: those the items were parsed
        with, to read again an item that needs a stored order's currency. Raises
        :class:`UnreadableInput` when the connector cannot read the input at all as it was told
        (its options, a CSV header).
        """
        summary = IngestSummary(items=[] if keep_items else None)
        started = dt.datetime.now(dt.UTC)
        await self._merges.resume_unfinished(started)
        await self._repair_abandoned(started)
        open_key: str | None = None  # entered in the journal, left with the next entry
        async for results in _readable(batches(items, self._batch_size), connector, origin):
            batch = Batch(connector, origin, dt.datetime.now(dt.UTC), options, results)
            open_key = await self._run(batch, open_key)
            summary.items_read += batch.items_read
            summary.add_errors(batch.errors)
            summary.add_ignored(batch.ignored)
            summary.add_suppressed(batch.suppressed)
            summary.add_outcomes([e.item for e in batch.entries], batch.outcomes)
            summary.conflicts += batch.conflicts
            summary.effects.update(batch.effects)
            count_ingest(
                connector,
                batch.outcomes,
                rejected=len(batch.errors),
                ignored=len(batch.ignored),
                suppressed=batch.suppressed,
            )
            if progress is not None:
                progress(summary)
        if open_key is not None:
            with _running("journal"):
                await self._journal.finish(open_key)
        log.info(
            "ingest finished", extra={"connector": connector, "origin": origin, **summary.counts()}
        )
        return summary

    async def append(
        self,
        profile_id: str,
        records: Sequence[CanonicalRecord],
        linked_by: Sequence[str | None],
    ) -> list[tuple[Record, Outcome]]:
        """Store records made for a known profile (a consent given to an agent, a contact
        logged): no identity resolution, the same stages as an import after it.
        ``linked_by``: per record, the identity key an unmerge follows (None: it stays with the
        survivor). Returns each record as stored, and its outcome.
        """
        now = dt.datetime.now(dt.UTC)
        for record in records:
            try:
                check_record(record)
            except Unstorable as exc:
                raise UnstorableRecord(f"cannot be stored: {exc}") from None
        batch = Batch("api", "api", now)
        for record, by in zip(records, linked_by, strict=True):
            entry = Entry.of(Parsed("", record, ""), draft_document(record, now))
            entry.linked, entry.profile_id, entry.linked_by = True, profile_id, by
            batch.entries.append(entry)
        key = await self._run(batch, None)
        if key is not None:
            with _running("journal"):
                await self._journal.finish(key)
        return [
            (stored_record(e.stored or e.document(batch.key or None)), e.outcome or "duplicate")
            for e in batch.entries
        ]

    async def stored_revisions(self, record_ids: Iterable[str]) -> dict[str, dt.datetime]:
        """The revision time each of these records is stored at (those stored)."""
        stored = await self._records.revisions(record_ids)
        return {rid: seen.revision for rid, seen in stored.items()}

    async def read_in_order_currency(
        self, connector: str, errors: Sequence[ItemError], options: ParseOptions
    ) -> tuple[list[Parsed], list[ItemError]]:
        """Items rejected only for want of their order's currency (a refund stating none),
        read again in that currency when the order is stored; returns their records and the
        errors that remain."""
        return await self._currency.read(connector, errors, options)

    async def _run(self, batch: Batch, open_key: str | None) -> str | None:
        """Every stage over the batch; returns the journal entry left open (this batch's, or
        the one before it when this one needed none)."""
        for stage in self._stages:
            if stage.journalled:
                if not batch.entries:
                    continue
                if not batch.key and batch.derives:
                    with _running("journal"):
                        open_key = await self._enter(batch, open_key)
            with _running(stage.name):
                await stage.run(batch)
        return open_key

    async def _enter(self, batch: Batch, open_key: str | None) -> str:
        """Announce the batch in the journal (closing the one before it), before anything
        derived from it is written; notes an earlier run that left the same batch unfinished."""
        key = batch_key(batch.entries)
        entry = JournalEntry(
            key, batch.now, frozenset(batch.survivors), frozenset(batch.derived_profiles())
        )
        earlier = await self._journal.begin(entry, open_key)
        batch.key = key
        if earlier is not None:
            log.info("completing a batch an earlier run left unfinished", extra={"batch": key})
            batch.rerun = True
            widened = entry.widened(earlier)
            if widened.survivors != earlier.survivors or widened.profiles != earlier.profiles:
                await self._journal.widen(widened)
            batch.survivors |= earlier.survivors
        return key

    async def _repair_abandoned(self, now: dt.datetime) -> None:
        """Recompute the metrics named by batches announced before ``now - repair_after`` and
        never finished (their worker died between writing records and folding them in)."""
        abandoned = await self._journal.abandoned(now - self._repair_after)
        if not abandoned:
            return
        log.info("repairing the metrics of abandoned batches", extra={"batches": len(abandoned)})
        await self._metrics.recompute(set().union(*(e.profiles | e.survivors for e in abandoned)))
        await self._journal.repaired([e.key for e in abandoned])


async def _readable(
    batches: AsyncIterable[list[ParseResult]], connector: str, origin: str
) -> AsyncIterator[list[ParseResult]]:
    """The batches, or :class:`UnreadableInput` where the connector found the input unreadable
    (before its first item, so that nothing of it is stored: a connector that found it later
    leaves stored what it read, as an import cut short does)."""
    read = False
    try:
        async for batch in batches:
            read = True
            yield batch
    except Unreadable as exc:
        kept = "what was read before it is kept" if read else "nothing of it was read"
        raise UnreadableInput(
            f"{connector} cannot read {origin} ({exc.position}): {exc.reason}; {kept}"
        ) from None


@contextlib.contextmanager
def _running(stage: str) -> Iterator[None]:
    token = current_stage.set(stage)
    try:
        yield
    finally:
        current_stage.reset(token)
