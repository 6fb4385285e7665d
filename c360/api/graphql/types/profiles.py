"""GraphQL types of the profile 360: the profile with its fields, traits, metrics, lifecycle
stage, value tier and churn risk."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from c360.api.graphql.access import MaskedWithout, Requires, in_text, public
from c360.api.graphql.context import Context
from c360.api.graphql.errors import InvalidInputError, NotFoundError
from c360.api.graphql.types.contact import (
    ChannelChoice,
    Consent,
    ContactPreferences,
    preferences_of,
)
from c360.api.graphql.types.followups import (
    Feedback,
    FollowUp,
    feedback_of,
    follow_ups_of,
    with_follow_up_events,
)
from c360.api.graphql.types.identity import Identifier, MatchSuggestion, Merge
from c360.api.graphql.types.timeline import (
    ServiceCaseRecord,
    TimelineConnection,
    TimelineEdge,
    case_of,
    timeline_item,
)
from c360.api.graphql.values import (
    SERVICE,
    MinorUnits,
    Money,
    PageInfo,
    PostalAddress,
    Purpose,
    TimelineKind,
)
from c360.auth.service import Permission
from c360.followups.model import Status as FollowUpStatus
from c360.metrics.figures import Amount, Metrics
from c360.metrics.service import ProfileView
from c360.profiles import types as profiles
from c360.profiles.lifecycle import ChurnRisk as ChurnRiskValue
from c360.profiles.lifecycle import LifecycleStage, Stage, Tier, ValueTier
from c360.profiles.service import MAX_PAGE_SIZE
from c360.profiles.traits import SeenAddress
from c360.profiles.traits import Trait as TraitValue
from schemas.identifiers import IdentifierType


def _money(amount: Amount) -> Money:
    return Money(amount=MinorUnits(amount.amount), currency=amount.currency)


PAGE_FIRST = f"Records on this page, 1 to {MAX_PAGE_SIZE} (else an InvalidInput error)."
PAGE_AFTER = "The previous page's pageInfo.endCursor; records that arrive meanwhile do not move it."


@strawberry.type(description="How much of something: a name and a quantity.")
class RankedItem:
    name: str = strawberry.field(extensions=in_text())  # a product title or category
    quantity: int


@strawberry.type(
    description="Computed from the profile's records; always equal to a recomputation from them."
)
class ProfileMetrics:
    lifetime_value: list[Money] = strawberry.field(
        description=(
            "Orders minus their refunds, per currency; a cancelled order and its refunds count "
            "for nothing."
        )
    )
    lifetime_value_reporting: Money | None = strawberry.field(
        description="Lifetime value in the reporting currency (configured rate table); null "
        "when no currency of it has a rate."
    )
    unconverted_currencies: list[str] = strawberry.field(
        description="Currencies with no configured rate, left out of the reported value.",
        metadata=public("ISO 4217 codes"),
    )
    order_count: int = strawberry.field(description="Orders not cancelled.")
    cancelled_order_count: int
    average_order_value: list[Money] = strawberry.field(
        description="Per currency, over the orders not cancelled."
    )
    items_bought: int
    return_count: int = strawberry.field(
        description="Returns and refunds of orders not cancelled (a cancellation's are not)."
    )
    return_rate: float | None = strawberry.field(description="Returns per order.")
    first_order_at: dt.datetime | None
    last_order_at: dt.datetime | None
    online_share: float | None
    in_store_share: float | None
    top_categories: list[RankedItem]
    top_products: list[RankedItem]
    open_cases: int
    recent_cases: int = strawberry.field(description="Cases opened in the last recentCaseDays.")
    recent_case_days: int
    average_first_response_seconds: float | None
    average_resolution_seconds: float | None
    complaints: int
    open_complaints: int
    average_csat: float | None = strawberry.field(description="Mean CSAT answer (1-5).")
    last_nps: int | None
    last_nps_at: dt.datetime | None
    nps_trend: int | None = strawberry.field(
        description="Last NPS answer minus the one before (negative: falling)."
    )
    site_visits: int = strawberry.field(description="Days with site or app activity.")
    last_visit_at: dt.datetime | None

    @classmethod
    def from_metrics(cls, m: Metrics) -> ProfileMetrics:
        return cls(
            lifetime_value=[_money(a) for a in m.lifetime_value],
            lifetime_value_reporting=(
                _money(m.lifetime_value_reporting) if m.lifetime_value_reporting else None
            ),
            unconverted_currencies=m.unconverted_currencies,
            order_count=m.order_count,
            cancelled_order_count=m.cancelled_order_count,
            average_order_value=[_money(a) for a in m.average_order_value],
            items_bought=m.items_bought,
            return_count=m.return_count,
            return_rate=m.return_rate,
            first_order_at=m.first_order_at,
            last_order_at=m.last_order_at,
            online_share=m.online_share,
            in_store_share=m.in_store_share,
            top_categories=[RankedItem(name=n, quantity=q) for n, q in m.top_categories],
            top_products=[RankedItem(name=n, quantity=q) for n, q in m.top_products],
            open_cases=m.open_cases,
            recent_cases=m.recent_cases,
            recent_case_days=m.recent_case_days,
            average_first_response_seconds=m.average_first_response_seconds,
            average_resolution_seconds=m.average_resolution_seconds,
            complaints=m.complaints,
            open_complaints=m.open_complaints,
            average_csat=m.average_csat,
            last_nps=m.last_nps,
            last_nps_at=m.last_nps_at,
            nps_trend=m.nps_trend,
            site_visits=m.site_visits,
            last_visit_at=m.last_visit_at,
        )


@strawberry.type(description="The lifecycle stage and the rule that put the profile there.")
class LifecycleStageInfo:
    stage: LifecycleStage
    reason: str = strawberry.field(metadata=public("a sentence made by c360 from counts and dates"))

    @classmethod
    def from_stage(cls, stage: Stage) -> LifecycleStageInfo:
        return cls(stage=stage.stage, reason=stage.reason)


@strawberry.type(description="The value tier (from lifetime-value percentiles) and why.")
class ValueTierInfo:
    tier: ValueTier
    reason: str = strawberry.field(metadata=public("a sentence made by c360 from counts and dates"))

    @classmethod
    def from_tier(cls, tier: Tier) -> ValueTierInfo:
        return cls(tier=tier.tier, reason=tier.reason)


@strawberry.type(description="How likely the customer is to leave (0..1), with the signals.")
class ChurnRisk:
    score: float
    reasons: list[str] = strawberry.field(
        metadata=public("a sentence made by c360 from counts and dates")
    )

    @classmethod
    def from_value(cls, risk: ChurnRiskValue) -> ChurnRisk:
        return cls(score=risk.score, reasons=risk.reasons)


# --- Traits and consent -----------------------------------------------------------------------


@strawberry.type(description="Where a value came from.")
class Provenance:
    source: str = strawberry.field(extensions=in_text())
    record_id: strawberry.ID = strawberry.field(extensions=in_text())
    observed_at: dt.datetime


@strawberry.type(
    description="A profile attribute: the most recent non-empty value, with its origin."
)
class Trait:
    name: str = strawberry.field(metadata=public("the name of a person record's field"))
    value: str = strawberry.field(extensions=in_text())
    provenance: Provenance

    @classmethod
    def from_value(cls, trait: TraitValue) -> Trait:
        origin = trait.provenance
        return cls(
            name=trait.name,
            value=trait.value,
            provenance=Provenance(
                source=origin.source,
                record_id=strawberry.ID(origin.record_id),
                observed_at=origin.observed_at,
            ),
        )


@strawberry.type(description="A postal address the person used, with where and when it was seen.")
class ProfileAddress:
    address: PostalAddress
    sources: list[str] = strawberry.field(extensions=in_text())
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime

    @classmethod
    def from_seen(cls, seen: SeenAddress, profile_id: str) -> ProfileAddress:
        return cls(
            address=PostalAddress(**seen.address, profile_id=profile_id),
            sources=seen.sources,
            first_seen_at=seen.first_seen,
            last_seen_at=seen.last_seen,
        )


# --- The profile ------------------------------------------------------------------------------


@strawberry.type(description="One person, unified across every source.")
class Profile:
    id: strawberry.ID = strawberry.field(metadata=public("made by c360"))
    created_at: dt.datetime | None
    first_seen_at: dt.datetime | None
    last_seen_at: dt.datetime | None

    @classmethod
    def of(cls, profile: profiles.Profile) -> Profile:
        return cls(
            id=strawberry.ID(profile.id),
            created_at=profile.created_at,
            first_seen_at=profile.first_seen_at,
            last_seen_at=profile.last_seen_at,
        )

    @property
    def profile_id(self) -> str:
        """Whose the fields are, for the access audit."""
        return str(self.id)

    @strawberry.field(description="Every identifier linked to this profile.")
    async def identifiers(self, info: Info[Context, None]) -> list[Identifier]:
        return [Identifier.of(i) for i in await info.context.identifiers.load(self.id)]

    @strawberry.field(
        description="E-mail addresses, normalised.",
        extensions=[MaskedWithout(Permission.CONTACT_POINTS)],
    )
    async def emails(self, info: Info[Context, None]) -> list[str]:
        return await self._values(info, IdentifierType.EMAIL)

    @strawberry.field(
        description="Phone numbers in E.164.", extensions=[MaskedWithout(Permission.CONTACT_POINTS)]
    )
    async def phones(self, info: Info[Context, None]) -> list[str]:
        return await self._values(info, IdentifierType.PHONE)

    async def _values(self, info: Info[Context, None], kind: IdentifierType) -> list[str]:
        identifiers = await info.context.identifiers.load(self.id)
        return [i.value for i in identifiers if i.type is kind]

    @strawberry.field(
        description="The name to show, as given last: a full name, or the given and family "
        "names (family name first, without a space, for names written in Chinese characters, "
        "kana or hangul).",
        extensions=in_text(),
    )
    async def display_name(self, info: Info[Context, None]) -> str | None:
        return (await info.context.traits.load(self.id)).display_name

    @strawberry.field(
        description="Attributes from person records: per field the most recent non-empty value."
    )
    async def traits(self, info: Info[Context, None]) -> list[Trait]:
        traits = await info.context.traits.load(self.id)
        return [Trait.from_value(t) for t in traits.fields.values()]

    @strawberry.field(description="Every postal address seen, most recently seen first.")
    async def addresses(self, info: Info[Context, None]) -> list[ProfileAddress]:
        traits = await info.context.traits.load(self.id)
        return [ProfileAddress.from_seen(a, self.id) for a in traits.addresses]

    @strawberry.field(
        description="Effective consent per channel, contact point and purpose; merging never "
        "widens it (an opt-out stands unless a newer opt-in for the same point and purpose)."
    )
    async def consents(self, info: Info[Context, None]) -> list[Consent]:
        states = await info.context.consents.load(self.id)
        return [Consent.from_state(s, self.id) for s in states]

    @strawberry.field(
        description="The channel to use for a purpose (default: service) now: the top of "
        "bestChannels, with why (the customer asked for it, their conversations show it, or "
        "the default order). Null when the policy allows no channel."
    )
    async def preferred_channel(
        self, info: Info[Context, None], purpose: Purpose = SERVICE
    ) -> ChannelChoice | None:
        facts = await info.context.contact_facts.load(self.id)
        best = info.context.services.contact.preferred_channel(facts, purpose, info.context.now)
        return None if best is None else ChannelChoice.of(best)

    @strawberry.field(description="How the customer wants to be contacted, with provenance.")
    async def contact_preferences(self, info: Info[Context, None]) -> ContactPreferences:
        facts = await info.context.contact_facts.load(self.id)
        return preferences_of(info.context.services.contact.preferences(facts))

    @strawberry.field(
        description="Every consent, preference and contact-point change, newest first, each "
        "with its source, origin, actor and evidence: nothing is overwritten."
    )
    async def consent_history(
        self,
        info: Info[Context, None],
        first: Annotated[int, strawberry.argument(description=PAGE_FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=PAGE_AFTER)] = None,
    ) -> TimelineConnection:
        kinds = [TimelineKind.CONSENT_CHANGE, TimelineKind.PREFERENCE_CHANGE]
        kinds.append(TimelineKind.CONTACT_POINT_STATUS)
        return await self.timeline(info, first=first, after=after, kinds=kinds)

    @strawberry.field(description="When the person first bought, else when first seen.")
    async def customer_since(self, info: Info[Context, None]) -> dt.datetime | None:
        return (await self._view(info)).metrics.first_order_at or self.first_seen_at

    @strawberry.field(description="Orders, returns, service and feedback, computed.")
    async def metrics(self, info: Info[Context, None]) -> ProfileMetrics:
        return ProfileMetrics.from_metrics((await self._view(info)).metrics)

    @strawberry.field(description="Where the customer is in their lifecycle, and why.")
    async def lifecycle_stage(self, info: Info[Context, None]) -> LifecycleStageInfo:
        return LifecycleStageInfo.from_stage((await self._view(info)).stage)

    @strawberry.field(description="Value tier from lifetime-value percentiles among buyers.")
    async def value_tier(self, info: Info[Context, None]) -> ValueTierInfo:
        return ValueTierInfo.from_tier((await self._view(info)).tier)

    @strawberry.field(description="Churn risk from recency, frequency and service signals.")
    async def churn_risk(self, info: Info[Context, None]) -> ChurnRisk:
        return ChurnRisk.from_value((await self._view(info)).churn)

    @strawberry.field(
        description="The last resolved cases, newest first: what went wrong before, how long "
        "it took (openedAt to solvedAt) and how the customer rated it."
    )
    async def past_problems(self, info: Info[Context, None]) -> list[ServiceCaseRecord]:
        return [case_of(r) for r in await info.context.past_problems.load(self.id)]

    @strawberry.field(description="Cases not solved or closed yet, newest first.")
    async def open_cases(self, info: Info[Context, None]) -> list[ServiceCaseRecord]:
        return [case_of(r) for r in await info.context.open_cases.load(self.id)]

    @strawberry.field(
        description="The customer's follow-ups, newest first: by default every one but those "
        "withdrawn or folded into another by a merge; `status` to choose.",
        extensions=[Requires(Permission.FOLLOW_UPS)],
    )
    async def follow_ups(
        self, info: Info[Context, None], status: list[FollowUpStatus] | None = None
    ) -> list[FollowUp] | None:
        return await follow_ups_of(info, self.id, status)

    @strawberry.field(
        description="Feedback that needs an answer to the customer (survey responses with a "
        "comment, a low score or a request to be contacted; complaints), newest first, with "
        "how it was acknowledged. `acknowledged` to choose.",
        extensions=[Requires(Permission.FOLLOW_UPS)],
    )
    async def feedback(
        self, info: Info[Context, None], acknowledged: bool | None = None
    ) -> list[Feedback] | None:
        return await feedback_of(info, self.id, acknowledged)

    async def _view(self, info: Info[Context, None]) -> ProfileView:
        views = info.context.views
        if self.id not in views:  # sibling fields resolve concurrently: they share one task
            views[self.id] = asyncio.create_task(self._compute_view(info))
        return await views[self.id]

    async def _compute_view(self, info: Info[Context, None]) -> ProfileView:
        aggregate = await info.context.aggregates.load(self.id)
        metrics = info.context.services.profiles.metrics
        return await metrics.view(aggregate, self.last_seen_at, info.context.now)

    @strawberry.field(
        description="The merges and unmerges this profile took part in.",
        extensions=[Requires(Permission.IDENTITY_HISTORY)],
    )
    async def merges(self, info: Info[Context, None]) -> list[Merge] | None:
        return [Merge.of(e) for e in await info.context.services.merges.history(self.id)]

    @strawberry.field(
        description="Profiles that may be the same person, awaiting review.",
        extensions=[Requires(Permission.IDENTITY_HISTORY)],
    )
    async def match_suggestions(
        self, info: Info[Context, None], status: str = "open"
    ) -> list[MatchSuggestion] | None:
        found = await info.context.services.merges.suggestions(self.id)
        return [MatchSuggestion.of(s) for s in found if s.status == status]

    @strawberry.field(description="Records from every source, newest first.")
    async def timeline(
        self,
        info: Info[Context, None],
        first: Annotated[int, strawberry.argument(description=PAGE_FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=PAGE_AFTER)] = None,
        kinds: Annotated[
            list[TimelineKind] | None,
            strawberry.argument(description="Only records of these kinds; null: every kind."),
        ] = None,
        since: Annotated[
            dt.datetime | None,
            strawberry.argument(description="Only records from this instant on (inclusive)."),
        ] = None,
        until: Annotated[
            dt.datetime | None,
            strawberry.argument(description="Only records up to this instant (inclusive)."),
        ] = None,
    ) -> TimelineConnection:
        query = info.context.services.profiles.timeline_query(
            self.id,
            first=first,
            after=after,
            kinds=[k.value for k in kinds or []],
            since=since,
            until=until,
        )
        page = await info.context.timelines.load(query)
        edges = [TimelineEdge(cursor=c, node=timeline_item(r)) for c, r in page.items]
        edges, more = await with_follow_up_events(info, self.id, query, edges, page.has_next_page)
        return TimelineConnection(edges=edges, page_info=PageInfo.after(edges, more))


@strawberry.type
class ProfileEdge:
    cursor: str = strawberry.field(metadata=public("a profile id"))
    node: Profile


@strawberry.type(description="Profiles found by a search, in a stable order (by id).")
class ProfileConnection:
    edges: list[ProfileEdge]
    page_info: PageInfo


ProfileResult = Annotated[
    Profile | NotFoundError | InvalidInputError, strawberry.union("ProfileResult")
]
