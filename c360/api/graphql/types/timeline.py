"""GraphQL types of the timeline: one type per record kind, and the mapper from a stored
record to its type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from c360.api.graphql.access import MaskedWithout, case_text, in_text, public
from c360.api.graphql.context import Context
from c360.api.graphql.types.contact import ContactWindow, QuietHours
from c360.api.graphql.types.identity import Identifier
from c360.api.graphql.values import Money, PageInfo, PostalAddress, TimelineKind
from c360.auth.masking import Mask
from c360.auth.service import Permission
from c360.contact.preferences import Hours, window_of
from c360.records.types import Record
from schemas.records import (
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
)


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
    kind: TimelineKind
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
    account_owner: str | None = strawberry.field(
        default=None,
        description="Who owns the account in the source: their follow-ups go to this person.",
        extensions=in_text(),
    )


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
    discount: Money | None = strawberry.field(
        default=None,
        description="What discounts took off the line items (coupons, promotions), when "
        "something was; total is what the customer paid after it.",
    )
    total: Money
    cancelled_at: dt.datetime | None = None


@strawberry.type
class ReturnRecord(TimelineItem):
    order_external_id: str = strawberry.field(extensions=in_text())
    items: list[ReturnItem]
    amount: Money
    reason: str | None = strawberry.field(default=None, extensions=in_text())

    @strawberry.field(
        description="The order it returns, when c360 holds it for this customer (the "
        "source's order of id orderExternalId; its orderNumber is what the customer knows); "
        "null otherwise. The returns of a page read their orders together."
    )
    async def order(self, info: Info[Context, None]) -> OrderRecord | None:
        if self.profile_id is None:
            return None
        profiles = info.context.services.profiles
        loader = info.context.loader("profiles.records_held", profiles.records_held)
        order_id = f"{self.source}:{RecordKind.ORDER}:{self.order_external_id}"
        found = await loader.load((self.profile_id, order_id))
        if found is None or found.kind is not RecordKind.ORDER:
            return None
        item = timeline_item(found)
        return item if isinstance(item, OrderRecord) else None


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
    contact_requested: bool = strawberry.field(
        default=False, description="The customer asked to be contacted."
    )


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


def _envelope(record: Record) -> dict[str, Any]:
    profile_id = record.profile_id
    return {
        "id": strawberry.ID(record.id),
        "kind": TimelineKind(record.kind),
        "source": record.source,
        "external_id": record.external_id,
        "occurred_at": record.occurred_at,
        "revision": record.revision,
        "identifiers": [Identifier.carried(i, profile_id) for i in record.identifiers],
        "profile_id": profile_id,
    }


def _money(value: Mapping[str, Any] | None) -> Money | None:
    return None if value is None else Money.of(value)


def case_of(record: Record) -> ServiceCaseRecord:
    item = timeline_item(record)
    assert isinstance(item, ServiceCaseRecord)  # the query asked for service cases only
    return item


def timeline_item(record: Record) -> TimelineItem:
    """The concrete GraphQL type of a stored record."""
    data: dict[str, Any] = dict(record.payload)
    base = _envelope(record)
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
                    "discount": Money.of(data["discount"]) if data.get("discount") else None,
                    "total": Money.of(data["total"]),
                    "line_items": [
                        LineItem(
                            line_id=li.get("line_id"),
                            sku=li.get("sku"),
                            title=li.get("title"),
                            category=li.get("category"),
                            quantity=li["quantity"],
                            unit_price=Money.of(li["unit_price"]),
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
                    "amount": Money.of(data["amount"]),
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
    raise ValueError(f"unknown record kind {record.kind!r}")


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
class TimelineEdge:
    cursor: str = strawberry.field(metadata=public("a position in the timeline, made by c360"))
    node: TimelineItem


@strawberry.type(description="A Relay-style connection; cursors stay valid as records arrive.")
class TimelineConnection:
    edges: list[TimelineEdge]
    page_info: PageInfo
