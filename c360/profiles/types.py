"""Profiles and their identifiers as readers see them: what the repository hands upward."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from c360.identity.types import ProfileIdentifier  # the identity domain's, which keeps them

__all__ = ["Profile", "ProfileIdentifier", "Span"]


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    created_at: dt.datetime | None
    first_seen_at: dt.datetime | None  # the span of the person's own activity (None: none yet)
    last_seen_at: dt.datetime | None
    merged_into: str | None = None  # absorbed into that profile by a merge


Span = tuple[dt.datetime, dt.datetime]
"""First and last seen."""
