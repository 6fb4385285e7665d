"""GraphQL for contact: decisions, ranked channels, preferences, audiences and the changes
(consent, preferences, do-not-contact, contact-point status, the contact log)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from c360.api.graphql.access import (
    Disclosed,
    MaskedWithout,
    Requires,
    case_text,
    holds,
    in_text,
    public,
)
from c360.api.graphql.context import Context
from c360.api.graphql.identity import actor, as_error
from c360.api.graphql.scalars import Purpose
from c360.api.graphql.types import (
    Consent,
    ContactWindow,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    OutboundContactRecord,
    PageInfo,
    Profile,
    QuietHours,
    timeline_item,
)
from c360.auth.masking import mask_contact_point
from c360.auth.service import Permission
from c360.contact.facts import ContactFacts
from c360.contact.policy import (
    Basis,
    ChannelOption,
    Code,
    Decision,
    Reason,
    caps_in_force,
    points_of,
)
from c360.contact.service import Actor, AudienceFilter, ConsentReceipt, utc_instant
from c360.errors import C360Error, InvalidInput
from c360.profiles.lifecycle import LifecycleStage, ValueTier
from schemas.records import (
    ChangeOrigin,
    ConsentStatus,
    ContactChannel,
    ContactOutcome,
    ContactPointState,
    PreferenceField,
    Weekday,
)

MAX_AUDIENCE_PAGE = 1000
# Origins a caller may claim; the others come only from their own flows (the unsubscribe link,
# the confirmation link, the GPC signal).
# (Import is a connector's: it would skip the double opt-in.)
_CLAIMABLE = {ChangeOrigin.AGENT, ChangeOrigin.PREFERENCE_CENTRE}
_CLAIMABLE_STATUS = _CLAIMABLE | {ChangeOrigin.BOUNCE}
strawberry.enum(Code, name="DecisionCode")
strawberry.enum(Basis, name="ChannelBasis")


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
            "sends for (C360_CONTACT_MARKETING_PURPOSES); masked by _decision otherwise"
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


def _decision(info: Info[Context, None], decision: Decision) -> ContactDecision:
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


def _setting(change: Any) -> Setting:
    return Setting(
        since=change.since,
        source=change.source,
        origin=ChangeOrigin(change.origin),
        actor=change.actor,
        record_id=strawberry.ID(change.record_id),
    )


def preferences_of(facts: ContactFacts, info: Info[Context, None]) -> ContactPreferences:
    policy = info.context.services.contact.policy
    prefs = facts.preferences
    stop = prefs.do_not_contact
    points = []
    for channel in ContactChannel:
        for value, _ in points_of(facts, channel.value):
            status = facts.status_of(channel.value, value)
            points.append(
                ContactPoint(
                    profile_id=facts.profile_id,
                    channel=channel,
                    value=value,
                    status=ContactPointState(status.status if status else "unverified"),
                    status_since=status.since if status else None,
                    status_reason=status.reason if status else None,
                )
            )
    effective_caps = [
        EffectiveCap(
            channel=ContactChannel(channel),
            purpose=Purpose(purpose),
            max_contacts=cap.max_contacts,
            per_days=cap.per_days,
            set_by=whose,
        )
        for (channel, purpose), (cap, whose) in caps_in_force(facts, policy).items()
    ]
    own_quiet = prefs.quiet_hours.value if prefs.quiet_hours else None
    effective = own_quiet or policy.quiet_hours
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
            for purpose, chosen in sorted(prefs.preferred_channels.items())
        ],
        language=prefs.language.value if prefs.language else facts.traits.value("language"),
        time_zone=prefs.time_zone.value if prefs.time_zone else facts.traits.value("time_zone"),
        quiet_hours=None if own_quiet is None else QuietHours.of(own_quiet),
        effective_quiet_hours=None if effective is None else QuietHours.of(effective),
        contact_windows=[ContactWindow.of(w) for w in prefs.contact_windows.value]
        if prefs.contact_windows
        else [],
        frequency_caps=effective_caps,
        contact_points=points,
        consents=[Consent.from_state(s, facts.profile_id) for s in facts.consents],
    )


# --- Audiences --------------------------------------------------------------------------------


@strawberry.input
class AudienceFilterInput:
    lifecycle_stages: list[LifecycleStage] | None = None
    value_tiers: list[ValueTier] | None = None
    countries: list[str] | None = strawberry.field(
        default=None, description="Countries (ISO 3166) of the contact point to use."
    )

    def to_filter(self) -> AudienceFilter:
        return AudienceFilter(
            lifecycle_stages=None
            if self.lifecycle_stages is None
            else frozenset(s.value for s in self.lifecycle_stages),
            value_tiers=None
            if self.value_tiers is None
            else frozenset(t.value for t in self.value_tiers),
            countries=None
            if self.countries is None
            else frozenset(c.upper() for c in self.countries),
        )


@strawberry.type(description="Someone the policy allows to contact, and where.")
class AudienceMember:
    profile_id: strawberry.ID = strawberry.field(metadata=public("made by c360"))
    contact_point: str = strawberry.field(
        description="Unmasked: the one the decision hands out.",
        metadata=public("the contact point the decision hands out, unmasked by design"),
        extensions=[Disclosed()],
    )
    country: str | None = strawberry.field(metadata=public("an ISO 3166 code"))
    time_zones: list[str] = strawberry.field(metadata=public("IANA zones"))
    unsubscribe_url: str | None = strawberry.field(
        metadata=public("made by c360; its token is opaque")
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


# --- Results of the changes -------------------------------------------------------------------


@strawberry.type(description="A consent change recorded.")
class ConsentRecorded:
    profile: Profile
    record_id: strawberry.ID = strawberry.field(extensions=in_text())
    status: ConsentStatus
    confirmation_url: str | None = strawberry.field(
        description="For a double opt-in: the single-use link to send the customer.",
        metadata=public("made by c360: a random token"),
    )
    confirmation_expires_at: dt.datetime | None
    gpc_recorded: bool = strawberry.field(
        description="A Sec-GPC: 1 header came with the request and was recorded as opt-outs."
    )


@strawberry.type(description="The profile after a change to its contact preferences.")
class PreferencesChanged:
    profile: Profile
    gpc_recorded: bool = False


@strawberry.type(description="An outbound contact logged, and whether the policy allowed it.")
class ContactRecorded:
    profile: Profile
    contact: OutboundContactRecord
    decision: ContactDecision = strawberry.field(
        description="The policy's decision at the contact's time, before it was logged."
    )


ConsentResult = Annotated[
    ConsentRecorded | ForbiddenError | NotFoundError | InvalidInputError,
    strawberry.union("ConsentResult"),
]
PreferencesResult = Annotated[
    PreferencesChanged | ForbiddenError | NotFoundError | InvalidInputError,
    strawberry.union("PreferencesResult"),
]
ContactResult = Annotated[
    ContactRecorded | ForbiddenError | NotFoundError | InvalidInputError,
    strawberry.union("ContactResult"),
]
DecisionResult = Annotated[
    ContactDecision | NotFoundError | InvalidInputError, strawberry.union("DecisionResult")
]
RankingResult = Annotated[
    ChannelRanking | NotFoundError | InvalidInputError, strawberry.union("RankingResult")
]


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


@strawberry.input
class RecordConsentInput:
    profile_id: strawberry.ID
    channel: ContactChannel
    purpose: Purpose | None = strawberry.field(
        default=None, description="Null: the whole channel, every purpose."
    )
    status: ConsentStatus
    contact_point: str | None = strawberry.field(
        default=None, description="The address or number; null: the whole channel."
    )
    origin: ChangeOrigin = ChangeOrigin.AGENT
    evidence: str | None = None


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
        default=None, description="Your id of the send: logging it again is a duplicate."
    )


def _actor(info: Info[Context, None], origin: ChangeOrigin, evidence: str | None) -> Actor:
    return Actor(origin, actor(info), evidence)


def _claim(origin: ChangeOrigin, allowed: set[ChangeOrigin]) -> None:
    if origin not in allowed:
        names = ", ".join(sorted(o.name for o in allowed))
        raise InvalidInput(f"origin {origin.name} comes only from its own flow; use one of {names}")


async def _profile(info: Info[Context, None], profile_id: str) -> Profile:
    return Profile.from_doc(await info.context.services.profiles.get(profile_id))


def _gpc_signal(info: Info[Context, None], origin: ChangeOrigin) -> bool:
    request = info.context.request
    return (
        origin is ChangeOrigin.PREFERENCE_CENTRE
        and request is not None
        and request.headers.get("sec-gpc", "").strip() == "1"
    )


async def _record_gpc(info: Info[Context, None], profile_id: str, origin: ChangeOrigin) -> bool:
    if not _gpc_signal(info, origin):
        return False
    actor = _actor(info, ChangeOrigin.GPC, "Sec-GPC: 1 on a preference-centre request")
    await info.context.services.contact.record_gpc(profile_id, actor, dt.datetime.now(dt.UTC))
    return True


def _at(info: Info[Context, None], at: dt.datetime | None) -> dt.datetime:
    return utc_instant(at, info.context.now)


@strawberry.type
class ContactQuery:
    @strawberry.field(
        description="The contact policy's answer: may this profile be contacted on this "
        "channel for this purpose at `at` (default: now)?"
    )
    async def contact_decision(
        self,
        info: Info[Context, None],
        profile_id: strawberry.ID,
        channel: ContactChannel,
        purpose: Purpose,
        at: dt.datetime | None = None,
    ) -> DecisionResult:
        contact = info.context.services.contact
        try:
            decision = await contact.decide(str(profile_id), channel.value, purpose, _at(info, at))
        except C360Error as exc:
            return as_error(exc)  # type: ignore[return-value]  # as_error answers any expected error; this field lists its own
        return _decision(info, decision)

    @strawberry.field(
        description="The channels the policy allows for the purpose, ranked: the customer's "
        "explicit preference, then what their conversations show, then the default order."
    )
    async def best_channels(
        self,
        info: Info[Context, None],
        profile_id: strawberry.ID,
        purpose: Purpose,
        at: dt.datetime | None = None,
    ) -> RankingResult:
        try:
            moment = _at(info, at)
            options = await info.context.services.contact.best_channels(
                str(profile_id), purpose, moment
            )
        except C360Error as exc:
            return as_error(exc)  # type: ignore[return-value]  # as_error answers any expected error; this field lists its own
        return ChannelRanking(
            profile_id=profile_id,
            purpose=purpose,
            at=moment,
            channels=[ChannelChoice.of(o) for o in options],
        )

    @strawberry.field(
        description="Everyone the policy allows on a channel for a purpose at `at`, with the "
        "contact point to use; never anyone contactDecision would refuse at that instant."
    )
    async def audience(
        self,
        info: Info[Context, None],
        channel: ContactChannel,
        purpose: Purpose,
        at: dt.datetime | None = None,
        filter: AudienceFilterInput | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> AudienceConnection:
        if not 0 < first <= MAX_AUDIENCE_PAGE:
            raise InvalidInput(f"first must be between 1 and {MAX_AUDIENCE_PAGE}, not {first}")
        contact = info.context.services.contact
        contact.check_purpose(purpose)
        contact.check_handout(purpose, unmasked=holds(info, Permission.CONTACT_POINTS))
        moment = _at(info, at)
        chosen = filter.to_filter() if filter is not None else AudienceFilter()
        page = await contact.audience(
            channel.value, purpose, moment, chosen, first=first, after=after
        )
        edges = [
            AudienceEdge(
                cursor=m.profile_id,
                node=AudienceMember(
                    profile_id=strawberry.ID(m.profile_id),
                    contact_point=m.decision.contact_point or "",
                    country=m.decision.country,
                    time_zones=list(m.decision.time_zones),
                    unsubscribe_url=m.unsubscribe_url,
                ),
            )
            for m in page.members
        ]
        return AudienceConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            at=moment,
        )


def _changes() -> list[FieldExtension]:
    """Each mutation's own guard: changes need the changeContact permission."""
    return [Requires(Permission.CHANGE_CONTACT, refusal=ForbiddenError)]


