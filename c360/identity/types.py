"""The identity domain's values as its services and the API see them: the identifiers profiles
hold, merges as the journal keeps them, the suggestions matching leaves for someone to review,
and what a merge would move. The repositories turn documents into these and back."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from schemas import IdentifierType


class MergeStatus(enum.StrEnum):
    STARTED = "started"  # its steps are running, or a crash cut them short
    DONE = "done"
    UNDOING = "undoing"  # an unmerge's steps are running, or were cut short
    UNDONE = "undone"


class SuggestionStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class MergeEntry:
    """One merge in the ``merges`` journal: which profile was absorbed into which, by what rule
    or whom, and the identity keys the absorbed profile held then (what an unmerge hands back,
    with whatever was claimed through them since)."""

    id: str
    absorbed: str
    survivor: str
    rule: str
    actor: str
    status: MergeStatus
    started_at: dt.datetime
    moved_identities: tuple[str, ...]
    reason: str | None = None
    undone_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Two profiles matching found alike, but not enough to merge on its own."""

    id: str
    profiles: tuple[str, str]
    reasons: tuple[str, ...]
    status: SuggestionStatus


@dataclass(frozen=True, slots=True)
class MergePreview:
    """What merging ``absorbed`` into ``survivor`` would move."""

    survivor: str
    absorbed: str
    identities: tuple[str, ...]
    records: int


@dataclass(frozen=True, slots=True)
class ProfileIdentifier:
    """An identifier a profile holds (``identities``: one per normalised identifier, keyed by
    its identity key). ``claimed_via``: the key of the identifier of the same record that linked
    it, when it was not the record's first (an unmerge sends it where that one goes)."""

    key: str  # email:ana@example.com, phone:+34…, ext:shopify:123
    type: IdentifierType
    value: str
    source: str | None
    first_seen_at: dt.datetime | None
    profile_id: str
    claimed_via: str | None = None
