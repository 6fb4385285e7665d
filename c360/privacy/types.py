"""What the privacy domain reads and writes, as typed values: requests with their events,
extensions, export deliveries and erasure journal, suppressions, tombstones, receipts, and what
an erasure or an access export finds of a person. :mod:`.repository` turns documents into these
and back, so no storage field name is read above it."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from c360.privacy.erasure import Of
from c360.privacy.rules import OPEN, RequestType, Status, unnamed
from schemas.identifiers import IdentifierType

StoredDocument = Mapping[str, Any]
"""A stored document handed over as it is stored: what an access export gives the person
whole (a profile, an identity, a merge, an audit entry, a dead letter, a record's canonical
payload). Only the export writes it out; nothing above the repository reads its fields."""


@dataclass(frozen=True)
class Identifier:
    """An identifier a request names, normalised as at ingest, with its identity key."""

    type: IdentifierType
    value: str
    key: str
    source: str | None = None


@dataclass(frozen=True)
class Event:
    """A change of a request's status, and who made it."""

    at: dt.datetime
    actor: str
    to: Status
    before: Status | None = None
    note: str | None = None


@dataclass(frozen=True)
class Extension:
    months: int
    reason: str
    actor: str
    at: dt.datetime


@dataclass(frozen=True)
class Delivery:
    """One access export handed over: when it was made (the ``generated_at`` its header
    says), by which key or operator, in which format, the SHA-256 of the very bytes delivered
    and how many there were, and how many items each section held (``records`` again by
    kind). Nothing of the person: it stays when an erasure forgets them."""

    at: dt.datetime
    actor: str
    format: str
    sha256: str
    size: int
    sections: Mapping[str, int]
    records: Mapping[str, int]


@dataclass(frozen=True)
class Duplicate:
    """Another request still open, of the same type, naming identifiers this one names (by
    their identity keys): one person's request received twice."""

    request: str
    type: RequestType
    status: Status
    received_at: dt.datetime
    keys: tuple[str, ...]

    @property
    def message(self) -> str:
        return (
            f"the open {self.type} request {self.request} (status {self.status}, received "
            f"{self.received_at:%Y-%m-%d}) already names {', '.join(self.keys)}: run one of "
            f"them, reject the other"
        )


@dataclass(frozen=True)
class Scope:
    """Whom a request found: every profile of the person (absorbed ones too), every identity
    key they hold, their person records, one text pattern for their identifiers in free text;
    and, for what an import stored after an erasure, the records and dead letters no profile
    holds that it stored."""

    profiles: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    pattern: str = ""
    records: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # the names their person records give (their requests' notes)
    dead_letters: tuple[str, ...] = ()

    def of(self, which: Of) -> tuple[str, ...]:
        match which:
            case Of.PROFILES:
                return self.profiles
            case Of.KEYS:
                return self.keys
            case Of.PEOPLE:
                return self.people

    def widened(self, other: Scope) -> Scope:
        """Both scopes in one (a later pass keeps everything an earlier one found)."""

        def both(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(sorted({*a, *b}))

        return Scope(
            profiles=both(self.profiles, other.profiles),
            keys=both(self.keys, other.keys),
            people=both(self.people, other.people),
            pattern=other.pattern or self.pattern,
            records=both(self.records, other.records),
            dead_letters=both(self.dead_letters, other.dead_letters),
            names=both(self.names, other.names),
        )


@dataclass(frozen=True)
class Pass:
    """One pass of an erasure's steps: each step's count (taken before it first ran) and the
    steps done."""

    counts: Mapping[str, int] = field(default_factory=dict)
    done: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Journal:
    """An erasure's progress: whom it found, and its passes over the steps (the first, and
    each one run again over what was found after it)."""

    scope: Scope | None = None
    passes: tuple[Pass, ...] = (Pass(),)

    @property
    def current(self) -> int:
        """The pass under way, from 1."""
        return len(self.passes)

    def count(self, step: str) -> int | None:
        """What the step changed over every pass (None: it has not counted yet)."""
        counted = [p.counts[step] for p in self.passes if step in p.counts]
        return sum(counted) if counted else None

    def done(self, step: str, in_pass: int | None = None) -> bool:
        """Whether the step is done in the pass (by default the one under way)."""
        return step in self.passes[(in_pass or self.current) - 1].done


@dataclass(frozen=True)
class PrivacyRequest:
    id: str
    type: RequestType
    status: Status
    received_at: dt.datetime
    deadline: dt.datetime
    identifiers: tuple[Identifier, ...] | None
    """What the person gave; None once an erasure completed (only their keyed hashes stay)."""
    identifier_hashes: tuple[str, ...] = ()
    extension_months: int = 0
    extensions: tuple[Extension, ...] = ()
    events: tuple[Event, ...] = ()
    completed_at: dt.datetime | None = None
    error: str | None = None
    journal: Journal = Journal()
    completes: str | None = None
    """The erasure whose person an import stored again after it, which this one erases."""
    deliveries: tuple[Delivery, ...] = ()
    """Each time its access export was handed over, oldest first."""
    version: int = 0

    @property
    def keys(self) -> list[str]:
        return [i.key for i in self.identifiers or ()]

    def overdue(self, now: dt.datetime) -> bool:
        return self.status in OPEN and self.deadline < now

    def duplicated_by(self, other: PrivacyRequest) -> Duplicate | None:
        """``other`` as a duplicate of this request: open, of the same type, another, and
        naming one of the identifiers this one names (None otherwise)."""
        if other.id == self.id or other.type is not self.type or other.status not in OPEN:
            return None
        shared = tuple(k for k in self.keys if k in set(other.keys))
        if not shared:
            return None
        return Duplicate(other.id, other.type, other.status, other.received_at, shared)

    def unnamed(self, *patterns: str) -> PrivacyRequest:
        """The request with every note and extension reason that names the person (by the
        text ``patterns`` of their identifiers, of their names) replaced by
        :data:`ERASED_NOTE`; the events stay."""
        if not any(patterns):
            return self
        events = tuple(replace(e, note=unnamed(e.note, *patterns)) for e in self.events)
        extensions = tuple(
            replace(e, reason=unnamed(e.reason, *patterns) or e.reason) for e in self.extensions
        )
        return replace(self, events=events, extensions=extensions)


class SuppressionKind(enum.StrEnum):
    IDENTIFIER = "identifier"
    PROFILE = "profile"
    RECORD = "record"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class Suppression:
    """A keyed hash standing for an erased identifier, profile, record or dead letter, and the
    erasure it came from (lifting every identifier of that erasure lifts the rest of it)."""

    digest: str
    kind: SuppressionKind
    request: str | None
    at: dt.datetime | None = None


@dataclass(frozen=True)
class Tombstone:
    digest: str
    at: dt.datetime


@dataclass(frozen=True)
class Receipt:
    request_id: str
    body: Mapping[str, Any]
    """What was erased, counts per collection and per step, when, by whom: signed as JSON."""
    signature: str
    public_key: str


@dataclass(frozen=True)
class Held:
    """A stored document of the person's, with what says where it came from: ``document`` is
    handed over as it is stored (:data:`StoredDocument`), the other fields are read from it."""

    collection: str
    id: str
    document: StoredDocument
    profile_id: str | None = None
    system: str | None = None
    """The source system of a record, the connector of a dead letter."""
    kind: str | None = None
    """A record's kind, an audit entry's action."""
    occurred_at: dt.datetime | None = None
    rule: str | None = None
    """What merged two profiles."""
    key_id: str | None = None
    """The API key an audit entry's caller held."""


@dataclass(frozen=True)
class Found:
    """What is stored under names an import met that an erasure suppressed: identity keys with
    their owners, records with their profiles (None: no profile holds it), dead letters."""

    owners: Mapping[str, str] = field(default_factory=dict)
    records: Mapping[str, str | None] = field(default_factory=dict)
    dead_letters: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.owners or self.records or self.dead_letters)


