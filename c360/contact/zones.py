"""Which of the zones a customer may be in keep different times.

A country or a phone number names several zones, some of which keep one time: Büsingen keeps
Berlin's, Ceuta Madrid's. A decision's reasons and the console name each time once, by the zone
of the most people (the order of tzdb's ``zone.tab``): a German customer is in Europe/Berlin,
not "Europe/Berlin or Europe/Busingen"; a Spanish mobile in Europe/Madrid or Atlantic/Canary.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

_SAMPLE = dt.timedelta(hours=6)
_SAMPLES = 4 * 731  # six-hourly over two years


@cache
def distinct_zones(zones: tuple[str, ...]) -> tuple[str, ...]:
    """The zones that keep different times, most people's first, one of each. Two zones keep
    the same time when their offsets agree every six hours from the start of this year to the
    end of the next (quiet hours and windows then hold alike in both)."""
    year = dt.datetime.now(dt.UTC).year
    kept: dict[tuple[dt.timedelta | None, ...], str] = {}
    for name in sorted(zones, key=_rank):
        kept.setdefault(_offsets(name, year), name)
    return tuple(kept.values())


def _rank(name: str) -> int:
    ranks = _zone_tab()
    return ranks.get(name, len(ranks))


@cache
def _zone_tab() -> dict[str, int]:
    """Each zone's row in tzdb's ``zone.tab``: by country, the most populous zone first."""
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text("utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return {row[2]: n for n, row in enumerate(rows) if len(row) >= 3}


@cache
def _offsets(name: str, year: int) -> tuple[dt.timedelta | None, ...]:
    zone, start = ZoneInfo(name), dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    return tuple((start + _SAMPLE * n).astimezone(zone).utcoffset() for n in range(_SAMPLES))
