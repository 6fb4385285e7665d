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
