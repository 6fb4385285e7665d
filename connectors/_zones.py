"""Time zones named by a place alone, as Rails names them (``Copenhagen``, ``Tokyo``) and
vendors built on it write them (Zendesk's ``time_zone``)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache

RAILS_NAMES = {
    "International Date Line West": "Etc/GMT+12",
    "Midway Island": "Pacific/Midway",
    "American Samoa": "Pacific/Pago_Pago",
    "Samoa": "Pacific/Apia",
    "Hawaii": "Pacific/Honolulu",
    "Alaska": "America/Juneau",
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Mountain Time (US & Canada)": "America/Denver",
    "Arizona": "America/Phoenix",
    "Central Time (US & Canada)": "America/Chicago",
    "Central America": "America/Guatemala",
    "Saskatchewan": "America/Regina",
    "Guadalajara": "America/Mexico_City",
    "Eastern Time (US & Canada)": "America/New_York",
    "Indiana (East)": "America/Indiana/Indianapolis",
    "Quito": "America/Lima",
    "Atlantic Time (Canada)": "America/Halifax",
    "Georgetown": "America/Guyana",
    "Newfoundland": "America/St_Johns",
    "Brasilia": "America/Sao_Paulo",
    "Greenland": "America/Nuuk",
    "Mid-Atlantic": "Atlantic/South_Georgia",
    "Cape Verde Is.": "Atlantic/Cape_Verde",
    "UTC": "Etc/UTC",
    "Edinburgh": "Europe/London",
    "Bern": "Europe/Zurich",
    "West Central Africa": "Africa/Algiers",
    "Pretoria": "Africa/Johannesburg",
    "St. Petersburg": "Europe/Moscow",
    "Ekaterinburg": "Asia/Yekaterinburg",
    "Abu Dhabi": "Asia/Muscat",
    "Islamabad": "Asia/Karachi",
    "Chennai": "Asia/Kolkata",
    "Mumbai": "Asia/Kolkata",
    "New Delhi": "Asia/Kolkata",
    "Sri Jayawardenepura": "Asia/Colombo",
    "Astana": "Asia/Almaty",
    "Hanoi": "Asia/Bangkok",
    "Beijing": "Asia/Shanghai",
    "Osaka": "Asia/Tokyo",
    "Sapporo": "Asia/Tokyo",
    "Solomon Is.": "Pacific/Guadalcanal",
    "New Caledonia": "Pacific/Noumea",
    "Marshall Is.": "Pacific/Majuro",
    "Wellington": "Pacific/Auckland",
    "Nuku'alofa": "Pacific/Tongatapu",
    "Tokelau Is.": "Pacific/Fakaofo",
    "Chatham Is.": "Pacific/Chatham",
}
"""Rails zone names that are no place an IANA zone ends with, or that one names otherwise
(Rails' ``Samoa`` is Apia, where ``Pacific/Samoa`` is Pago Pago, a day apart)."""
_OLD_AREAS = frozenset({"Brazil", "Canada", "Chile", "Etc", "Mexico", "SystemV", "US"})
"""Areas of names kept for old systems only (``Canada/Eastern``, ``US/Samoa``): no place."""


def zone_of_place(name: str) -> str | None:
    """The IANA zone of a Rails zone name: from ``RAILS_NAMES``, else the zone of the place
    it names (spaces for underscores) where the zones ending with that place are one; None
    otherwise."""
    name = name.strip()
    return RAILS_NAMES.get(name) or _zones_by_place().get(name.replace(" ", "_"))


@cache  # on first use: every c360 command imports the connectors
def _zones_by_place() -> dict[str, str]:
    """Each place (the last part of an IANA zone name) and its zone, where the zones ending
    with it are one (``America/Buenos_Aires`` is a link to ``America/Argentina/Buenos_Aires``;
    ``Asia/Nicosia`` and ``Europe/Nicosia`` one zone too)."""
    places: dict[str, list[str]] = {}
    for zone in zoneinfo.available_timezones():
        area, _, place = zone.rpartition("/")
        if not place:
            continue
        if area and area.partition("/")[0] not in _OLD_AREAS:
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
