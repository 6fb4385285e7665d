"""GraphQL types. They translate store documents; they decide nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from c360.api.graphql.access import MaskedWithout, Requires, case_text, in_text, public
from c360.api.graphql.context import Context
from c360.api.graphql.scalars import SERVICE, Purpose

if TYPE_CHECKING:
    from c360.api.graphql.contact import ChannelChoice, ContactPreferences
    from c360.api.graphql.identity import MatchSuggestion, Merge
    from c360.api.graphql.profile360 import (
        ChurnRisk,
        LifecycleStageInfo,
        ProfileMetrics,
        ValueTierInfo,
    )
    from c360.profiles.metrics_service import ProfileView
from c360.auth.masking import Mask
from c360.auth.service import Permission
from c360.contact.consent import ConsentState
from c360.contact.preferences import Hours, Window, window_of
from c360.profiles.service import from_epoch_ms
from c360.profiles.traits import SeenAddress
from c360.profiles.traits import Trait as TraitValue
from c360.store import Document
from schemas.identifiers import IdentifierType
from schemas.records import (
    WEEKDAYS,
    CasePriority,
    CaseStatus,
    ChangeOrigin,
    ConsentStatus,
    ContactChannel,
    ContactOutcome,
    ContactPointState,
    OrderChannel,
    PreferenceField,
    RecordKind,
    ServiceChannel,
    SiteEventType,
    SurveyType,
    Weekday,
)

# The canonical enums are the GraphQL enums: one definition, no mapping to keep in sync.
for _enum in (
    IdentifierType,
    RecordKind,
    OrderChannel,
    ServiceChannel,
    CaseStatus,
    CasePriority,
    SurveyType,
    ContactChannel,
    ConsentStatus,
    SiteEventType,
    ChangeOrigin,
    ContactPointState,
    ContactOutcome,
    PreferenceField,
    Weekday,
):
    strawberry.enum(_enum)


# --- Errors: expected failures are part of the schema ---------------------------------------


@strawberry.interface(description="An expected failure, returned as data.")
class Error:
    message: str = strawberry.field(extensions=in_text())  # may repeat what it refuses
    code: str = strawberry.field(metadata=public("an error class name"))


@strawberry.type(description="Nothing matches what was asked for.")
class NotFoundError(Error):
    pass


@strawberry.type(description="The input cannot be used as given; the message says why.")
class InvalidInputError(Error):
    pass


@strawberry.type(description="The caller's API key lacks the role this needs.")
class ForbiddenError(Error):
    pass


# --- Values -----------------------------------------------------------------------------------


@strawberry.type(description="An amount in integer minor units of an ISO 4217 currency.")
class Money:
    amount: int
    currency: str = strawberry.field(metadata=public("an ISO 4217 code, validated"))

    @classmethod
    def from_doc(cls, doc: Document) -> Money:
        return cls(amount=doc["amount"], currency=doc["currency"])


@strawberry.type
class Identifier:
    type: IdentifierType
    value: str = strawberry.field(extensions=[MaskedWithout(Permission.CONTACT_POINTS)])
    source: str | None = strawberry.field(extensions=in_text())
    first_seen_at: dt.datetime | None
    profile_id: strawberry.Private[str | None] = None  # whose it is, for the access audit

    @classmethod
    def from_doc(cls, doc: Document, profile_id: str | None = None) -> Identifier:
        return cls(
            type=IdentifierType(doc["type"]),
            value=doc["value"],
            source=doc.get("source"),
            first_seen_at=doc.get("created_at"),
            profile_id=profile_id or doc.get("profile_id"),
        )


@strawberry.type
class PostalAddress:
    line1: str = strawberry.field(
        extensions=[MaskedWithout(Permission.CONTACT_POINTS, Mask.FIRST_LETTER)]
    )
    line2: str | None = strawberry.field(
        default=None, extensions=[MaskedWithout(Permission.CONTACT_POINTS, Mask.FIRST_LETTER)]
    )
    city: str | None = strawberry.field(default=None, extensions=in_text())
    region: str | None = strawberry.field(default=None, extensions=in_text())
    postal_code: str | None = strawberry.field(
        default=None, extensions=[MaskedWithout(Permission.CONTACT_POINTS, Mask.POSTAL_CODE)]
    )
    country: str = strawberry.field(metadata=public("an ISO 3166 code, validated"))
    profile_id: strawberry.Private[str | None] = None  # whose it is, for the access audit


@strawberry.type
class LineItem:
    line_id: str | None = strawberry.field(extensions=in_text())
    sku: str | None = strawberry.field(extensions=in_text())
    title: str | None = strawberry.field(extensions=in_text())
    category: str | None = strawberry.field(extensions=in_text())
    quantity: int
    unit_price: Money


@strawberry.type
class ReturnItem:
    line_id: str | None = strawberry.field(extensions=in_text())
    sku: str | None = strawberry.field(extensions=in_text())
    quantity: int
    amount: Money | None


# --- The timeline -----------------------------------------------------------------------------


@strawberry.interface(description="One entry of a profile's timeline: a record from a source.")
class TimelineItem:
    # The record's id is {source}:{kind}:{externalId}, and a source's id may be an address.
    id: strawberry.ID = strawberry.field(extensions=in_text())
    kind: RecordKind
    source: str = strawberry.field(extensions=in_text())
    external_id: str = strawberry.field(extensions=in_text())
    occurred_at: dt.datetime
    revision: dt.datetime
    identifiers: list[Identifier]
    profile_id: strawberry.Private[str | None] = None  # whose it is, for the access audit


@strawberry.type
class PersonRecord(TimelineItem):
    given_name: str | None = strawberry.field(default=None, extensions=in_text())
    family_name: str | None = strawberry.field(default=None, extensions=in_text())
    full_name: str | None = strawberry.field(default=None, extensions=in_text())
    addresses: list[PostalAddress] = strawberry.field(default_factory=list)
    birth_date: dt.date | None = None
    language: str | None = strawberry.field(default=None, metadata=public("a BCP 47 tag"))
    country: str | None = strawberry.field(default=None, metadata=public("an ISO 3166 code"))
    time_zone: str | None = strawberry.field(default=None, metadata=public("an IANA zone"))


@strawberry.type
class SiteEventRecord(TimelineItem):
    event_type: SiteEventType
    name: str | None = strawberry.field(default=None, extensions=in_text())
    channel: str = strawberry.field(metadata=public("web, app or server"))
    url: str | None = strawberry.field(default=None, extensions=in_text())
    referrer: str | None = strawberry.field(default=None, extensions=in_text())
    user_agent: str | None = strawberry.field(default=None, extensions=in_text())
    properties: JSON = strawberry.field(
        extensions=[MaskedWithout(Permission.CONTACT_POINTS, Mask.PROPERTIES)]
    )


@strawberry.type
class OrderRecord(TimelineItem):
    order_number: str | None = strawberry.field(default=None, extensions=in_text())
    channel: OrderChannel
    store_id: str | None = strawberry.field(default=None, extensions=in_text())
    line_items: list[LineItem]
    total: Money
    cancelled_at: dt.datetime | None = None


@strawberry.type
class ReturnRecord(TimelineItem):
    order_external_id: str = strawberry.field(extensions=in_text())
    items: list[ReturnItem]
    amount: Money
    reason: str | None = strawberry.field(default=None, extensions=in_text())


@strawberry.type
class ServiceCaseRecord(TimelineItem):
    channel: ServiceChannel
    status: CaseStatus
    priority: CasePriority
    subject: str | None = strawberry.field(default=None, extensions=case_text())
    description: str | None = strawberry.field(default=None, extensions=case_text())
    first_response_at: dt.datetime | None = None
    solved_at: dt.datetime | None = None
    satisfaction: str | None = strawberry.field(default=None, metadata=public("good or bad"))
    tags: list[str] = strawberry.field(extensions=in_text())
    complaint: bool
    agent_replies: int | None = strawberry.field(
        default=None, description="Agents' public replies on the case, when the source says."
    )


@strawberry.type
class SurveyResponseRecord(TimelineItem):
    survey_type: SurveyType
    score: int
    comment: str | None = strawberry.field(default=None, extensions=case_text())
    touchpoint: str | None = strawberry.field(default=None, extensions=in_text())


@strawberry.type
class ConsentChangeRecord(TimelineItem):
    channel: ContactChannel
    purpose: str = strawberry.field(
        description="'all': the whole channel.",
        metadata=public("a purpose: validated [a-z][a-z0-9_]*"),
    )
    status: ConsentStatus
    contact_point: str | None = strawberry.field(
        default=None, extensions=[MaskedWithout(Permission.CONTACT_POINTS)]
    )
    origin: ChangeOrigin
    actor: str | None = strawberry.field(default=None, extensions=in_text())
    evidence: str | None = strawberry.field(default=None, extensions=in_text())


@strawberry.type(description="A purpose and the channel the customer asked for it.")
class PurposeChannel:
    purpose: str = strawberry.field(metadata=public("a purpose: validated [a-z][a-z0-9_]*"))
    channel: ContactChannel | None = strawberry.field(description="Null: the request removed.")


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


@strawberry.type(description="At most maxContacts contacts in any perDays days.")
class FrequencyCap:
    channel: ContactChannel
    purpose: str = strawberry.field(metadata=public("a purpose: validated [a-z][a-z0-9_]*"))
    max_contacts: int | None = strawberry.field(description="Null: back to the default cap.")
    per_days: int


@strawberry.type
class DoNotContactChange:
    active: bool
    reason: str | None = strawberry.field(
        description="Why contact stopped: case text (an agent's note, a complaint).",
        extensions=case_text(),
    )


@strawberry.type(description="Contact preferences that changed; what it does not name stays.")
class PreferenceChangeRecord(TimelineItem):
    preferred_channels: list[PurposeChannel]
    language: str | None = strawberry.field(default=None, metadata=public("a BCP 47 tag"))
    time_zone: str | None = strawberry.field(default=None, metadata=public("an IANA zone"))
    quiet_hours: QuietHours | None = None
    contact_windows: list[ContactWindow] | None = None
    frequency_caps: list[FrequencyCap]
    do_not_contact: DoNotContactChange | None = None
    cleared: list[PreferenceField]
    origin: ChangeOrigin
    actor: str | None = strawberry.field(default=None, extensions=in_text())
    evidence: str | None = strawberry.field(default=None, extensions=in_text())


@strawberry.type(description="What became known of an address or number: verified, bounced…")
class ContactPointStatusRecord(TimelineItem):
    channel: ContactChannel
    contact_point: str = strawberry.field(extensions=[MaskedWithout(Permission.CONTACT_POINTS)])
    status: ContactPointState
    reason: str | None = strawberry.field(default=None, extensions=in_text())
    origin: ChangeOrigin
    actor: str | None = strawberry.field(default=None, extensions=in_text())
    evidence: str | None = strawberry.field(default=None, extensions=in_text())


@strawberry.type(description="A message or call to the customer.")
class OutboundContactRecord(TimelineItem):
    channel: ContactChannel
    purpose: str = strawberry.field(metadata=public("a purpose: validated [a-z][a-z0-9_]*"))
    contact_point: str | None = strawberry.field(
        default=None, extensions=[MaskedWithout(Permission.CONTACT_POINTS)]
    )
    campaign: str | None = strawberry.field(default=None, extensions=in_text())
    outcome: ContactOutcome
    actor: str | None = strawberry.field(default=None, extensions=in_text())


def _preference_change(base: dict[str, Any], data: dict[str, Any]) -> PreferenceChangeRecord:
    quiet = data.get("quiet_hours")
    windows = data.get("contact_windows")
    stop = data.get("do_not_contact")
    return PreferenceChangeRecord(
        **base,
        preferred_channels=[
            PurposeChannel(purpose=p, channel=None if c is None else ContactChannel(c))
            for p, c in data.get("preferred_channels", {}).items()
        ],
        language=data.get("language"),
        time_zone=data.get("time_zone"),
        quiet_hours=None if quiet is None else QuietHours.of(Hours.of(quiet)),
        contact_windows=None
        if windows is None
        else [ContactWindow.of(window_of(w)) for w in windows],
        frequency_caps=[
            FrequencyCap(
                channel=ContactChannel(c["channel"]),
                purpose=c["purpose"],
                max_contacts=c.get("max_contacts"),
                per_days=c["per_days"],
            )
            for c in data.get("frequency_caps", [])
        ],
        do_not_contact=None
        if stop is None
        else DoNotContactChange(active=stop["active"], reason=stop.get("reason")),
        cleared=[PreferenceField(f) for f in data.get("cleared", [])],
        origin=ChangeOrigin(data.get("origin", ChangeOrigin.IMPORT)),
        actor=data.get("actor"),
        evidence=data.get("evidence"),
    )


def _envelope(doc: Document) -> dict[str, Any]:
    profile_id = doc.get("profile_id")
    return {
        "id": strawberry.ID(doc["_id"]),
        "kind": RecordKind(doc["kind"]),
        "source": doc["source"],
        "external_id": doc["external_id"],
        "occurred_at": doc["occurred_at"],
        "revision": doc["revision"],
        "identifiers": [Identifier.from_doc(i, profile_id) for i in doc.get("identifiers", [])],
        "profile_id": profile_id,
    }


def _money(value: Document | None) -> Money | None:
    return None if value is None else Money.from_doc(value)


def _case(doc: Document) -> ServiceCaseRecord:
    item = timeline_item(doc)
    assert isinstance(item, ServiceCaseRecord)  # the query asked for service cases only
    return item


def timeline_item(doc: Document) -> TimelineItem:
    """The concrete GraphQL type of a stored record."""
    data: dict[str, Any] = dict(doc.get("data", {}))
    base = _envelope(doc)
    match base["kind"]:
        case RecordKind.PERSON:
            addresses = [
                PostalAddress(**a, profile_id=base["profile_id"]) for a in data.pop("addresses", [])
            ]
            birth_date = data.pop("birth_date", None)
            return PersonRecord(
                **base,
                **data,
                addresses=addresses,
                birth_date=dt.date.fromisoformat(birth_date) if birth_date else None,
            )
        case RecordKind.SITE_EVENT:
            return SiteEventRecord(
                **base, **{**data, "event_type": SiteEventType(data["event_type"])}
            )
        case RecordKind.ORDER:
            return OrderRecord(
                **base,
                **{
                    **data,
                    "channel": OrderChannel(data["channel"]),
                    "total": Money.from_doc(data["total"]),
                    "line_items": [
                        LineItem(
                            line_id=li.get("line_id"),
                            sku=li.get("sku"),
                            title=li.get("title"),
                            category=li.get("category"),
                            quantity=li["quantity"],
                            unit_price=Money.from_doc(li["unit_price"]),
                        )
                        for li in data.get("line_items", [])
                    ],
                },
            )
        case RecordKind.RETURN:
            return ReturnRecord(
                **base,
                **{
                    **data,
                    "amount": Money.from_doc(data["amount"]),
                    "items": [
                        ReturnItem(
                            line_id=i.get("line_id"),
                            sku=i.get("sku"),
                            quantity=i["quantity"],
                            amount=_money(i.get("amount")),
                        )
                        for i in data.get("items", [])
                    ],
                },
            )
        case RecordKind.SERVICE_CASE:
            return ServiceCaseRecord(
                **base,
                **{
                    **data,
                    "channel": ServiceChannel(data["channel"]),
                    "status": CaseStatus(data["status"]),
                    "priority": CasePriority(data["priority"]),
                    "tags": data.get("tags", []),
                },
            )
        case RecordKind.SURVEY_RESPONSE:
            return SurveyResponseRecord(
                **base, **{**data, "survey_type": SurveyType(data["survey_type"])}
            )
        case RecordKind.CONSENT_CHANGE:
            return ConsentChangeRecord(
                **base,
                **{
                    **data,
                    "channel": ContactChannel(data["channel"]),
                    "status": ConsentStatus(data["status"]),
                    "origin": ChangeOrigin(data.get("origin", ChangeOrigin.IMPORT)),
                },
            )
        case RecordKind.PREFERENCE_CHANGE:
            return _preference_change(base, data)
        case RecordKind.CONTACT_POINT_STATUS:
            return ContactPointStatusRecord(
                **base,
                **{
                    **data,
                    "channel": ContactChannel(data["channel"]),
                    "status": ContactPointState(data["status"]),
                    "origin": ChangeOrigin(data.get("origin", ChangeOrigin.IMPORT)),
                },
            )
        case RecordKind.OUTBOUND_CONTACT:
            return OutboundContactRecord(
                **base,
                **{
                    **data,
                    "channel": ContactChannel(data["channel"]),
                    "outcome": ContactOutcome(data.get("outcome", ContactOutcome.SENT)),
                },
            )
    raise ValueError(f"unknown record kind {doc['kind']!r}")


TIMELINE_TYPES = (
    PersonRecord,
    SiteEventRecord,
    OrderRecord,
    ReturnRecord,
    ServiceCaseRecord,
    SurveyResponseRecord,
    ConsentChangeRecord,
    PreferenceChangeRecord,
    ContactPointStatusRecord,
    OutboundContactRecord,
)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        metadata=public("a position made by c360: a profile id or a timeline position")
    )

    @classmethod
    def after(cls, edges: Sequence[Any], has_next_page: bool) -> PageInfo:
        """A page's info: its end cursor is its last edge's."""
        return cls(has_next_page=has_next_page, end_cursor=edges[-1].cursor if edges else None)


@strawberry.type
class TimelineEdge:
    cursor: str = strawberry.field(metadata=public("a position in the timeline, made by c360"))
    node: TimelineItem


@strawberry.type(description="A Relay-style connection; cursors stay valid as records arrive.")
class TimelineConnection:
    edges: list[TimelineEdge]
    page_info: PageInfo


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
        )


# --- The profile ------------------------------------------------------------------------------


@strawberry.type(description="One person, unified across every source.")
class Profile:
    id: strawberry.ID = strawberry.field(metadata=public("made by c360"))
    created_at: dt.datetime | None
    first_seen_at: dt.datetime | None
    last_seen_at: dt.datetime | None

    @classmethod
    def from_doc(cls, doc: Document) -> Profile:
        return cls(
            id=strawberry.ID(doc["_id"]),
            created_at=doc.get("created_at"),
            first_seen_at=from_epoch_ms(doc.get("first_seen_ms")),
            last_seen_at=from_epoch_ms(doc.get("last_seen_ms")),
        )

    @property
    def profile_id(self) -> str:
        """Whose the fields are, for the access audit."""
        return str(self.id)

    @strawberry.field(description="Every identifier linked to this profile.")
    async def identifiers(self, info: Info[Context, None]) -> list[Identifier]:
        docs = await info.context.identifiers.load(self.id)
        return [Identifier.from_doc(d, self.id) for d in docs]

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
        docs = await info.context.identifiers.load(self.id)
        return [d["value"] for d in docs if d["type"] == kind.value]

    @strawberry.field(
        description="The name to show: full name, else given and family names.",
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
    ) -> Annotated[ChannelChoice, strawberry.lazy("c360.api.graphql.contact")] | None:
        from c360.api.graphql.contact import ChannelChoice
        from c360.contact.policy import best_channels

        facts = await info.context.contact_facts.load(self.id)
        policy = info.context.services.contact.policy
        ranked = best_channels(facts, purpose, info.context.now, policy)
        return ChannelChoice.of(ranked[0]) if ranked else None

    @strawberry.field(description="How the customer wants to be contacted, with provenance.")
    async def contact_preferences(
        self, info: Info[Context, None]
    ) -> Annotated[ContactPreferences, strawberry.lazy("c360.api.graphql.contact")]:
        from c360.api.graphql.contact import preferences_of

        return preferences_of(await info.context.contact_facts.load(self.id), info)

    @strawberry.field(
        description="Every consent, preference and contact-point change, newest first, each "
        "with its source, origin, actor and evidence: nothing is overwritten."
    )
    async def consent_history(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> TimelineConnection:
        kinds = [RecordKind.CONSENT_CHANGE, RecordKind.PREFERENCE_CHANGE]
        kinds.append(RecordKind.CONTACT_POINT_STATUS)
        return await self.timeline(info, first=first, after=after, kinds=kinds)

    @strawberry.field(description="When the person first bought, else when first seen.")
    async def customer_since(self, info: Info[Context, None]) -> dt.datetime | None:
        return (await self._view(info)).metrics.first_order_at or self.first_seen_at

    @strawberry.field(description="Orders, returns, service and feedback, computed.")
    async def metrics(
        self, info: Info[Context, None]
    ) -> Annotated[ProfileMetrics, strawberry.lazy("c360.api.graphql.profile360")]:
        from c360.api.graphql.profile360 import ProfileMetrics

        return ProfileMetrics.from_metrics((await self._view(info)).metrics)

    @strawberry.field(description="Where the customer is in their lifecycle, and why.")
    async def lifecycle_stage(
        self, info: Info[Context, None]
    ) -> Annotated[LifecycleStageInfo, strawberry.lazy("c360.api.graphql.profile360")]:
        from c360.api.graphql.profile360 import LifecycleStageInfo

        return LifecycleStageInfo.from_stage((await self._view(info)).stage)

    @strawberry.field(description="Value tier from lifetime-value percentiles among buyers.")
    async def value_tier(
        self, info: Info[Context, None]
    ) -> Annotated[ValueTierInfo, strawberry.lazy("c360.api.graphql.profile360")]:
        from c360.api.graphql.profile360 import ValueTierInfo

        return ValueTierInfo.from_tier((await self._view(info)).tier)

    @strawberry.field(description="Churn risk from recency, frequency and service signals.")
    async def churn_risk(
        self, info: Info[Context, None]
    ) -> Annotated[ChurnRisk, strawberry.lazy("c360.api.graphql.profile360")]:
        from c360.api.graphql.profile360 import ChurnRisk

        return ChurnRisk.from_value((await self._view(info)).churn)

    @strawberry.field(
        description="The last resolved cases, newest first: what went wrong before, how long "
        "it took (openedAt to solvedAt) and how the customer rated it."
    )
    async def past_problems(self, info: Info[Context, None]) -> list[ServiceCaseRecord]:
        docs = await info.context.past_problems.load(self.id)
        return [_case(doc) for doc in docs]

    @strawberry.field(description="Cases not solved or closed yet, newest first.")
    async def open_cases(self, info: Info[Context, None]) -> list[ServiceCaseRecord]:
        return [_case(doc) for doc in await info.context.open_cases.load(self.id)]

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
    async def merges(
        self, info: Info[Context, None]
    ) -> list[Annotated[Merge, strawberry.lazy("c360.api.graphql.identity")]] | None:
        from c360.api.graphql.identity import Merge

        return [Merge.from_doc(d) for d in await info.context.services.merges.history(self.id)]

    @strawberry.field(
        description="Profiles that may be the same person, awaiting review.",
        extensions=[Requires(Permission.IDENTITY_HISTORY)],
    )
    async def match_suggestions(
        self, info: Info[Context, None], status: str = "open"
    ) -> list[Annotated[MatchSuggestion, strawberry.lazy("c360.api.graphql.identity")]] | None:
        from c360.api.graphql.identity import MatchSuggestion

        docs = await info.context.services.merges.suggestions(self.id)
        return [MatchSuggestion.from_doc(d) for d in docs if d["status"] == status]

    @strawberry.field(description="Records from every source, newest first.")
    async def timeline(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        kinds: list[RecordKind] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
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
        edges = [TimelineEdge(cursor=c, node=timeline_item(d)) for c, d in page.items]
        return TimelineConnection(
            edges=edges,
            page_info=PageInfo.after(edges, page.has_next_page),
        )


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
