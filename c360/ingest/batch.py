"""What the stages of the ingest pipeline share about one batch: its input, each record on its
way to the store (an :class:`Entry`), what was read of the store for it, and what each stage
decided. A stage reads what earlier stages set and sets what it decides; the fields say which
stage sets them."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from c360.identity.repository import Known
from c360.ingest.summary import Outcome
from c360.metrics.aggregate import COUNTED_KINDS
from c360.metrics.repository import StoredAggregate
from c360.records.documents import (
    drafted_payload,
    linked_document,
    stored_record,
    stored_revision,
)
from c360.records.types import Record, StoredRevision, Unlinked
from c360.store import Document
from connectors import Ignored, ItemError, Parsed, ParseOptions, ParseResult
from schemas import CanonicalRecord

Span = tuple[dt.datetime, dt.datetime]


@dataclass(eq=False, slots=True)
class Entry:
    """One record of the batch: where it came from, its document before linking, and what the
    stages decide for it."""

    item: Parsed
    draft: Document
    revision: StoredRevision
    """The revision this record would store (its time and content hash)."""
    linked: bool = False
    """Its profile is decided (by linking, or by the caller for records made for a profile)."""
    profile_id: str | None = None
    linked_by: str | None = None
    unlinked: list[Unlinked] = field(default_factory=list)
    seen: StoredRevision | None = None
    """The revision stored when the batch read the store (None: not stored)."""
    outcome: Outcome | None = None
    conflict: bool = False
    """Stored already with the same revision time and other content (see decide_writes)."""
    stored: Document | None = None
    """The document the stage ``write`` wrote for it (new records and newer revisions)."""

    @classmethod
    def of(cls, item: Parsed, draft: Document) -> Entry:
        return cls(item, draft, stored_revision(draft))

    @property
    def record(self) -> CanonicalRecord:
        return self.item.record

    @property
    def payload(self) -> Document:
        """What the record says beyond its envelope, as drafted (not dumped again)."""
        return drafted_payload(self.draft)

    @property
    def record_id(self) -> str:
        return self.item.record.record_id

    @property
    def kind(self) -> str:
        return str(self.item.record.kind)

    @property
    def counted(self) -> bool:
        """Whether metrics count it (the other kinds change no aggregate)."""
        return self.kind in COUNTED_KINDS

    def document(self, batch: str | None) -> Document:
        """What ``records`` stores for it, written by ``batch``."""
        return linked_document(
            self.draft, self.profile_id, self.unlinked, self.linked_by, batch=batch
        )


@dataclass
class Written:
    """What writing the batch's records did besides their outcomes."""

    moved_from: set[str] = field(default_factory=set)
    """Profiles that held revisions now replaced (their aggregates are recomputed)."""
    redo: set[str] = field(default_factory=set)
    """Duplicates an unfinished run of the same batch wrote: their derived data is redone."""
    recount: set[str] = field(default_factory=set)
    """Profiles of those duplicates that metrics count (their aggregates are recomputed)."""


