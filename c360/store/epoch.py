"""Instants kept as epoch milliseconds: integers, which ``$min`` and ``$max`` update in place
atomically and idempotently on any MongoDB (the embedded development server stores a date
updated in place as a string). Converted exactly both ways: no float in between."""

from __future__ import annotations

import datetime as dt

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


def epoch_ms(moment: dt.datetime) -> int:
    """The millisecond ``moment`` falls in (a timezone-aware instant)."""
    return (moment - EPOCH) // _MS


def from_epoch_ms(value: int) -> dt.datetime:
    return EPOCH + value * _MS


def as_stored(moment: dt.datetime) -> dt.datetime:
    """``moment`` to the millisecond, as BSON keeps a date: an answer made from an instant
    before it is stored then reads as the stored one will."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
