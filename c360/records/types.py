"""Records as their readers see them: what the repository hands upward, never a document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.identifiers import IdentifierType
from schemas.records import RecordKind


@dataclass(frozen=True, slots=True)
class RecordIdentifier:
    """An identifier as the source record carried it (normalised)."""

    type: IdentifierType
    value: str
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """A stored source record: its envelope, and what it says (``payload``).

    ``payload`` holds the canonical record's own fields by their canonical names (see
    ``schemas.records``), as JSON would: dates and times of day as ISO text, amounts as
    ``{"amount", "currency"}``; its envelope fields are attributes here.
    """

    id: str  # {source}:{kind}:{external_id}
    kind: RecordKind
    source: str
    external_id: str
    occurred_at: dt.datetime
    revision: dt.datetime
    payload: Mapping[str, Any]
    identifiers: tuple[RecordIdentifier, ...] = ()
    profile_id: str | None = None  # None: linked to no profile yet
    position: str = ""  # where it sorts on the timeline, newest last: its edge's cursor


@dataclass(frozen=True, slots=True)
class Unlinked:
    """An identifier a record carries that did not link it, and why (blocked, over a limit,
    held by another profile, shared by several people)."""

    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class StoredRevision:
    """A stored record's revision, what an incoming one is compared with."""

    revision: dt.datetime
    content_hash: str
    profile_id: str | None = None  # where the stored revision is (a new one may move it)
    batch: str | None = None  # the ingest batch that wrote it
    stated: int | None = None  # how many values it states (None: stored before it was kept)

    def older_than(self, other: StoredRevision) -> bool:
        """Revisions order by time; equal times by how many values each states, so that a
        sparser copy of one revision (a webhook carrying a few of its fields) never replaces a
        fuller one, then by content hash: every order of arrival converges. A copy stored before
        the count was kept is counted when read (``RecordRepository.revisions``); one without a
        count compares by hash alone."""
        if self.revision != other.revision:
            return self.revision < other.revision
        if None not in (self.stated, other.stated) and self.stated != other.stated:
            return (self.stated or 0) < (other.stated or 0)
        return self.content_hash < other.content_hash
