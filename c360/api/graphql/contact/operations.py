"""GraphQL operations of contact: decisions, ranked channels, audiences and the changes
(consent, preferences, do-not-contact, contact-point status, the contact log)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from c360.api.graphql.access import Requires, holds, in_text, public
from c360.api.graphql.contact.inputs import (
    AudienceFilterInput,
    ContactPreferenceInput,
    RecordConsentInput,
    RecordContactInput,
)
from c360.api.graphql.contact.types import (
    AudienceConnection,
    AudienceEdge,
    AudienceMember,
    ChannelChoice,
    ChannelRanking,
    ContactDecision,
    DecisionResult,
    RankingResult,
    decision_for,
)
from c360.api.graphql.context import Context
from c360.api.graphql.errors import ForbiddenError, InvalidInputError, NotFoundError
from c360.api.graphql.profiles.types import Profile
from c360.api.graphql.timeline.types import OutboundContactRecord, timeline_item
from c360.api.graphql.values import PageInfo, Purpose
from c360.auth.service import Permission
from c360.contact.service import Actor, AudienceFilter, ConsentReceipt, utc_instant
from c360.errors import InvalidInput
from schemas.records import ChangeOrigin, ConsentStatus, ContactChannel, ContactPointState

MAX_AUDIENCE_PAGE = 1000
# Origins a caller may claim; the others come only from their own flows (the unsubscribe link,
# the confirmation link, the GPC signal).
# (Import is a connector's: it would skip the double opt-in.)
_CLAIMABLE = {ChangeOrigin.AGENT, ChangeOrigin.PREFERENCE_CENTRE}
_CLAIMABLE_STATUS = _CLAIMABLE | {ChangeOrigin.BOUNCE}


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


def _actor(info: Info[Context, None], origin: ChangeOrigin, evidence: str | None) -> Actor:
    return Actor(origin, info.context.actor, evidence)


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
        decision = await contact.decide(str(profile_id), channel.value, purpose, _at(info, at))
        return decision_for(info, decision)

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
        moment = _at(info, at)
        options = await info.context.services.contact.best_channels(
            str(profile_id), purpose, moment
        )
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
    return [Requires(Permission.CHANGE_CONTACT)]


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
        return await _consent_recorded(info, receipt, gpc)

    @strawberry.mutation(
        description="Change contact preferences: preferred channel per purpose, language, "
        "time zone, quiet hours, contact windows, frequency caps.",
        extensions=_changes(),
    )
    async def set_contact_preference(
        self, info: Info[Context, None], input: ContactPreferenceInput
    ) -> PreferencesResult:
        _claim(input.origin, _CLAIMABLE)
        gpc = await _record_gpc(info, str(input.profile_id), input.origin)
        live = await info.context.services.contact.set_preferences(
            str(input.profile_id),
            input.change(),
            _actor(info, input.origin, input.evidence),
            dt.datetime.now(dt.UTC),
        )
        return PreferencesChanged(profile=await _profile(info, live), gpc_recorded=gpc)

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
        _claim(origin, _CLAIMABLE)
        live = await info.context.services.contact.set_preferences(
            str(profile_id),
            {"do_not_contact": {"active": active, "reason": reason}},
            _actor(info, origin, evidence),
            dt.datetime.now(dt.UTC),
        )
        return PreferencesChanged(profile=await _profile(info, live))

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

    @strawberry.mutation(
        description="Record a Global Privacy Control signal: opt-outs of the sale/sharing "
        "purposes (C360_CONTACT_GPC_PURPOSES) on every channel.",
        extensions=_changes(),
    )
    async def record_global_privacy_control(
        self, info: Info[Context, None], profile_id: strawberry.ID, evidence: str | None = None
    ) -> PreferencesResult:
        actor = _actor(info, ChangeOrigin.GPC, evidence)
        now = dt.datetime.now(dt.UTC)
        await info.context.services.contact.record_gpc(str(profile_id), actor, now)
        return PreferencesChanged(profile=await _profile(info, str(profile_id)), gpc_recorded=True)

    @strawberry.mutation(
        description="Log an outbound contact (it counts against frequency caps and shows in "
        "the timeline); returns the policy's decision at that time too.",
        extensions=_changes(),
    )
    async def record_contact(
        self, info: Info[Context, None], input: RecordContactInput
    ) -> ContactResult:
        contact = info.context.services.contact
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
        item = timeline_item(doc)
        assert isinstance(item, OutboundContactRecord)
        return ContactRecorded(
            profile=await _profile(info, live),
            contact=item,
            decision=decision_for(info, decision),
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
