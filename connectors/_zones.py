"""Time zones named by a place alone, as Rails names them (``Copenhagen``, ``Tokyo``) and
vendors built on it write them (Zendesk's ``time_zone``)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache


def zone_of_place(name: str) -> str | None:
    """The IANA zone of the place ``name`` names (spaces for underscores), where the zones
    ending with that place are one; None otherwise (``Eastern Time (US & Canada)``)."""
    return _zones_by_place().get(name.strip().replace(" ", "_"))


@cache  # on first use: every c360 command imports the connectors
def _zones_by_place() -> dict[str, str]:
    """Each place (the last part of an IANA zone name) and its zone, where the zones ending
    with it are one (``America/Buenos_Aires`` is a link to ``America/Argentina/Buenos_Aires``;
    ``Australia/West`` and ``Brazil/West`` are not one: ``West`` names none)."""
    places: dict[str, list[str]] = {}
    for zone in zoneinfo.available_timezones():
        area, _, place = zone.rpartition("/")
        if area and area not in ("Etc", "SystemV", "US") and place:
            places.setdefault(place, []).append(zone)
    return {
        place: max(sorted(zones), key=len)
        for place, zones in places.items()
        if len({_offsets(zone) for zone in zones}) == 1
    }


_SAMPLES = [
    dt.datetime(year, month, 1, tzinfo=dt.UTC) for year in (1990, 2010, 2025) for month in (1, 7)
]


def _offsets(zone: str) -> tuple[dt.timedelta | None, ...]:
    """A zone's UTC offsets at a few instants: two names with the same are one zone here."""
    place = zoneinfo.ZoneInfo(zone)
    return tuple(sample.astimezone(place).utcoffset() for sample in _SAMPLES)