@strawberry.type
class ContactMutation:
    @strawberry.mutation(
        description="Record consent given or withdrawn. An opt-in on a double opt-in channel "
        "(e-mail) is pending until the customer follows the confirmation link returned. A "
        "preference-centre request with `Sec-GPC: 1` also records the GPC opt-outs.",
        extensions=_changes(),
    )
    async def record_consent(
        self, info: Info[Context, None], input: RecordConsentInput
    ) -> ConsentResult:
        try:
            _claim(input.origin, _CLAIMABLE)
            if input.status is ConsentStatus.PENDING:
                raise InvalidInput("pending is set by the double opt-in, not asked for")
            # The signal first: what the request itself asks for is the newer change.
            gpc = await _record_gpc(info, str(input.profile_id), input.origin)
            receipt = await info.context.services.contact.record_consent(
                str(input.profile_id),
                input.channel.value,
                input.purpose,
                input.status.value,
                input.contact_point,
                _actor(info, input.origin, input.evidence),
                dt.datetime.now(dt.UTC),
            )
        except C360Error as exc:
            return as_error(exc)  # type: ignore[return-value]  # as_error answers any expected error; this field lists its own
        return await _consent_recorded(info, receipt, gpc)

    @strawberry.mutation(
        description="Change contact preferences: preferred channel per purpose, language, "
        "time zone, quiet hours, contact windows, frequency caps.",
        extensions=_changes(),
    )
    async def set_contact_preference(
        self, info: Info[Context, None], input: ContactPreferenceInput
    ) -> PreferencesResult:
        try:
            _claim(input.origin, _CLAIMABLE)
            gpc = await _record_gpc(info, str(input.profile_id), input.origin)
            live = await info.context.services.contact.set_preferences(
                str(input.profile_id),
                input.change(),
                _actor(info, input.origin, input.evidence),
                dt.datetime.now(dt.UTC),
            )
            return PreferencesChanged(profile=await _profile(info, live), gpc_recorded=gpc)
        except C360Error as exc:
            return as_error(exc)  # type: ignore[return-value]  # as_error answers any expected error; this field lists its own

    @strawberry.mutation(
        description="Stop (active: true, with a reason) or allow again all contact.",
        extensions=_changes(),
    )
    async def set_do_not_contact(
        self,
        info: Info[Context, None],
        profile_id: strawberry.ID,
        active: bool,
        reason: str | None = None,
        origin: ChangeOrigin = ChangeOrigin.AGENT,
        evidence: str | None = None,
    ) -> PreferencesResult:
        try:
            _claim(origin, _CLAIMABLE)
            live = await info.context.services.contact.set_preferences(
                str(profile_id),
                {"do_not_contact": {"active": active, "reason": reason}},
                _actor(info, origin, evidence),
                dt.datetime.now(dt.UTC),
            )
            return PreferencesChanged(profile=await _profile(info, live))
        except C360Error as exc:
            return as_error(exc)  # type: ignore[return-value]  # as_error answers any expected error; this field lists its own

    @strawberry.mutation(
        description="What is known of an address or number: verified, bounced, invalid.",
        extensions=_changes(),
    )
    async def set_contact_point_status(
        self,
        info: Info[Context, None],
        profile_id: strawberry.ID,
        channel: ContactChannel,
        contact_point: str,
        status: ContactPointState,
        reason: str | None = None,
        origin: ChangeOrigin = ChangeOrigin.AGENT,
    ) -> PreferencesResult:
        try:
            _claim(origin, _CLAIMABLE_STATUS)
            live = await info.context.services.contact.set_point_status(
                str(profile_id),
                channel.value,
                contact_point,
                status.value,
                reason,
                _actor(info, origin, None),
                dt.datetime.now(dt.UTC),
            )
            return PreferencesChanged(profile=await _profile(info, live))
        except C360Error as exc:
            return as_error(exc)  # type: ignore[return-value]  # as_error answers any expected error; this field lists its own

    @strawberry.mutation(
        description="Record a Global Privacy Control signal: opt-outs of the sale/sharing "
        "purposes (C360_CONTACT_GPC_PURPOSES) on every channel.",
        extensions=_changes(),
    )
    async def record_global_privacy_control(
        self, info: Info[Context, None], profile_id: strawberry.ID, evidence: str | None = None
    ) -> PreferencesResult:
        try:
            actor = _actor(info, ChangeOrigin.GPC, evidence)
            now = dt.datetime.now(dt.UTC)
            await info.context.services.contact.record_gpc(str(profile_id), actor, now)
            return PreferencesChanged(
                profile=await _profile(info, str(profile_id)), gpc_recorded=True
            )
        except C360Error as exc:
            return as_error(exc)  # type: ignore[return-value]  # as_error answers any expected error; this field lists its own

    @strawberry.mutation(
        description="Log an outbound contact (it counts against frequency caps and shows in "
        "the timeline); returns the policy's decision at that time too.",
        extensions=_changes(),
    )
    async def record_contact(
        self, info: Info[Context, None], input: RecordContactInput
    ) -> ContactResult:
        contact = info.context.services.contact
        try:
            occurred = _at(info, input.occurred_at)
            decision = await contact.decide(
                str(input.profile_id), input.channel.value, input.purpose, occurred
            )
            live, doc = await contact.record_contact(
                str(input.profile_id),
                {
                    "channel": input.channel.value,
                    "purpose": input.purpose,
                    "contact_point": input.contact_point,
                    "campaign": input.campaign,
                    "outcome": input.outcome.value,
                    "occurred_at": occurred,
                },
                _actor(info, ChangeOrigin.AGENT, None),
                dt.datetime.now(dt.UTC),
                input.external_id,
            )
        except C360Error as exc:
            return as_error(exc)  # type: ignore[return-value]  # as_error answers any expected error; this field lists its own
        item = timeline_item(doc)
        assert isinstance(item, OutboundContactRecord)
        return ContactRecorded(
            profile=await _profile(info, live),
            contact=item,
            decision=_decision(info, decision),
        )


async def _consent_recorded(
    info: Info[Context, None], receipt: ConsentReceipt, gpc: bool
) -> ConsentRecorded:
    return ConsentRecorded(
        profile=await _profile(info, receipt.profile_id),
        record_id=strawberry.ID(receipt.record_id),
        status=ConsentStatus(receipt.status),
        confirmation_url=receipt.confirmation_url,
        confirmation_expires_at=receipt.confirmation_expires_at,
        gpc_recorded=gpc,
    )
