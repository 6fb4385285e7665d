"""Wall-clock rules in the customer's time zone: quiet hours and contact windows.

Instants are UTC; rules are local wall times. Converting a wall time back to an instant goes
through :mod:`zoneinfo`, so daylight-saving changes are honoured: quiet hours ending at 08:00
end at 08:00 local on the day the clocks change too. A wall time that a change skips (02:30 on
a spring-forward night) is read with the offset before the change, which lands after the gap:
later than strictly needed, never earlier.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from c360.contact.preferences import Hours, Window


def _instant(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)


def within(hours: Hours, local: dt.time) -> bool:
    """Is the wall time inside ``hours`` (start inclusive, end exclusive; may span midnight)?"""
    if hours.start < hours.end:
        return hours.start <= local < hours.end
    return local >= hours.start or local < hours.end


def quiet_until(hours: Hours, moment: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
    """When the quiet hours around ``moment`` end; None when it is not in quiet hours."""
    local = moment.astimezone(zone)
    if not within(hours, local.time()):
        return None
    day = local.date()
    for offset in range(3):  # the end is today or tomorrow; a gap day may push it once more
        end = _instant(day + dt.timedelta(days=offset), hours.end, zone)
        if end > moment:
            return end
    raise AssertionError("quiet hours end within two days")


def in_window(windows: Iterable[Window], moment: dt.datetime, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone)
    return any(
        local.weekday() in w.days and w.hours.start <= local.time() < w.hours.end for w in windows
    )


def next_window(windows: Iterable[Window], moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The first instant after ``moment`` at which a window opens."""
    local_day = moment.astimezone(zone).date()
    starts = [
        start
        for w in windows
        for offset in range(8)
        if (day := local_day + dt.timedelta(days=offset)).weekday() in w.days
        and (start := _instant(day, w.hours.start, zone)) > moment
    ]
    return min(starts)
