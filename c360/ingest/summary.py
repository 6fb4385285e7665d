"""What an ingest did: counts, the first item errors and ignored items, each record's outcome."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from connectors import Ignored, ItemError, Parsed

Outcome = Literal["inserted", "updated", "duplicate"]
MAX_REPORTED_ERRORS = 1000


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
    rejected + ignored + suppressed`` always (a rejected or ignored item counts as one record;
    ``suppressed``: records and rejected items of people erased before, skipped)."""

    items_read: int = 0
    read: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0
    ignored: int = 0
    suppressed: int = 0
    conflicts: int = 0
    """Of ``updated`` and ``duplicates``: records that came with the revision time of their
    stored copy and other content (which is kept is decided, not known to be the newer)."""
    effects: Counter[str] = field(default_factory=Counter)
    """What the records led to beyond themselves, by what people call it (``follow-ups
    opened``, by the alert rules): counted by the stages that did it."""
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

    def add_suppressed(self, count: int) -> None:
        self.read += count
        self.suppressed += count

    def absorb(self, other: IngestSummary) -> None:
        """Add another summary's counts (and errors, up to the reporting limit) to this one."""
        self.items_read += other.items_read
        self.read += other.read
        self.inserted += other.inserted
        self.updated += other.updated
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.ignored += other.ignored
        self.suppressed += other.suppressed
        self.conflicts += other.conflicts
        self.effects.update(other.effects)
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
            "suppressed": self.suppressed,
            "conflicts": self.conflicts,
        }
