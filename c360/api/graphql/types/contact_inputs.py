"""GraphQL inputs of contact: what a caller asks to change, and an audience's filter."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry

from c360.api.graphql.values import Purpose
from c360.contact.types import AudienceFilter
from c360.profiles.lifecycle import LifecycleStage, ValueTier
from schemas.records import (
    ChangeOrigin,
    ConsentStatus,
    ContactChannel,
    ContactOutcome,
    PreferenceField,
    Weekday,
)


@strawberry.input
class AudienceFilterInput:
    lifecycle_stages: list[LifecycleStage] | None = None
    value_tiers: list[ValueTier] | None = None
    countries: list[str] | None = strawberry.field(
        default=None,
        description="Countries of the contact point to use: ISO 3166-1 alpha-2 codes, any case "
        "(a code that names no country is refused, InvalidInput).",
    )

    def to_filter(self) -> AudienceFilter:
        return AudienceFilter.of(self.lifecycle_stages, self.value_tiers, self.countries)


@strawberry.input
class PurposeChannelInput:
    purpose: Purpose
    channel: ContactChannel | None = strawberry.field(description="Null removes the preference.")


@strawberry.input
class QuietHoursInput:
    start: dt.time
    end: dt.time


@strawberry.input
class ContactWindowInput:
    days: list[Weekday]
    start: dt.time
    end: dt.time
    channels: list[ContactChannel] = strawberry.field(default_factory=list)


@strawberry.input
class FrequencyCapInput:
    channel: ContactChannel
    purpose: Purpose
    max_contacts: int | None = strawberry.field(description="Null: back to the default cap.")
    per_days: int = 7


@strawberry.input(description="What to change; what is left out stays as it is.")
class ContactPreferenceInput:
    profile_id: strawberry.ID
    preferred_channels: list[PurposeChannelInput] | None = None
    language: str | None = None
    time_zone: str | None = None
    quiet_hours: QuietHoursInput | None = None
    contact_windows: list[ContactWindowInput] | None = None
    frequency_caps: list[FrequencyCapInput] | None = None
    clear: list[PreferenceField] | None = strawberry.field(
        default=None, description="Preferences to remove (back to the defaults)."
    )
    origin: ChangeOrigin = ChangeOrigin.AGENT
    evidence: str | None = None

    def change(self) -> dict[str, Any]:
        change: dict[str, Any] = {
            "preferred_channels": {p.purpose: p.channel for p in self.preferred_channels or []},
            "language": self.language,
            "time_zone": self.time_zone,
            "quiet_hours": None
            if self.quiet_hours is None
            else {"start": self.quiet_hours.start, "end": self.quiet_hours.end},
            "contact_windows": None
            if self.contact_windows is None
            else [
                {"days": w.days, "start": w.start, "end": w.end, "channels": w.channels}
                for w in self.contact_windows
            ],
            "frequency_caps": [
                {
                    "channel": c.channel,
                    "purpose": c.purpose,
                    "max_contacts": c.max_contacts,
                    "per_days": c.per_days,
                }
                for c in self.frequency_caps or []
            ],
            "cleared": self.clear or [],
        }
        return change


@strawberry.input(description="A consent change: given (OPTED_IN) or withdrawn (OPTED_OUT).")
class RecordConsentInput:
    profile_id: strawberry.ID = strawberry.field(description="The customer's profile id.")
    channel: ContactChannel
    purpose: Purpose | None = strawberry.field(
        default=None, description="Null: the whole channel, every purpose."
    )
    status: ConsentStatus = strawberry.field(
        description="OPTED_IN or OPTED_OUT (PENDING is the double opt-in's, never asked for)."
    )
    contact_point: str | None = strawberry.field(
        default=None,
        description="The address or number, one of the profile's on that channel, written any "
        "way (it is normalised as at ingest); null: the whole channel.",
    )
    origin: ChangeOrigin = strawberry.field(
        default=ChangeOrigin.AGENT,
        description="How it came about: AGENT (on the customer's word to an agent) or "
        "PREFERENCE_CENTRE (the customer's own choice: a preference centre, a checkout box); "
        "the other origins come from their own flows and are refused here.",
    )
    evidence: str | None = strawberry.field(
        default=None,
        description="What shows the customer's choice (the wording they agreed to, a note), "
        "kept with the change.",
    )
    external_id: str | None = strawberry.field(
        default=None,
        description="Your id of this change (a checkout's order id, a form submission's id), "
        "for retries: recording it again with the same id appends nothing and answers what "
        "was recorded the first time (a double opt-in with a new link to the same request: "
        "either confirms it). Reused for a different change, it is an InvalidInputError. "
        "Without one, every call is a new change.",
    )


@strawberry.input
class RecordContactInput:
    profile_id: strawberry.ID
    channel: ContactChannel
    purpose: Purpose
    contact_point: str | None = None
    campaign: str | None = None
    outcome: ContactOutcome = ContactOutcome.SENT
    occurred_at: dt.datetime | None = strawberry.field(default=None, description="Default: now.")
    external_id: str | None = strawberry.field(
        default=None,
        description="Your id of the send. Logged again with it, the send is not counted twice: "
        "the entry is replaced (a retry, a later outcome such as OPENED) unless the new one "
        "says an earlier occurredAt. Send occurredAt with it: left out, it is each call's "
        "time, so a retry moves the send to when it was retried.",
    )
