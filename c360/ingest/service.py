"""The ingest pipeline: parsed items in, records linked and stored, a summary out.

Works in batches (one round trip per step per batch, not per record) and in an order that a
crashed run can simply repeat: claim identifiers → create/widen profiles → write records. Every
step is idempotent, so re-running an import converges on the state of an uninterrupted one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import logging
from collections.abc import AsyncIterable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Literal

from c360.errors import InvalidInput
from c360.identity.matcher import Matcher
from c360.identity.matching import Features, features_of
from c360.identity.merge import MergeService
from c360.identity.repository import SuggestionRepository
from c360.identity.service import IdentityService
from c360.ingest.repository import BatchJournal, DeadLetterRepository
from c360.ingest.storable import Unstorable, check_record, refuse_unstorable
from c360.observability.metrics import count_ingest
from c360.profiles.metrics import COUNTED_KINDS, Aggregate, contribution
from c360.profiles.service import ProfileService, Span
from c360.records.documents import (
    draft_document,
    linked_document,
    payload_of,
    record_document,
    stored_record,
)
from c360.records.repository import NOT_ACTIVITY, RecordRepository, StoredRevision
from c360.store import Document
from connectors import (
    Connector,
    Ignored,
    ItemError,
    Parsed,
    ParseOptions,
    ParseResult,
    get_connector,
)
from schemas import CanonicalRecord, Order, Person, Return, SiteEvent
from schemas.records import SiteEventType

log = logging.getLogger(__name__)

Outcome = Literal["inserted", "updated", "duplicate"]
MAX_REPORTED_ERRORS = 1000
_MAX_WRITE_ROUNDS = 10


class UnstorableRecord(InvalidInput):
    """A record made through the API holds a value the store cannot hold."""


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one stored (or duplicate) record."""

    position: str
    record_id: str
    outcome: Outcome


