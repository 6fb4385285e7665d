"""Periods in the reporting time zone: days, ISO weeks (from Monday) and calendar months that
start at local midnight, whatever the UTC offset of that day (DST included).

A query's ``[start, end)`` is cut into the buckets of its interval, each clipped to the query's
bounds; without an interval it is one period. Each period knows the one before it: the same
local span one interval earlier (a clipped 15th to 31st of January compares with the 15th to 31st of
December), or, without an interval, the span of the same length that ends where it begins.
A local midnight that a DST change skips begins the day at the instant of the change.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from c360.errors import InvalidInput
from c360.instants import askable
from c360.metrics.ledger import VISIT_SLOT_MS

SHORTEST_SPAN = dt.timedelta(milliseconds=VISIT_SLOT_MS)
"""Visits are kept per quarter hour (``c360.metrics.ledger.compact_visits``): a span as long
finds the same visitors as every visit would, a shorter one need not."""


class Interval(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, order=True)
class Period:
    start: dt.datetime  # UTC, inclusive
    end: dt.datetime  # UTC, exclusive
    previous_start: dt.datetime
    previous_end: dt.datetime

    @property
    def previous(self) -> tuple[dt.datetime, dt.datetime]:
        return self.previous_start, self.previous_end


def local(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return moment.astimezone(zone)


def midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant at which ``day`` begins in ``zone``."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def bucket_start(day: dt.date, interval: Interval) -> dt.date:
    if interval is Interval.WEEK:
        return day - dt.timedelta(days=day.weekday())
    if interval is Interval.MONTH:
        return day.replace(day=1)
    return day


def shift(day: dt.date, interval: Interval, steps: int) -> dt.date:
    """``day`` moved by whole intervals (a month keeps its day, clamped to the month's end)."""
    if interval is Interval.DAY:
        return day + dt.timedelta(days=steps)
    if interval is Interval.WEEK:
        return day + dt.timedelta(weeks=steps)
    months = day.year * 12 + day.month - 1 + steps
    year, month = divmod(months, 12)
    last = _month_length(year, month + 1)
    return dt.date(year, month + 1, min(day.day, last))


def _month_length(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def _earlier_instant(moment: dt.datetime, interval: Interval, zone: ZoneInfo) -> dt.datetime:
    """An instant one interval earlier in local wall-clock time; the start of a local day
    moves to the start of the day one interval earlier."""
    wall = local(moment, zone)
    day = shift(wall.date(), interval, -1)
    if moment == midnight(wall.date(), zone):
        return midnight(day, zone)
    return dt.datetime.combine(day, wall.time().replace(tzinfo=None), tzinfo=zone).astimezone(
        dt.UTC
    )


def earlier(
    start: dt.datetime, end: dt.datetime, interval: Interval | None, zone: ZoneInfo
) -> tuple[dt.datetime, dt.datetime]:
    """The span a period is compared with: one interval earlier, or without an interval the
    span of the same length that ends where it begins."""
    if interval is None:
        return start - (end - start), start
    return _earlier_instant(start, interval, zone), _earlier_instant(end, interval, zone)


def periods(
    start: dt.datetime,
    end: dt.datetime,
    interval: Interval | None,
    zone: ZoneInfo,
    *,
    max_periods: int,
) -> list[Period]:
    """The periods of ``[start, end)``, oldest first."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("from and to need a time zone (an offset or Z)")
    start, end = askable(start).astimezone(dt.UTC), askable(end).astimezone(dt.UTC)
    if start >= end:
        raise InvalidInput("from must be earlier than to")
    if end - start < SHORTEST_SPAN:
        raise InvalidInput(
            f"from and to must be at least {SHORTEST_SPAN.seconds // 60} minutes apart "
            "(visits are counted by quarter hour)"
        )
    if interval is None:
        return [Period(start, end, *earlier(start, end, None, zone))]
    found: list[Period] = []
    day = bucket_start(local(start, zone).date(), interval)
    while (bucket := midnight(day, zone)) < end:
        following = shift(day, interval, 1)
        lower, upper = max(bucket, start), min(midnight(following, zone), end)
        if lower < upper:
            if len(found) == max_periods:
                raise InvalidInput(
                    f"more than {max_periods} {interval.value}s between from and to; ask for "
                    "a longer interval or a shorter span"
                )
            found.append(Period(lower, upper, *earlier(lower, upper, interval, zone)))
        day = following
    return found
