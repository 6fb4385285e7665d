"""What is in force for a profile's contact, with no I/O: its preferences with the defaults
they did not replace, and its contact points with what is known of each. What an agent or a
preference centre shows as the customer's contact preferences."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from c360.contact.consent import ConsentState
from c360.contact.facts import ContactFacts
from c360.contact.policy import PolicyConfig, caps_in_force, points_of
from c360.contact.preferences import Cap, Chosen, Hours, Window
from schemas.records import ContactChannel, ContactPointState


@dataclass(frozen=True)
class PointInForce:
    """A contact point and what is known of it (unverified until something says more)."""

    channel: ContactChannel
    value: str
    status: ContactPointState
    since: dt.datetime | None
    reason: str | None


@dataclass(frozen=True)
class CapInForce:
    channel: str
    purpose: str
    cap: Cap
    set_by: str  # customer | default


@dataclass(frozen=True)
class Effective:
    profile_id: str
    do_not_contact: Chosen[str | None] | None  # value: the reason; None once lifted
    preferred_channels: list[tuple[str, Chosen[str]]]  # (purpose, channel), by purpose
    language: str | None  # the preference, else the person's
    time_zone: str | None
    quiet_hours: Hours | None  # the customer's own
    effective_quiet_hours: Hours | None  # theirs, else the default
    contact_windows: tuple[Window, ...]
    frequency_caps: list[CapInForce]  # the customer's, and the defaults they did not replace
    contact_points: list[PointInForce]
    consents: list[ConsentState]


def effective(facts: ContactFacts, policy: PolicyConfig) -> Effective:
    prefs = facts.preferences
    points = []
    for channel in ContactChannel:
        for value, _ in points_of(facts, channel):
            status = facts.status_of(channel, value)
            points.append(
                PointInForce(
                    channel=channel,
                    value=value,
                    status=ContactPointState(status.status if status else "unverified"),
                    since=status.since if status else None,
                    reason=status.reason if status else None,
                )
            )
    own_quiet = prefs.quiet_hours.value if prefs.quiet_hours else None
    return Effective(
        profile_id=facts.profile_id,
        do_not_contact=prefs.do_not_contact,
        preferred_channels=sorted(prefs.preferred_channels.items()),
        language=prefs.language.value if prefs.language else facts.traits.value("language"),
        time_zone=prefs.time_zone.value if prefs.time_zone else facts.traits.value("time_zone"),
        quiet_hours=own_quiet,
        effective_quiet_hours=own_quiet or policy.quiet_hours,
        contact_windows=prefs.contact_windows.value if prefs.contact_windows else (),
        frequency_caps=[
            CapInForce(channel, purpose, cap, whose)
            for (channel, purpose), (cap, whose) in caps_in_force(facts, policy).items()
        ],
        contact_points=points,
        consents=facts.consents,
    )
