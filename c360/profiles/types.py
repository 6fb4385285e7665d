"""Profiles and their identifiers as readers see them: what the repository hands upward."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schemas.identifiers import IdentifierType


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    created_at: dt.datetime | None
    first_seen_at: dt.datetime | None  # the span of the person's own activity (None: none yet)
    last_seen_at: dt.datetime | None
    merged_into: str | None = None  # absorbed into that profile by a merge


@dataclass(frozen=True, slots=True)
class ProfileIdentifier:
    """An identifier linked to a profile (``identities``)."""

    key: str  # email:ana@example.com, phone:+34…, ext:shopify:123
    type: IdentifierType
    value: str
    source: str | None
    first_seen_at: dt.datetime | None
    profile_id: str


Span = tuple[dt.datetime, dt.datetime]
"""First and last seen."""
