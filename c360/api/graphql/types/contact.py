"""GraphQL types of contact: consent, decisions, ranked channels, preferences, audiences."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from c360.api.graphql.access import (
    Disclosed,
    MaskedWithout,
    case_text,
    holds,
    in_text,
    public,
)
from c360.api.graphql.context import Context
from c360.api.graphql.errors import InvalidInputError, NotFoundError
from c360.api.graphql.values import PageInfo, Purpose
from c360.auth.masking import mask_contact_point
from c360.auth.service import Permission
from c360.contact.consent import ConsentState
from c360.contact.effective import Effective
from c360.contact.policy import Basis, ChannelOption, Code, Decision, Reason
from c360.contact.preferences import Change, Hours, Window
from schemas.records import (
    WEEKDAYS,
    ChangeOrigin,
    ConsentStatus,
    ContactChannel,
    ContactPointState,
    Weekday,
)

strawberry.enum(Code, name="DecisionCode")
strawberry.enum(Basis, name="ChannelBasis")


# --- Consent ----------------------------------------------------------------------------------


@strawberry.type(description="Consent for one channel (or contact point) and purpose.")
class Consent:
    channel: ContactChannel
    contact_point: str | None = strawberry.field(
        description="The address or number; null when it covers the whole channel.",
        extensions=[MaskedWithout(Permission.CONTACT_POINTS)],
    )
    purpose: str = strawberry.field(metadata=public("a purpose: validated [a-z][a-z0-9_]*"))
    status: ConsentStatus
    since: dt.datetime
    source: str = strawberry.field(extensions=in_text())
    record_id: strawberry.ID = strawberry.field(
        description="The change that decided it.", extensions=in_text()
    )
    evidence: str | None = strawberry.field(extensions=in_text())
    pending_since: dt.datetime | None = strawberry.field(
        description="A double opt-in was sent and is not confirmed yet."
    )
    origin: ChangeOrigin = strawberry.field(
        description="How the change that decided it came about."
    )
    actor: str | None = strawberry.field(
        description="Who recorded the change that decided it: an agent's key, an API key's name.",
        extensions=in_text(),
    )
    profile_id: strawberry.Private[str | None] = None  # whose it is, for the access audit

    @classmethod
    def from_state(cls, state: ConsentState, profile_id: str) -> Consent:
        return cls(
            profile_id=profile_id,
            channel=ContactChannel(state.channel),
            contact_point=state.contact_point,
            purpose=state.purpose,
            status=ConsentStatus(state.status),
            since=state.since,
            source=state.source,
            record_id=strawberry.ID(state.record_id),
            evidence=state.evidence,
            pending_since=state.pending_since,
            origin=ChangeOrigin(state.origin),
            actor=state.actor,
        )


@strawberry.type(description="Local times (the customer's time zone) with no contact.")
class QuietHours:
    start: dt.time
    end: dt.time

    @classmethod
    def of(cls, hours: Hours) -> QuietHours:
        return cls(start=hours.start, end=hours.end)


@strawberry.type(description="When the customer welcomes contact, in their time zone.")
class ContactWindow:
    days: list[Weekday]
    start: dt.time
    end: dt.time
    channels: list[ContactChannel] = strawberry.field(description="Empty: every channel.")

    @classmethod
    def of(cls, window: Window) -> ContactWindow:
        return cls(
            days=[WEEKDAYS[d] for d in sorted(window.days)],
            start=window.hours.start,
            end=window.hours.end,
            channels=[ContactChannel(c) for c in sorted(window.channels)],
        )


# --- Decisions --------------------------------------------------------------------------------


@strawberry.type(description="Why a decision came out as it did: a code and a sentence.")
class DecisionReason:
    code: Code
    reason: strawberry.Private[Reason]

    @strawberry.field(
        description="Without the do-not-contact reason for roles without case text.",
        extensions=in_text(),  # a bounce message may name the address
    )
    def message(self, info: Info[Context, None]) -> str:
        if self.reason.without_case_text is None or holds(info, Permission.CASE_TEXT):
            return self.reason.message
        return self.reason.without_case_text


def _reasons(decision: Decision) -> list[DecisionReason]:
    return [DecisionReason(code=r.code, reason=r) for r in decision.reasons]


@strawberry.type(
    description="May this person be contacted on this channel for this purpose at this "
    "instant, at which contact point, and if not, why not and from when."
)
class ContactDecision:
    profile_id: strawberry.ID = strawberry.field(metadata=public("made by c360"))
    channel: ContactChannel
    purpose: Purpose
    at: dt.datetime
    allowed: bool
    contact_point: str | None = strawberry.field(
        description="The address or number to use (unmasked: this is the one handed out).",
        metadata=public(
            "the contact point the decision hands out, in full for the purposes the caller "
            "sends for (C360_CONTACT_MARKETING_PURPOSES); masked by decision_for otherwise"
        ),
        extensions=[Disclosed()],
    )
    reasons: list[DecisionReason] = strawberry.field(
        description="When refused, every rule that stands in the way, in the policy's order; "
        "when allowed, why."
    )
    next_allowed_at: dt.datetime | None = strawberry.field(
        description="When only quiet hours, contact windows or frequency caps stand in the "
        "way: the first instant it would be allowed."
    )
    time_zones: list[str] = strawberry.field(
        description="The customer's time zone; several when not known exactly (quiet hours "
        "then hold in each).",
        metadata=public("IANA zones"),
    )
    time_zone_basis: str = strawberry.field(metadata=public("made by c360"))
    regime: str | None = strawberry.field(
        description="opt_in or opt_out, for the purposes a regime governs.",
        metadata=public("made by c360"),
    )
    country: str | None = strawberry.field(metadata=public("an ISO 3166 code"))
    unsubscribe_url: str | None = strawberry.field(
        description="A one-click unsubscribe link (RFC 8058) for this channel, purpose "
        "and contact point, to put in the message.",
        metadata=public("made by c360; its token is opaque"),
    )

    @classmethod
    def of(cls, decision: Decision, unsubscribe_url: str | None) -> ContactDecision:
        return cls(
            profile_id=strawberry.ID(decision.profile_id),
            channel=ContactChannel(decision.channel),
            purpose=Purpose(decision.purpose),
            at=decision.at,
            allowed=decision.allowed,
            contact_point=decision.contact_point,
            reasons=_reasons(decision),
            next_allowed_at=decision.next_allowed_at,
            time_zones=list(decision.time_zones),
            time_zone_basis=decision.time_zone_basis,
            regime=decision.regime,
            country=decision.country,
            unsubscribe_url=unsubscribe_url,
        )


def decision_for(info: Info[Context, None], decision: Decision) -> ContactDecision:
    """The decision as the caller may read it: the contact point in full only for purposes
    the caller is handed contact points for."""
    contact = info.context.services.contact
    result = ContactDecision.of(decision, contact.unsubscribe_url(decision))
    unmasked = holds(info, Permission.CONTACT_POINTS)
    if result.contact_point and not contact.hands_out(decision.purpose, unmasked=unmasked):
        result.contact_point = mask_contact_point(result.contact_point)
    return result


@strawberry.type(description="A channel the policy allows, ranked, with why it ranks there.")
class ChannelChoice:
    channel: ContactChannel
    basis: Basis
    reason: str = strawberry.field(metadata=public("made by c360"))
    allowed_now: bool
    next_allowed_at: dt.datetime | None = strawberry.field(
        description="Set when quiet hours, windows or caps delay it."
    )
    contact_point: str | None = strawberry.field(
        extensions=[MaskedWithout(Permission.CONTACT_POINTS)]
    )
    reasons: list[DecisionReason]
    profile_id: strawberry.Private[str | None] = None  # whose it is, for the access audit

    @classmethod
    def of(cls, option: ChannelOption) -> ChannelChoice:
        decision = option.decision
        return cls(
            profile_id=decision.profile_id,
            channel=ContactChannel(option.channel),
            basis=option.basis,
            reason=option.reason,
            allowed_now=decision.allowed,
            next_allowed_at=decision.next_allowed_at,
            contact_point=decision.contact_point,
            reasons=_reasons(decision),
        )


@strawberry.type
class ChannelRanking:
    profile_id: strawberry.ID = strawberry.field(metadata=public("made by c360"))
    purpose: Purpose
    at: dt.datetime
    channels: list[ChannelChoice]
    refused: list[ContactDecision] = strawberry.field(
        description="The channels the policy allows for the purpose neither now nor later, "
        "each with every rule in the way, in the configured order: why `channels` is short "
        "or empty."
    )


# --- Preferences ------------------------------------------------------------------------------


@strawberry.type(description="Where a preference's value came from.")
class Setting:
    since: dt.datetime
    source: str = strawberry.field(extensions=in_text())
    origin: ChangeOrigin
    actor: str | None = strawberry.field(extensions=in_text())
    record_id: strawberry.ID = strawberry.field(extensions=in_text())


@strawberry.type
class PreferredChannel:
    purpose: Purpose
    channel: ContactChannel
    set: Setting


@strawberry.type
class DoNotContact:
    active: bool
    reason: str | None = strawberry.field(
        description="Why contact stopped: case text (an agent's note, a complaint).",
        extensions=case_text(),
    )
    set: Setting


@strawberry.type
class EffectiveCap:
    channel: ContactChannel
    purpose: Purpose
    max_contacts: int
    per_days: int
    set_by: str = strawberry.field(
        description="customer or default", metadata=public("made by c360")
    )


@strawberry.type(description="An e-mail, number, address or push token, and what is known of it.")
class ContactPoint:
    channel: ContactChannel
    value: str = strawberry.field(extensions=[MaskedWithout(Permission.CONTACT_POINTS)])
    status: ContactPointState
    status_since: dt.datetime | None
    status_reason: str | None = strawberry.field(extensions=in_text())
    profile_id: strawberry.Private[str | None] = None  # whose it is, for the access audit


@strawberry.type(description="How the customer wants to be contacted, each with its provenance.")
class ContactPreferences:
    do_not_contact: DoNotContact | None
    preferred_channels: list[PreferredChannel]
    language: str | None = strawberry.field(metadata=public("a BCP 47 tag"))
    time_zone: str | None = strawberry.field(metadata=public("an IANA zone"))
    quiet_hours: QuietHours | None = strawberry.field(
        description="The customer's own; null: the default applies (see effectiveQuietHours)."
    )
    effective_quiet_hours: QuietHours | None
    contact_windows: list[ContactWindow]
    frequency_caps: list[EffectiveCap] = strawberry.field(
        description="The caps in force: the customer's, and the defaults they did not replace."
    )
    contact_points: list[ContactPoint]
    consents: list[Consent]


def _setting(change: Change) -> Setting:
    return Setting(
        since=change.since,
        source=change.source,
        origin=ChangeOrigin(change.origin),
        actor=change.actor,
        record_id=strawberry.ID(change.record_id),
    )


def preferences_of(prefs: Effective) -> ContactPreferences:
    stop = prefs.do_not_contact
    return ContactPreferences(
        do_not_contact=None
        if stop is None
        else DoNotContact(
            active=stop.value is not None, reason=stop.value, set=_setting(stop.change)
        ),
        preferred_channels=[
            PreferredChannel(
                purpose=Purpose(purpose),
                channel=ContactChannel(chosen.value),
                set=_setting(chosen.change),
            )
            for purpose, chosen in prefs.preferred_channels
        ],
        language=prefs.language,
        time_zone=prefs.time_zone,
        quiet_hours=None if prefs.quiet_hours is None else QuietHours.of(prefs.quiet_hours),
        effective_quiet_hours=None
        if prefs.effective_quiet_hours is None
        else QuietHours.of(prefs.effective_quiet_hours),
        contact_windows=[ContactWindow.of(w) for w in prefs.contact_windows],
        frequency_caps=[
            EffectiveCap(
                channel=ContactChannel(c.channel),
                purpose=Purpose(c.purpose),
                max_contacts=c.cap.max_contacts,
                per_days=c.cap.per_days,
                set_by=c.set_by,
            )
            for c in prefs.frequency_caps
        ],
        contact_points=[
            ContactPoint(
                profile_id=prefs.profile_id,
                channel=p.channel,
                value=p.value,
                status=p.status,
                status_since=p.since,
                status_reason=p.reason,
            )
            for p in prefs.contact_points
        ],
        consents=[Consent.from_state(s, prefs.profile_id) for s in prefs.consents],
    )


# --- Audiences --------------------------------------------------------------------------------


@strawberry.type(description="Someone the policy allows to contact, and where.")
class AudienceMember:
    profile_id: strawberry.ID = strawberry.field(
        description="The profile's id (also its edge's cursor).", metadata=public("made by c360")
    )
    contact_point: str = strawberry.field(
        description="Unmasked: the one the decision hands out.",
        metadata=public("the contact point the decision hands out, unmasked by design"),
        extensions=[Disclosed()],
    )
    country: str | None = strawberry.field(
        description="The contact point's country (ISO 3166-1 alpha-2; a phone number's own, "
        "else the profile's); null when not known.",
        metadata=public("an ISO 3166 code"),
    )
    time_zones: list[str] = strawberry.field(
        description="The customer's IANA time zone; several when not known exactly (quiet "
        "hours then hold in each).",
        metadata=public("IANA zones"),
    )
    unsubscribe_url: str | None = strawberry.field(
        description="A one-click unsubscribe link (RFC 8058) for this channel, purpose and "
        "contact point, to put in the message; null for purposes outside "
        "C360_CONTACT_REGIME_PURPOSES (service and transactional messages by default).",
        metadata=public("made by c360; its token is opaque"),
    )


@strawberry.type
class AudienceEdge:
    cursor: str = strawberry.field(metadata=public("a profile id"))
    node: AudienceMember


@strawberry.type(
    description="Profiles the contact policy allows at the instant asked, by profile id. "
    "pageInfo.endCursor is the last profile examined, so the next page goes on from there."
)
class AudienceConnection:
    edges: list[AudienceEdge]
    page_info: PageInfo
    at: dt.datetime


DecisionResult = Annotated[
    ContactDecision | NotFoundError | InvalidInputError, strawberry.union("DecisionResult")
]
RankingResult = Annotated[
    ChannelRanking | NotFoundError | InvalidInputError, strawberry.union("RankingResult")
]