# --- A request's scope, previewed before it runs --------------------------------------------


@dataclass(frozen=True)
class ScopeIdentity:
    """An identity a profile of the scope holds now, and the key it was claimed through when
    it was not its record's first (it goes where that one goes)."""

    key: str
    type: IdentifierType
    value: str
    source: str | None
    profile_id: str
    claimed_via: str | None = None


@dataclass(frozen=True)
class ScopeMerge:
    """A merge that stands (not undone) and absorbed a profile of the scope, as the merges
    journal keeps it: the rule that made it (``manual``: a person, ``actor``), the reason or
    evidence kept, and the identity keys the absorbed profile held then."""

    id: str
    absorbed: str
    survivor: str
    rule: str
    actor: str
    at: dt.datetime
    reason: str | None
    moved: tuple[str, ...]

    @property
    def manual(self) -> bool:
        return self.rule == MANUAL_RULE


MANUAL_RULE = "manual"
"""The rule the merges journal names a merge a person made by (identity's ``MANUAL_RULE``)."""


@dataclass(frozen=True)
class ScopeRecord:
    """What a preview reads of a record of the scope: its kind, the identity keys that link
    it, and the names a person record gives."""

    kind: str
    profile_id: str
    keys: tuple[str, ...]
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScopedIdentifier:
    key: str
    type: IdentifierType
    value: str
    source: str | None
    given: bool
    """Whether the requester gave it."""


@dataclass(frozen=True)
class ScopedProfile:
    """A profile a request covers: the identifiers it brought (those an unmerge would give
    back to it), the names its person records give, its records by kind (each counted where
    the identifier that links it came from), and the merges between it and the nearest
    profile holding an identifier the requester gave (``through``; empty when it holds one)."""

    id: str
    merged_into: str | None
    identifiers: tuple[ScopedIdentifier, ...]
    names: tuple[str, ...]
    records: Mapping[str, int]
    through: tuple[str, ...]

    @property
    def holds_given(self) -> bool:
        return any(i.given for i in self.identifiers)


class ScopeWarningKind(enum.StrEnum):
    NOT_GIVEN = "not_given"
    """The scope holds identifiers the requester did not give."""
    MANUAL_MERGE = "manual_merge"
    """The scope goes through a merge a person made."""


@dataclass(frozen=True)
class ScopeWarning:
    kind: ScopeWarningKind
    message: str
    profile: str | None = None
    merge: str | None = None
    """The merge an unmerge takes (``unmergeProfile(mergeId)``)."""
    identifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScopePreview:
    """What a request covers: its profiles with their identifiers (given or reached through
    records or merges), the merges involved, the records by kind, the warnings, and a
    fingerprint of it all that a run is acknowledged with. ``kept``: the scope a run found and
    keeps (else the one it would find now)."""

    request: str
    given: tuple[str, ...]
    unmatched: tuple[str, ...]
    """Identifiers given that no profile holds."""
    profiles: tuple[ScopedProfile, ...]
    merges: tuple[ScopeMerge, ...]
    records: Mapping[str, int]
    warnings: tuple[ScopeWarning, ...]
    fingerprint: str
    kept: bool = False