@dataclass
class IngestSummary:
    """What an ingest did: ``items_read`` input items (a file's lines, an array's elements, a
    CSV order's rows) became ``read`` records, and ``read == inserted + updated + duplicates +
    rejected + ignored`` always (a rejected or ignored item counts as one record)."""

    items_read: int = 0
    read: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0
    ignored: int = 0
    errors: list[ItemError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    ignored_items: list[Ignored] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    items: list[ItemResult] | None = None  # every record's outcome, when asked for

    def add_outcomes(self, parsed: Sequence[Parsed], outcomes: Sequence[Outcome]) -> None:
        if self.items is not None:
            self.items.extend(
                ItemResult(p.position, p.record.record_id, o)
                for p, o in zip(parsed, outcomes, strict=True)
            )
        for outcome in outcomes:
            self.read += 1
            match outcome:
                case "inserted":
                    self.inserted += 1
                case "updated":
                    self.updated += 1
                case "duplicate":
                    self.duplicates += 1

    def add_errors(self, errors: Sequence[ItemError]) -> None:
        self.read += len(errors)
        self.rejected += len(errors)
        room = MAX_REPORTED_ERRORS - len(self.errors)
        self.errors.extend(errors[: max(room, 0)])

    def add_ignored(self, ignored: Sequence[Ignored]) -> None:
        """Items a connector read and deliberately kept nothing of, each with its reason."""
        self.read += len(ignored)
        self.ignored += len(ignored)
        room = MAX_REPORTED_ERRORS - len(self.ignored_items)
        self.ignored_items.extend(ignored[: max(room, 0)])

    def absorb(self, other: IngestSummary) -> None:
        """Add another summary's counts (and errors, up to the reporting limit) to this one."""
        self.items_read += other.items_read
        self.read += other.read
        self.inserted += other.inserted
        self.updated += other.updated
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.ignored += other.ignored
        room = MAX_REPORTED_ERRORS - len(self.errors)
        self.errors.extend(other.errors[: max(room, 0)])
        room = MAX_REPORTED_ERRORS - len(self.ignored_items)
        self.ignored_items.extend(other.ignored_items[: max(room, 0)])

    def counts(self) -> dict[str, int]:
        return {
            "items_read": self.items_read,
            "records": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "ignored": self.ignored,
        }


def decide_writes(
    docs: Sequence[Document], stored: dict[str, StoredRevision]
) -> tuple[list[Outcome], list[Document], list[tuple[Document, StoredRevision]]]:
    """For docs in arrival order: each one's outcome, and the writes that realise them.

    A record is written when it is new or a newer revision than the stored one; anything else is
    a duplicate. Several revisions of one record in a batch collapse into one write.
    """
    state = dict(stored)
    outcomes: list[Outcome] = []
    final: dict[str, Document] = {}
    for doc in docs:
        incoming = StoredRevision(doc["revision"], doc["content_hash"])
        current = state.get(doc["_id"])
        if current is None:
            outcomes.append("inserted")
        elif current.older_than(incoming):
            outcomes.append("updated")
        else:
            outcomes.append("duplicate")
            continue
        state[doc["_id"]] = incoming
        final[doc["_id"]] = doc
    inserts = [doc for rid, doc in final.items() if rid not in stored]
    replaces = [(doc, stored[rid]) for rid, doc in final.items() if rid in stored]
    return outcomes, inserts, replaces


class IngestService:
    def __init__(
        self,
        identity: IdentityService,
        merges: MergeService,
        profiles: ProfileService,
        records: RecordRepository,
        dead_letters: DeadLetterRepository,
        suggestions: SuggestionRepository,
        matcher: Matcher,
        journal: BatchJournal,
        batch_size: int = 500,
        metrics_repair_after: dt.timedelta = dt.timedelta(minutes=5),
    ) -> None:
        self._metrics_repair_after = metrics_repair_after
        self._identity = identity
        self._merges = merges
        self._profiles = profiles
        self._records = records
        self._dead_letters = dead_letters
        self._suggestions = suggestions
        self._matcher = matcher
        self._journal = journal
        self._batch_size = batch_size

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
        with, to read again an item that needs a stored order's currency.
        """
        summary = IngestSummary(items=[] if keep_items else None)
        started = dt.datetime.now(dt.UTC)
        await self._merges.resume_unfinished(started)
        await self._profiles.metrics.resume(started, self._metrics_repair_after)
        last_position: str | None = None
        open_batch: str | None = None  # announced, closed with the next announcement
        async for batch in _batches(items, self._batch_size):
            now = dt.datetime.now(dt.UTC)
            for item in batch:  # an item's records are adjacent and share its position
                if item.position != last_position:
                    summary.items_read += 1
                    last_position = item.position
            errors = [item for item in batch if isinstance(item, ItemError)]
            parsed = [item for item in batch if isinstance(item, Parsed)]
            if options is not None:
                read, errors = await self.read_in_order_currency(connector, errors, options)
                parsed += read
            parsed, drafts, refused = refuse_unstorable(
                parsed,
                lambda record: draft_document(record, now),  # noqa: B023 - called right here
            )
            errors += refused
            await self._dead_letters.add(connector, origin, errors, now)
            summary.add_errors(errors)
            ignored = [item for item in batch if isinstance(item, Ignored)]
            summary.add_ignored(ignored)
            outcomes, open_batch = await self._store(parsed, drafts, now, open_batch)
            summary.add_outcomes(parsed, outcomes)
            count_ingest(connector, outcomes, rejected=len(errors), ignored=len(ignored))
            if progress is not None:
                progress(summary)
        if open_batch is not None:
            await self._journal.finish(open_batch)
        log.info(
            "ingest finished", extra={"connector": connector, "origin": origin, **summary.counts()}
        )
        return summary

    async def read_in_order_currency(
        self, connector_name: str, errors: Sequence[ItemError], options: ParseOptions
    ) -> tuple[list[Parsed], list[ItemError]]:
        """Items rejected only for want of their order's currency (a refund stating none),
        read again in that currency when the order is stored; returns their records and the
        errors that remain."""
        currencies = await self._records.order_currencies(
            e.currency_of for e in errors if e.currency_of is not None
        )
        if not currencies:
            return [], list(errors)
        connector = get_connector(connector_name)
        read: list[Parsed] = []
        remaining: list[ItemError] = []
        for error in errors:
            currency = currencies.get(error.currency_of or "")
            again = _parse_again(connector, error.raw, options, currency) if currency else []
            records = [r.record for r in again if isinstance(r, Parsed)]
            if again and len(records) == len(again):
                read += [Parsed(error.position, record, error.raw) for record in records]
            else:
                remaining.append(error)
        return read, remaining

    async def _store(
        self,
        parsed: Sequence[Parsed],
        drafts: Sequence[Document],
        now: dt.datetime,
        open_batch: str | None,
    ) -> tuple[list[Outcome], str | None]:
        """Link, write and derive one batch; returns the outcomes and the batch's journal key
        (left open: the next batch's announcement closes it, in the same round trip)."""
        if not parsed:
            return [], open_batch
        records = [item.record for item in parsed]
        plan = await self._identity.link(
            [r.identifiers for r in records],
            [_person_features(r) for r in records],
            [_is_alias(r) for r in records],
        )
        # Announced before anything derived is written: a run cut short anywhere after this
        # leaves the entry, and the run that reads the same input again finds it.
        key = batch_key(drafts)
        survivors = {s for s, _ in plan.merges.values()}
        earlier = await self._journal.begin(_journal_entry(key, now, survivors), open_batch)
        if earlier is not None:
            log.info("completing a batch an earlier run left unfinished", extra={"batch": key})
            known = set(earlier.get("survivors", ()))
            if not survivors <= known:
                await self._journal.widen(_journal_entry(key, now, survivors | known))
            survivors |= known
        for gone, (survivor, rule) in plan.merges.items():
            await self._merges.absorb(gone, survivor, rule, now)
        await self._suggestions.add(plan.suggestions, now)
        profile_ids = list(plan.profile_ids)
        await self._link_returns_through_orders(records, profile_ids)

        linked_by = list(plan.linked_by)
        for index, record in enumerate(records):
            if isinstance(record, Return) and linked_by[index] is None and profile_ids[index]:
                linked_by[index] = f"record:{record.source}:order:{record.order_external_id}"
        docs = [
            linked_document(draft, p, unlinked, by, batch=key)
            for draft, p, unlinked, by in zip(
                drafts, profile_ids, plan.unlinked, linked_by, strict=True
            )
        ]
        written = await self._persist(records, docs, now, rerun=key if earlier else None)
        # What derives from new and amended records, and from those an earlier run of this
        # batch wrote before it was cut short (duplicates now, their derived data unsure).
        fresh = [d for d, o in zip(docs, written.outcomes, strict=True) if o != "duplicate"]
        redone = await self._records.get_many(written.redo) if written.redo else []
        people = [d for d in [*fresh, *redone] if d["kind"] == "person"]
        await self._profiles.index_names([stored_record(d) for d in people])
        # A merge gives the survivor the absorbed profile's people: compare it afresh.
        await self._matcher.evaluate(
            {d["profile_id"] for d in people if "profile_id" in d} | survivors,
            now,
            again={d["profile_id"] for d in redone if "profile_id" in d}
            | (survivors if earlier else set()),
        )
        return written.outcomes, key

    async def append(
        self,
        profile_id: str,
        records: Sequence[CanonicalRecord],
        linked_by: Sequence[str | None],
    ) -> list[tuple[Document, Outcome]]:
        """Store records made for a known profile (a consent given to an agent, a contact
        logged): no identity resolution, the same write, merge and metrics steps as an import.
        ``linked_by``: per record, the identity key an unmerge follows (None: it stays with the
        survivor). Returns each record's document and outcome.
        """
        now = dt.datetime.now(dt.UTC)
        for record in records:
            try:
                check_record(record)
            except Unstorable as exc:
                raise UnstorableRecord(f"cannot be stored: {exc}") from None
        docs = [
            record_document(r, profile_id, now, linked_by=by)
            for r, by in zip(records, linked_by, strict=True)
        ]
        written = await self._persist(records, docs, now)
        return list(zip(docs, written.outcomes, strict=True))

    async def _persist(
        self,
        records: Sequence[CanonicalRecord],
        docs: Sequence[Document],
        now: dt.datetime,
        rerun: str | None = None,
    ) -> _Written:
        """Write linked records: activity, the records, waiting returns, merges that raced,
        metrics. ``rerun``: the batch an earlier run left unfinished, whose records found
        written are duplicates whose metrics are recomputed."""
        linked = [doc for doc in docs if "profile_id" in doc]
        spans: dict[str, Span | None] = dict.fromkeys(d["profile_id"] for d in linked)
        spans |= _spans(
            (d["profile_id"], d["occurred_at"]) for d in linked if d["kind"] not in NOT_ACTIVITY
        )
        await self._profiles.record_activity(spans, now)
        token = self._profiles.metrics.new_token(now)
        announced: set[str] = set()
        written = await self._write(docs, token, announced, rerun)
        profile_ids = [doc.get("profile_id") for doc in docs]
        relinked = await self._link_waiting_returns(records, profile_ids, now)
        relinked |= await self._link_returns_whose_order_came(docs, now)
        await self._merges.settle({p for p in profile_ids if p is not None}, now)
        await self._fold_metrics(
            token,
            announced,
            docs,
            written.outcomes,
            written.moved_from | relinked | written.recount,
        )
        return written

    async def _fold_metrics(
        self,
        token: str,
        announced: set[str],
        docs: Sequence[Document],
        outcomes: Sequence[Outcome],
        recompute: set[str],
    ) -> None:
        """New records fold into their profile's aggregate; an amended record (its old revision
        counted somewhere) has its profiles recomputed."""
        added: dict[str, Aggregate] = {}
        for doc, outcome in zip(docs, outcomes, strict=True):
            profile_id = doc.get("profile_id")
            if profile_id is None or outcome == "duplicate" or doc["kind"] not in COUNTED_KINDS:
                continue
            if outcome == "updated":
                recompute.add(profile_id)
            else:
                added.setdefault(profile_id, Aggregate()).fold(contribution(doc))
        await self._profiles.metrics.fold(token, announced, added, recompute)

    async def _link_returns_through_orders(
        self, records: Sequence[CanonicalRecord], profile_ids: list[str | None]
    ) -> None:
        """A return that names nobody belongs to whoever placed its order."""
        order_of = {
            index: f"{r.source}:order:{r.order_external_id}"
            for index, r in enumerate(records)
            if isinstance(r, Return) and profile_ids[index] is None
        }
        if not order_of:
            return
        in_batch = {r.record_id: p for r, p in zip(records, profile_ids, strict=True) if p}
        stored = await self._records.profile_of(set(order_of.values()) - set(in_batch))
        for index, order_id in order_of.items():
            profile_ids[index] = in_batch.get(order_id) or stored.get(order_id)

    async def _link_waiting_returns(
        self,
        records: Sequence[CanonicalRecord],
        profile_ids: Sequence[str | None],
        now: dt.datetime,
    ) -> set[str]:
        """Returns stored before their order join the order's person once it arrives; returns
        the profiles that gained records this way."""
        orders = {
            r.record_id: p
            for r, p in zip(records, profile_ids, strict=True)
            if isinstance(r, Order) and p is not None
        }
        if not orders:
            return set()
        waiting = await self._records.unlinked_returns(orders)
        return await self._link_returns(waiting, orders, now)

    async def _link_returns_whose_order_came(
        self, docs: Sequence[Document], now: dt.datetime
    ) -> set[str]:
        """Returns this batch stored without a profile whose order another writer stored
        meanwhile: after this batch looked for it, and before that writer looked for waiting
        returns, which this one had not written yet. Of two such writers, the one that writes
        second sees the other's record, so asking again after writing is enough. Returns the
        profiles that gained records this way."""
        orders = {
            _order_of(doc) for doc in docs if doc["kind"] == "return" and "profile_id" not in doc
        }
        if not orders:
            return set()
        stored = await self._records.profile_of(orders)
        if not stored:
            return set()
        waiting = await self._records.unlinked_returns(stored)
        return await self._link_returns(waiting, stored, now)

    async def _link_returns(
        self, waiting: Sequence[Document], orders: Mapping[str, str], now: dt.datetime
    ) -> set[str]:
        """Link returns to the profile of their order (order record id → profile id)."""
        if not waiting:
            return set()
        order_of = {doc["_id"]: _order_of(doc) for doc in waiting}
        await self._profiles.record_activity(
            _spans((orders[order_of[d["_id"]]], d["occurred_at"]) for d in waiting), now
        )
        await self._records.link(
            {rid: (orders[order], f"record:{order}") for rid, order in order_of.items()}
        )
        return {orders[order] for order in order_of.values()}

    async def _write(
        self, docs: Sequence[Document], token: str, announced: set[str], rerun: str | None
    ) -> _Written:
        """Write the batch; re-decide the records another writer changed meanwhile.

        Before writing, the batch (``token``) is announced on the aggregates of the profiles
        whose records change (added to ``announced``): a re-import of known records writes
        nothing at all. Duplicates that the unfinished batch ``rerun`` wrote are listed in
        ``redo``, with their profiles' aggregates to recount.
        """
        outcomes: list[Outcome | None] = [None] * len(docs)
        written = _Written([])
        pending = list(range(len(docs)))
        for _ in range(_MAX_WRITE_ROUNDS):
            batch = [docs[i] for i in pending]
            stored = await self._records.revisions(doc["_id"] for doc in batch)
            decided, inserts, replaces = decide_writes(batch, stored)
            counted = [
                d for d in [*inserts, *(d for d, _ in replaces)] if d["kind"] in COUNTED_KINDS
            ]
            changing = {d["profile_id"] for d in counted if "profile_id" in d}
            await self._profiles.metrics.announce(changing - announced, token)
            announced |= changing
            lost = await self._records.write(inserts, replaces)
            written.moved_from |= {
                seen.profile_id
                for doc, seen in replaces
                if seen.profile_id is not None
                and doc["_id"] not in lost
                and doc["kind"] in COUNTED_KINDS
            }
            for index, outcome in zip(pending, decided, strict=True):
                outcomes[index] = outcome
                seen = stored.get(docs[index]["_id"])
                if rerun is not None and outcome == "duplicate" and seen and seen.batch == rerun:
                    written.redo.add(docs[index]["_id"])
                    if seen.profile_id is not None and docs[index]["kind"] in COUNTED_KINDS:
                        written.recount.add(seen.profile_id)
            pending = [i for i in pending if docs[i]["_id"] in lost]
            if not pending:
                written.outcomes = [o for o in outcomes if o is not None]
                return written
        raise RuntimeError("record writes kept conflicting; is another writer looping?")


def _order_of(doc: Document) -> str:
    """The record id of a stored return's order."""
    return f"{doc['source']}:order:{doc['data']['order_external_id']}"


@dataclass
class _Written:
    """What writing a batch did."""

    outcomes: list[Outcome]
    moved_from: set[str] = field(default_factory=set)
    """Profiles that held revisions now replaced (their aggregates are recomputed)."""
    redo: set[str] = field(default_factory=set)
    """Duplicates an unfinished run of the same batch wrote: their derived data is redone."""
    recount: set[str] = field(default_factory=set)
    """Profiles of those duplicates that metrics count (their aggregates are recomputed)."""


def batch_key(drafts: Sequence[Document]) -> str:
    """The same records in the same order are the same batch, whichever run reads them."""
    digest = hashlib.sha256()
    for draft in drafts:
        digest.update(f"{draft['_id']}\0{draft['content_hash']}\n".encode())
    return digest.hexdigest()[:32]


def _journal_entry(key: str, now: dt.datetime, survivors: set[str]) -> Document:
    return {"_id": key, "started": {"at": now}, "survivors": sorted(survivors)}


def _person_features(record: CanonicalRecord) -> Features | None:
    """What a person record says of who they are (linking compares it through phones)."""
    if not isinstance(record, Person):
        return None
    return features_of([payload_of(record)], ())


def _parse_again(
    connector: Connector, raw: str, options: ParseOptions, currency: str
) -> list[ParseResult]:
    settings = {**options.settings, "currency": currency}
    return list(connector.parse(io.BytesIO(raw.encode()), replace(options, settings=settings)))


def _is_alias(record: CanonicalRecord) -> bool:
    """Whether the record states that its identifiers are one person's (Segment's ``alias``)."""
    return isinstance(record, SiteEvent) and record.event_type is SiteEventType.ALIAS


def _spans(moments: Iterable[tuple[str, dt.datetime]]) -> dict[str, Span | None]:
    """Each profile's earliest and latest moment."""
    spans: dict[str, Span | None] = {}
    for profile_id, moment in moments:
        first, last = spans.get(profile_id) or (moment, moment)
        spans[profile_id] = (min(first, moment), max(last, moment))
    return spans


async def _batches(
    items: Iterable[ParseResult] | AsyncIterable[ParseResult], size: int
) -> AsyncIterable[list[ParseResult]]:
    """Batches of about ``size`` results; an item's results (adjacent, one position) are never
    split between two, so a batch keeps or refuses an item whole."""
    if isinstance(items, AsyncIterable):
        batch: list[ParseResult] = []
        async for item in items:
            if len(batch) >= size and item.position != batch[-1].position:
                yield batch
                batch = []
            batch.append(item)
        if batch:
            yield batch
        return
    # Parsing (validation, normalisation) is CPU work in the connector; the store round trips
    # are waiting. The next batch is parsed in a worker thread while this one is stored, so the
    # two overlap. One batch ahead at most: memory stays bounded.
    source = _Lookahead(iter(items))
    upcoming = asyncio.create_task(asyncio.to_thread(source.take, size))
    try:
        while batch := await upcoming:
            upcoming = asyncio.create_task(asyncio.to_thread(source.take, size))
            yield batch
    finally:
        upcoming.cancel()


class _Lookahead:
    """Results with one seen ahead: where the current item ends."""

    def __init__(self, iterator: Iterator[ParseResult]) -> None:
        self._iterator = iterator
        self._next: ParseResult | None = None

    def take(self, size: int) -> list[ParseResult]:
        batch: list[ParseResult] = []
        if self._next is not None:
            batch.append(self._next)
            self._next = None
        batch += islice(self._iterator, size - len(batch))
        while batch:
            following = next(self._iterator, None)
            if following is None:
                break
            if following.position != batch[-1].position:
                self._next = following
                break
            batch.append(following)
        return batch
