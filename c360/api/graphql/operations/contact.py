"""GraphQL operations of contact: decisions, ranked channels, audiences and the changes
(consent, preferences, do-not-contact, contact-point status, the contact log), with their
payloads. Each hands the caller's request to the contact service as it came (the origin it
claims, a ``Sec-GPC`` header, the instant asked about): what may be and what follows is the
service's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from c360.api.graphql.access import Requires, holds, in_text, public
from c360.api.graphql.context import Context
from c360.api.graphql.errors import ForbiddenError, InvalidInputError, NotFoundError
from c360.api.graphql.types.contact import (
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
from c360.api.graphql.types.contact_inputs import (
    AudienceFilterInput,
    ContactPreferenceInput,
    RecordConsentInput,
    RecordContactInput,
)
from c360.api.graphql.types.profiles import Profile
from c360.api.graphql.types.timeline import OutboundContactRecord, timeline_item
from c360.api.graphql.values import PageInfo, Purpose
from c360.auth.service import Permission
from c360.contact.service import MAX_AUDIENCE_PAGE
from c360.contact.types import Actor, AudienceFilter, ConsentReceipt
from schemas.records import ChangeOrigin, ConsentStatus, ContactChannel, ContactPointState

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


def _gpc_signal(info: Info[Context, None]) -> bool:
    """Whether the request carries ``Sec-GPC: 1``."""
    request = info.context.request
    return request is not None and request.headers.get("sec-gpc", "").strip() == "1"


def _at(info: Info[Context, None], at: dt.datetime | None) -> dt.datetime:
    return info.context.now if at is None else at


async def _profile(info: Info[Context, None], profile_id: str) -> Profile:
    return Profile.of(await info.context.services.profiles.get(profile_id))


PROFILE_ID = "A profile's id; an id merged into another answers for the one it joined."
AT = (
    "The instant asked about, with its offset (2026-11-22T10:00:00Z, …+01:00); default: now. "
    "One without an offset is an InvalidInputError."
)
AUDIENCE_AT = (
    AT + " Send the `at` of the first page's answer with every next page, so that the whole "
    "audience is judged at one instant."
)
AUDIENCE_FIRST = (
    f"Members on this page at most, 1 to {MAX_AUDIENCE_PAGE} (else an InvalidInput error): "
    "profiles are examined in id order until that many are allowed, none is left, or the "
    "page has examined C360_AUDIENCE_PAGE_SCAN profiles (a rare audience's page ends short "
    "there, even empty): page on while hasNextPage is true, which says profiles remain. The "
    "query's cost grows with it times the fields asked for each member (QueryTooComplex "
    "past the limit): ask for fewer fields or a smaller page."
)
AUDIENCE_AFTER = (
    "The previous page's pageInfo.endCursor. Pages go by profile id, so each profile comes at "
    "most once; people who arrive while you page come on a later page."
)


@strawberry.type
class ContactQuery:
    @strawberry.field(
        description="The contact policy's answer: may this profile be contacted on this "
        "channel for this purpose at `at` (default: now)?"
    )
    async def contact_decision(
        self,
        info: Info[Context, None],
        profile_id: Annotated[strawberry.ID, strawberry.argument(description=PROFILE_ID)],
        channel: ContactChannel,
        purpose: Purpose,
        at: Annotated[dt.datetime | None, strawberry.argument(description=AT)] = None,
    ) -> DecisionResult:
        contact = info.context.services.contact
        decision = await contact.decide(str(profile_id), channel.value, purpose, _at(info, at))
        return decision_for(info, decision)

    @strawberry.field(
        description="The channels the policy allows for the purpose, ranked: the customer's "
        "explicit preference, then what their conversations show, then the default order; "
        "and those it does not allow, with why."
    )
    async def best_channels(
        self,
        info: Info[Context, None],
        profile_id: Annotated[strawberry.ID, strawberry.argument(description=PROFILE_ID)],
        purpose: Purpose,
        at: Annotated[dt.datetime | None, strawberry.argument(description=AT)] = None,
    ) -> RankingResult:
        ranking = await info.context.services.contact.best_channels(
            str(profile_id), purpose, _at(info, at)
        )
        return ChannelRanking(
            profile_id=profile_id,
            purpose=purpose,
            at=ranking.at,
            channels=[ChannelChoice.of(o) for o in ranking.options],
            refused=[decision_for(info, d) for d in ranking.refused],
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
        at: Annotated[dt.datetime | None, strawberry.argument(description=AUDIENCE_AT)] = None,
        filter: AudienceFilterInput | None = None,
        first: Annotated[int, strawberry.argument(description=AUDIENCE_FIRST)] = 100,
        after: Annotated[str | None, strawberry.argument(description=AUDIENCE_AFTER)] = None,
    ) -> AudienceConnection:
        page = await info.context.services.contact.audience(
            channel.value,
            purpose,
            _at(info, at),
            AudienceFilter() if filter is None else filter.to_filter(),
            first=first,
            after=after,
            unmasked=holds(info, Permission.CONTACT_POINTS),
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
            at=page.at,
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
        receipt = await info.context.services.contact.record_consent(
            str(input.profile_id),
            input.channel.value,
            input.purpose,
            input.status.value,
            input.contact_point,
            _actor(info, input.origin, input.evidence),
            info.context.now,
            gpc_signal=_gpc_signal(info),
            external_id=input.external_id,
        )
        return await _consent_recorded(info, receipt)

    @strawberry.mutation(
        description="Change contact preferences: preferred channel per purpose, language, "
        "time zone, quiet hours, contact windows, frequency caps.",
        extensions=_changes(),
    )
    async def set_contact_preference(
        self, info: Info[Context, None], input: ContactPreferenceInput
    ) -> PreferencesResult:
        done = await info.context.services.contact.set_preferences(
            str(input.profile_id),
            input.change(),
            _actor(info, input.origin, input.evidence),
            info.context.now,
            gpc_signal=_gpc_signal(info),
        )
        profile = await _profile(info, done.profile_id)
        return PreferencesChanged(profile=profile, gpc_recorded=done.gpc_recorded)

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
        done = await info.context.services.contact.set_do_not_contact(
            str(profile_id),
            active,
            reason,
            _actor(info, origin, evidence),
            info.context.now,
        )
        return PreferencesChanged(profile=await _profile(info, done.profile_id))

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
        live = await info.context.services.contact.set_point_status(
            str(profile_id),
            channel.value,
            contact_point,
            status.value,
            reason,
            _actor(info, origin, None),
            info.context.now,
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
        now = info.context.now
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
        logged = await info.context.services.contact.record_contact(
            str(input.profile_id),
            {
                "channel": input.channel.value,
                "purpose": input.purpose,
                "contact_point": input.contact_point,
                "campaign": input.campaign,
                "outcome": input.outcome.value,
                "occurred_at": _at(info, input.occurred_at),
            },
            _actor(info, ChangeOrigin.AGENT, None),
            info.context.now,
            input.external_id,
        )
        item = timeline_item(logged.record)
        assert isinstance(item, OutboundContactRecord)
        return ContactRecorded(
            profile=await _profile(info, logged.profile_id),
            contact=item,
            decision=decision_for(info, logged.decision),
        )


async def _consent_recorded(info: Info[Context, None], receipt: ConsentReceipt) -> ConsentRecorded:
    return ConsentRecorded(
        profile=await _profile(info, receipt.profile_id),
        record_id=strawberry.ID(receipt.record_id),
        status=ConsentStatus(receipt.status),
        confirmation_url=receipt.confirmation_url,
        confirmation_expires_at=receipt.confirmation_expires_at,
        gpc_recorded=receipt.gpc_recorded,
    )
