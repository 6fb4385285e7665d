"""A profile's contact preferences, folded from its preference-change records.

Like consent, preferences are never overwritten: each change is a record, and the effective
preferences are a fold over the records the profile holds (so a merge combines both sides and an
unmerge restores each). Each preference is folded on its own: the latest change that names it
wins (by when it happened, ties to the higher record id), so a preference centre that sets a
time zone and an agent who sets a preferred channel do not undo each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from c360.contact.consent import change_order
from c360.records.types import Record
from schemas.records import WEEKDAYS, Weekday


@dataclass(frozen=True)
class Change:
    """Where a preference's current value came from."""

    since: dt.datetime
    source: str
    origin: str
    record_id: str
    actor: str | None = None
    evidence: str | None = None

    @classmethod
    def of(cls, record: Record) -> Change:
        data = record.payload
        return cls(
            since=record.occurred_at,
            source=record.source,
            origin=data.get("origin", "import"),
            record_id=record.id,
            actor=data.get("actor"),
            evidence=data.get("evidence"),
        )


@dataclass(frozen=True)
class Hours:
    start: dt.time
    end: dt.time

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> Hours:
        return cls(dt.time.fromisoformat(value["start"]), dt.time.fromisoformat(value["end"]))


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # date.weekday(): 0 = Monday
    hours: Hours
    channels: frozenset[str]  # empty: every channel

    def applies_to(self, channel: str) -> bool:
        return not self.channels or channel in self.channels


@dataclass(frozen=True)
class Cap:
    max_contacts: int
    per_days: int


T = TypeVar("T")


@dataclass(frozen=True)
class Chosen(Generic[T]):
    """A preference's value and where it came from."""

    value: T
    change: Change


def window_of(value: Mapping[str, Any]) -> Window:
    return Window(
        days=frozenset(WEEKDAYS.index(Weekday(d)) for d in value["days"]),
        hours=Hours.of(value),
        channels=frozenset(value.get("channels", ())),
    )


@dataclass
class Preferences:
    preferred_channels: dict[str, Chosen[str]] = field(default_factory=dict)  # purpose → channel
    language: Chosen[str] | None = None
    time_zone: Chosen[str] | None = None
    quiet_hours: Chosen[Hours] | None = None
    contact_windows: Chosen[tuple[Window, ...]] | None = None
    frequency_caps: dict[tuple[str, str], Chosen[Cap]] = field(default_factory=dict)
    do_not_contact: Chosen[str | None] | None = None  # value: the reason; None once lifted


def fold_preferences(changes: Iterable[Record]) -> Preferences:
    """``changes``: the profile's preference-change records, in any order."""
    prefs = Preferences()
    for record in sorted(changes, key=change_order):
        data, change = record.payload, Change.of(record)
        for purpose, channel in data.get("preferred_channels", {}).items():
            if channel is None:
                prefs.preferred_channels.pop(purpose, None)
            else:
                prefs.preferred_channels[purpose] = Chosen(channel, change)
        if "language" in data:
            prefs.language = Chosen(data["language"], change)
        if "time_zone" in data:
            prefs.time_zone = Chosen(data["time_zone"], change)
        if "quiet_hours" in data:
            prefs.quiet_hours = Chosen(Hours.of(data["quiet_hours"]), change)
        if "contact_windows" in data:
            windows = tuple(window_of(w) for w in data["contact_windows"])
            prefs.contact_windows = Chosen(windows, change)
        for cap in data.get("frequency_caps", ()):
            key = (cap["channel"], cap["purpose"])
            if cap.get("max_contacts") is None:
                prefs.frequency_caps.pop(key, None)
            else:
                prefs.frequency_caps[key] = Chosen(
                    Cap(cap["max_contacts"], cap["per_days"]), change
                )
        if (stop := data.get("do_not_contact")) is not None:
            reason = stop.get("reason") if stop["active"] else None
            prefs.do_not_contact = Chosen(reason, change)
        for name in data.get("cleared", ()):
            setattr(prefs, name, None)
    return prefs
