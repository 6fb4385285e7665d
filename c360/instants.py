"""The instants c360 can be asked about: years 1900 to 8999, as written.

No customer data comes from before 1900, and a question reaches around the instants it names
(a cap looks a year back, quiet hours days ahead, a KPI period has a month before it and the
next bucket after it): stopping at 8999 keeps that arithmetic far inside the calendar Python's
dates hold (to 9999), so a far date is refused by name rather than failing on the way."""

from __future__ import annotations

import datetime as dt

from c360.errors import InvalidInput

ASKABLE_YEARS = (1900, 9000)
"""First year askable, and the first past them."""
ASKABLE_PATTERN = r"^(19|[2-8][0-9])[0-9][0-9]-"
"""The same years as the start of an ISO 8601 text (for a schema's ``pattern``)."""


def askable(at: dt.datetime) -> dt.datetime:
    """``at``, refused (``InvalidInput``) when its year, as written, is outside the askable
    years."""
    if not ASKABLE_YEARS[0] <= at.year < ASKABLE_YEARS[1]:
        first, end = ASKABLE_YEARS
        raise InvalidInput(f"{at.isoformat()} is not in the years {first} to {end - 1}")
    return at


def zoned(at: dt.datetime) -> dt.datetime:
    """``at``, refused (``InvalidInput``) when it has no time zone: which instant it names
    would be the server's guess."""
    if at.tzinfo is None:
        raise InvalidInput(f"{at.isoformat()} has no time zone; e.g. 2026-11-22T10:00:00Z")
    return at