@dataclass
class Batch:
    """One batch through the pipeline."""

    connector: str
    origin: str
    now: dt.datetime
    options: ParseOptions | None = None
    """What the items were parsed with (to read an item again); None for records made here."""
    results: Sequence[ParseResult] = ()
    """What the connector gave for this batch's items."""

    # --- parse, read again, check storable -------------------------------------------------
    items_read: int = 0
    parsed: list[Parsed] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    # --- suppress ------------------------------------------------------------------------------
    suppressed: int = 0
    """Records and rejected items of erased people, left out of the batch."""
    rejected_names: dict[str, list[str]] = field(default_factory=dict)
    """Dead letter id → a rejected item's names as the suppression list is asked them (read
    once from its text, for both questions)."""

    # --- look up: the one read of the store the later stages share -------------------------
    known: Known | None = None
    """What the store says of the identifiers of the records to link: owners, shared flags,
    the keys they were claimed through."""
    order_profiles: dict[str, str] = field(default_factory=dict)
    """Order record id → its profile, for the stored orders of the batch's returns."""

    # --- link ----------------------------------------------------------------------------------
    merges: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Stored profiles to absorb: absorbed id → (survivor id, rule)."""
    suggestions: list[tuple[str, str, str]] = field(default_factory=list)
    survivors: set[str] = field(default_factory=set)
    """Profiles that absorbed others for this batch (matching compares them again)."""

    # --- decide: what to write -------------------------------------------------------------
    inserts: list[Entry] = field(default_factory=list)
    replaces: list[tuple[Entry, StoredRevision]] = field(default_factory=list)

    # --- the journal (set by the loop) -----------------------------------------------------
    key: str = ""
    rerun: bool = False
    """An earlier run left this batch unfinished: what derives from its records is redone."""

    # --- write, returns, fold ------------------------------------------------------------------
    aggregates: dict[str, StoredAggregate | None] = field(default_factory=dict)
    """The stored aggregates of the profiles that gain counted records, read before writing
    (``fold metrics`` folds the batch into them: after it, they are what it wrote)."""
    written: Written = field(default_factory=Written)
    relinked: set[str] = field(default_factory=set)
    """Profiles that gained stored returns whose order this batch brought (recomputed)."""
    redone: list[Document] = field(default_factory=list)
    """The stored documents of ``written.redo`` (read by the stages that redo them)."""

    # --- the stages of domains above ingest ------------------------------------------------
    effects: Counter[str] = field(default_factory=Counter)
    """What the batch led to beyond its records, by what people call it (``follow-ups
    opened``): for the import's summary."""

    @property
    def linked_profiles(self) -> set[str]:
        return {e.profile_id for e in self.entries if e.profile_id is not None}

    @property
    def outcomes(self) -> list[Outcome]:
        return [e.outcome or "duplicate" for e in self.entries]

    @property
    def conflicts(self) -> int:
        return sum(e.conflict for e in self.entries)

    def changing(self) -> list[Entry]:
        """The records this batch writes (new, or newer revisions)."""
        return [*self.inserts, *(entry for entry, _ in self.replaces)]

    @property
    def derives(self) -> bool:
        """Whether anything but its profiles' activity derives from the batch (metrics, name
        search, matching, merges): then it is entered in the journal before it is written."""
        return bool(self.merges) or any(e.counted or e.kind == "person" for e in self.entries)

    def written_records(self) -> list[Record]:
        """The records this batch wrote and those an unfinished run of it wrote, as the stages
        of other domains are handed them (the alert rules')."""
        written = [e.stored for e in self.changing() if e.stored is not None]
        return [stored_record(doc) for doc in (*written, *self.redone)]

    def people(self) -> list[Document]:
        """The person records whose derived data (name search, matching) the batch makes:
        those it wrote, and those an unfinished run of it wrote."""
        fresh = [e.stored for e in self.changing() if e.kind == "person" and e.stored]
        return fresh + [doc for doc in self.redone if doc["kind"] == "person"]

    def derived_profiles(self) -> set[str]:
        """The profiles whose metrics the batch may change, and those whose merges it made:
        what a run that finds the batch left unfinished must recompute."""
        profiles = set(self.survivors)
        for entry in self.changing():
            if entry.counted and entry.profile_id is not None:
                profiles.add(entry.profile_id)
        for entry, seen in self.replaces:
            if entry.counted and seen.profile_id is not None:
                profiles.add(seen.profile_id)
        return profiles


def batch_key(entries: Iterable[Entry]) -> str:
    """The same records in the same order are the same batch, whichever run reads them."""
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(f"{entry.record_id}\0{entry.revision.content_hash}\n".encode())
    return digest.hexdigest()[:32]


def spans(moments: Iterable[tuple[str, dt.datetime]]) -> dict[str, Span | None]:
    """Each profile's earliest and latest moment."""
    found: dict[str, Span | None] = {}
    for profile_id, moment in moments:
        first, last = found.get(profile_id) or (moment, moment)
        found[profile_id] = (min(first, moment), max(last, moment))
    return found
