"""Canonical record kinds: what every connector emits and the ingest pipeline stores.

Each record is one source's statement about something that happened to a person (or, for
:class:`Person`, who that person is). ``(source, kind, external_id)`` is its identity: ingesting
the same triple again is a duplicate or, with a newer ``updated_at``, a new revision.
"""

# Over 500 lines, kept whole: the canonical records are one contract, exported as one JSON
# Schema union and read by every connector; their kinds, shared bases, enums and union are read
# together, and split they would import each other (the union needs every kind, every kind the
# bases).

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from schemas.common import (
    SOURCE_PATTERN,
    Contract,
    Count,
    CountryCode,
    JsonObject,
    LanguageTag,
    Money,
    NonEmptyStr,
    ObservedAt,
    TimeZoneName,
)
from schemas.identifiers import Identifier, IdentifierType, normalize_email, normalize_phone


class RecordKind(enum.StrEnum):
    PERSON = "person"
    SITE_EVENT = "site_event"
    ORDER = "order"
    RETURN = "return"
    SERVICE_CASE = "service_case"
    SURVEY_RESPONSE = "survey_response"
    CONSENT_CHANGE = "consent_change"
    PREFERENCE_CHANGE = "preference_change"
    CONTACT_POINT_STATUS = "contact_point_status"
    OUTBOUND_CONTACT = "outbound_contact"


class RecordBase(Contract):
    source: str = Field(
        pattern=SOURCE_PATTERN,
        description="The system the record comes from, lower-case: shopify, zendesk, pos, crm…",
    )
    external_id: str = Field(min_length=1, max_length=256, description="Id in the source system.")
    occurred_at: ObservedAt = Field(description="When it happened (for a case: when opened).")
    updated_at: ObservedAt | None = Field(
        default=None,
        description="Revision time in the source; a newer revision replaces an older one.",
    )
    identifiers: list[Identifier] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _revision_not_before_occurrence(self) -> Self:
        if self.updated_at is not None and self.updated_at < self.occurred_at:
            raise ValueError("updated_at is earlier than occurred_at")
        return self

    @property
    def record_id(self) -> str:
        """The idempotency key ``{source}:{kind}:{external_id}``."""
        kind: str = getattr(self, "kind")  # noqa: B009 - every concrete record declares it
        return f"{self.source}:{kind}:{self.external_id}"

    @property
    def revision(self) -> dt.datetime:
        return self.updated_at or self.occurred_at


class IdentifiedRecord(RecordBase):
    """A record that names its person directly: at least one identifier is required."""

    identifiers: list[Identifier] = Field(min_length=1, max_length=100)


# --- Person ---------------------------------------------------------------------------------


class PostalAddress(Contract):
    line1: NonEmptyStr
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: CountryCode


class Person(IdentifiedRecord):
    """A source's view of who someone is: a CRM row, a Shopify customer, a Zendesk user…"""

    kind: Literal["person"] = "person"
    given_name: str | None = Field(default=None, max_length=200)
    family_name: str | None = Field(default=None, max_length=200)
    full_name: str | None = Field(default=None, max_length=400)
    addresses: list[PostalAddress] = Field(default_factory=list, max_length=20)
    birth_date: dt.date | None = None
    language: LanguageTag | None = None
    country: CountryCode | None = None
    time_zone: TimeZoneName | None = None
    account_owner: str | None = Field(
        default=None,
        max_length=256,
        description="Who owns the customer's account in the source (a CRM's account manager): "
        "their follow-ups are assigned to this person.",
    )

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth_date(cls, value: dt.date | None) -> dt.date | None:
        today = dt.datetime.now(dt.UTC).date()
        if value is not None and not dt.date(1900, 1, 1) <= value <= today:
            raise ValueError(f"implausible birth date {value.isoformat()}")
        return value


# --- Site behaviour -------------------------------------------------------------------------


class SiteEventType(enum.StrEnum):
    IDENTIFY = "identify"
    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    ALIAS = "alias"


class SiteEvent(IdentifiedRecord):
    """Web or app behaviour, shaped after the Segment Spec."""

    kind: Literal["site_event"] = "site_event"
    event_type: SiteEventType
    name: str | None = Field(default=None, max_length=500, description="Event or page name.")
    channel: Literal["web", "app", "server"] = "web"
    url: str | None = Field(default=None, max_length=4000)
    referrer: str | None = Field(default=None, max_length=4000)
    user_agent: str | None = Field(default=None, max_length=1000)
    properties: JsonObject = Field(default_factory=dict)


# --- Transactions and returns ---------------------------------------------------------------


class LineItem(Contract):
    line_id: str | None = Field(default=None, max_length=256)
    sku: str | None = Field(default=None, max_length=256)
    title: str | None = Field(default=None, max_length=1000)
    category: str | None = Field(default=None, max_length=256)
    quantity: Count
    unit_price: Money


class OrderChannel(enum.StrEnum):
    ONLINE = "online"
    IN_STORE = "in_store"


class Order(IdentifiedRecord):
    kind: Literal["order"] = "order"
    order_number: str | None = Field(default=None, max_length=256)
    channel: OrderChannel
    store_id: str | None = Field(default=None, max_length=256)
    line_items: list[LineItem] = Field(default_factory=list, max_length=10_000)
    discount: Money | None = Field(
        default=None,
        description="What discounts took off the order's line items (coupons, promotions, "
        "markdowns), as a positive amount; total is what the customer paid after it.",
    )
    total: Money
    cancelled_at: ObservedAt | None = None

    @model_validator(mode="after")
    def _one_currency(self) -> Self:
        others = {item.unit_price.currency for item in self.line_items} - {self.total.currency}
        if others:
            raise ValueError(
                f"line items in {', '.join(sorted(others))} on an order in {self.total.currency}"
            )
        if self.discount is not None and self.discount.currency != self.total.currency:
            raise ValueError(
                f"a discount in {self.discount.currency} on an order in {self.total.currency}"
            )
        return self

    @model_validator(mode="after")
    def _cancelled_after_placed(self) -> Self:
        if self.cancelled_at is not None and self.cancelled_at < self.occurred_at:
            raise ValueError("cancelled_at is earlier than when the order was placed")
        return self

    @model_validator(mode="after")
    def _store_for_in_store(self) -> Self:
        if self.channel is OrderChannel.ONLINE and self.store_id is not None:
            raise ValueError("an online order has no store_id")
        return self


class ReturnItem(Contract):
    line_id: str | None = Field(default=None, max_length=256)
    sku: str | None = Field(default=None, max_length=256)
    quantity: Count
    amount: Money | None = None


class Return(RecordBase):
    """A return or refund. It may carry no identifier: it is then linked through its order."""

    kind: Literal["return"] = "return"
    order_external_id: str = Field(
        min_length=1, max_length=256, description="external_id of the order in the same source."
    )
    items: list[ReturnItem] = Field(default_factory=list, max_length=10_000)
    amount: Money
    reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _one_currency(self) -> Self:
        currencies = {i.amount.currency for i in self.items if i.amount} - {self.amount.currency}
        if currencies:
            raise ValueError(
                f"items in {', '.join(sorted(currencies))} on a return in {self.amount.currency}"
            )
        return self


# --- Service --------------------------------------------------------------------------------


class ServiceChannel(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    WEB = "web"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    SOCIAL = "social"
    IN_PERSON = "in_person"
    OTHER = "other"


class CaseStatus(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


class CasePriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class ServiceCase(IdentifiedRecord):
    """A ticket, call, chat or e-mail thread. ``occurred_at`` is when it was opened."""

    kind: Literal["service_case"] = "service_case"
    channel: ServiceChannel
    status: CaseStatus
    priority: CasePriority = CasePriority.NORMAL
    subject: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=20_000)
    first_response_at: ObservedAt | None = None
    solved_at: ObservedAt | None = None
    satisfaction: Literal["good", "bad"] | None = None
    tags: list[str] = Field(default_factory=list, max_length=200)
    complaint: bool = False
    agent_replies: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=1_000_000,
        description="Public replies agents made on the case (Zendesk's metric_set.replies); "
        "first-contact resolution needs it, and cannot be known without it.",
    )

    @model_validator(mode="after")
    def _times_in_order(self) -> Self:
        for name in ("first_response_at", "solved_at"):
            value: dt.datetime | None = getattr(self, name)
            if value is not None and value < self.occurred_at:
                raise ValueError(f"{name} is earlier than when the case was opened")
        return self


# --- Feedback -------------------------------------------------------------------------------


class SurveyType(enum.StrEnum):
    NPS = "nps"
    CSAT = "csat"
    CES = "ces"


SCORE_RANGES: dict[SurveyType, tuple[int, int]] = {
    SurveyType.NPS: (0, 10),
    SurveyType.CSAT: (1, 5),
    SurveyType.CES: (1, 7),
}


class SurveyResponse(IdentifiedRecord):
    kind: Literal["survey_response"] = "survey_response"
    survey_type: SurveyType
    score: int = Field(strict=True)
    comment: str | None = Field(default=None, max_length=20_000)
    touchpoint: str | None = Field(default=None, max_length=256)
    contact_requested: bool = Field(
        default=False, description="The customer asked, in the survey, to be contacted."
    )

    @model_validator(mode="after")
    def _score_in_range(self) -> Self:
        low, high = SCORE_RANGES[self.survey_type]
        if not low <= self.score <= high:
            raise ValueError(
                f"{self.survey_type.value} score {self.score} is outside {low}..{high}"
            )
        return self


# --- Consent, preferences and contact -------------------------------------------------------


class ContactChannel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    WHATSAPP = "whatsapp"
    POSTAL = "postal"
    PUSH = "push"


PHONE_CHANNELS = frozenset({ContactChannel.SMS, ContactChannel.PHONE, ContactChannel.WHATSAPP})
CONTACT_POINT_TYPES: dict[str, IdentifierType] = {
    ContactChannel.EMAIL: IdentifierType.EMAIL,
    **dict.fromkeys(sorted(PHONE_CHANNELS), IdentifierType.PHONE),
}
"""The identifier a channel's contact point is (an address, a number), by channel; postal
addresses and push tokens are none."""
ALL_PURPOSES = "all"
"""The purpose of a consent change that covers a whole channel: "no SMS at all"."""

PURPOSE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class ConsentStatus(enum.StrEnum):
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"
    PENDING = "pending"


class ChangeOrigin(enum.StrEnum):
    """How a consent or preference change came about: its provenance."""

    IMPORT = "import"  # a source system's data, through a connector
    PREFERENCE_CENTRE = "preference_centre"  # the customer, in a preference centre
    AGENT = "agent"  # an agent, on the customer's word
    UNSUBSCRIBE_LINK = "unsubscribe_link"
    DOUBLE_OPT_IN = "double_opt_in"  # the customer confirmed through the link sent
    GPC = "gpc"  # a Global Privacy Control signal (Sec-GPC: 1)
    BOUNCE = "bounce"  # the address or number turned out undeliverable
    ERASURE = "erasure"  # an erased person's contact points, kept opted out if they come back


class ProvenancedRecord(IdentifiedRecord):
    origin: ChangeOrigin = Field(default=ChangeOrigin.IMPORT, description="How it came about.")
    actor: str | None = Field(
        default=None, max_length=256, description="Who made it: an agent, an API key's name."
    )
    evidence: str | None = Field(
        default=None, max_length=2000, description="What proves it: a form, a call, a header."
    )


def _normalized_point(value: str | None, info: ValidationInfo) -> str | None:
    """A contact point as its channel's identifier is normalised (e-mail, E.164)."""
    kind = CONTACT_POINT_TYPES.get(info.data.get("channel") or "")
    if value is None:
        return None
    if kind is IdentifierType.EMAIL:
        return normalize_email(value)
    if kind is IdentifierType.PHONE:
        return normalize_phone(value, (info.context or {}).get("default_region"))
    return value


class ConsentChange(ProvenancedRecord):
    """A person's consent for one channel and purpose changed, as a source saw it."""

    kind: Literal["consent_change"] = "consent_change"
    channel: ContactChannel
    purpose: str = Field(
        pattern=PURPOSE_PATTERN,
        examples=["marketing", "surveys"],
        description=f"'{ALL_PURPOSES}' covers every purpose: the channel as a whole.",
    )
    status: ConsentStatus
    contact_point: str | None = Field(
        default=None, max_length=320, description="The address or number it applies to."
    )

    _normalize_contact_point = field_validator("contact_point")(_normalized_point)


class ContactPointState(enum.StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    BOUNCED = "bounced"
    INVALID = "invalid"


class ContactPointStatus(ProvenancedRecord):
    """What is known of one address or number: verified, bounced, invalid… A push token is
    made known to c360 this way (status ``verified`` when the app registers it)."""

    kind: Literal["contact_point_status"] = "contact_point_status"
    channel: ContactChannel
    contact_point: str = Field(min_length=1, max_length=4096)
    status: ContactPointState
    reason: str | None = Field(default=None, max_length=2000, examples=["550 mailbox unknown"])

    _normalize_contact_point = field_validator("contact_point")(_normalized_point)


class Weekday(enum.StrEnum):
    MONDAY = "mon"
    TUESDAY = "tue"
    WEDNESDAY = "wed"
    THURSDAY = "thu"
    FRIDAY = "fri"
    SATURDAY = "sat"
    SUNDAY = "sun"


WEEKDAYS = tuple(Weekday)  # in date.weekday() order


class QuietHours(Contract):
    """Local times (in the customer's time zone) with no contact; may span midnight."""

    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("quiet hours start and end at the same time")
        return self


class ContactWindow(Contract):
    """When the customer welcomes contact, in their time zone, e.g. weekdays 09:00-12:00."""

    days: list[Weekday] = Field(min_length=1, max_length=7)
    start: dt.time
    end: dt.time
    channels: list[ContactChannel] = Field(
        default_factory=list, description="The channels it applies to; empty: every channel."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start >= self.end:
            raise ValueError("a contact window ends after it starts, on the same day")
        return self


MAX_CAP_DAYS = 366
"""The longest window of a frequency cap: how far back the contact log is read."""


class FrequencyCap(Contract):
    """At most ``max_contacts`` contacts on a channel for a purpose in any ``per_days`` days.
    ``max_contacts`` null removes the customer's own cap (the system default applies again)."""

    channel: ContactChannel
    purpose: str = Field(pattern=PURPOSE_PATTERN)
    max_contacts: int | None = Field(default=None, strict=True, ge=0, le=10_000)
    per_days: int = Field(default=7, strict=True, ge=1, le=MAX_CAP_DAYS)


class DoNotContact(Contract):
    active: bool
    reason: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _reason_when_active(self) -> Self:
        if self.active and not self.reason:
            raise ValueError("do-not-contact needs a reason")
        return self


class PreferenceField(enum.StrEnum):
    """A preference that a change can remove (set back to the system default)."""

    LANGUAGE = "language"
    TIME_ZONE = "time_zone"
    QUIET_HOURS = "quiet_hours"
    CONTACT_WINDOWS = "contact_windows"


class PreferenceChange(ProvenancedRecord):
    """Some of a person's contact preferences changed; what it does not name stays as it was.

    Each preference is folded on its own (the latest change that names it wins), so changes
    from several places combine, and history is never overwritten.
    """

    kind: Literal["preference_change"] = "preference_change"
    preferred_channels: dict[
        Annotated[str, Field(pattern=PURPOSE_PATTERN)], ContactChannel | None
    ] = Field(
        default_factory=dict,
        max_length=32,
        description="Per purpose, the channel the customer asked for; null removes it.",
    )
    language: LanguageTag | None = None
    time_zone: TimeZoneName | None = None
    quiet_hours: QuietHours | None = None
    contact_windows: list[ContactWindow] | None = Field(default=None, max_length=28)
    frequency_caps: list[FrequencyCap] = Field(default_factory=list, max_length=64)
    do_not_contact: DoNotContact | None = None
    cleared: list[PreferenceField] = Field(
        default_factory=list, description="Preferences removed by this change."
    )

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        named = [f for f in PreferenceField if getattr(self, f.value) is not None]
        both = sorted(set(named) & set(self.cleared))
        if both:
            raise ValueError(f"{', '.join(both)} both set and cleared")
        if not (
            named
            or self.cleared
            or self.preferred_channels
            or self.frequency_caps
            or self.do_not_contact
        ):
            raise ValueError("a preference change names at least one preference")
        return self


class ContactOutcome(enum.StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    ANSWERED = "answered"  # picked up, replied
    NO_ANSWER = "no_answer"
    BOUNCED = "bounced"
    FAILED = "failed"  # never left: not counted against frequency caps


class OutboundContact(IdentifiedRecord):
    """A message or call to the person: a campaign e-mail, an agent's call-back, an SMS."""

    kind: Literal["outbound_contact"] = "outbound_contact"
    channel: ContactChannel
    purpose: str = Field(pattern=PURPOSE_PATTERN)
    contact_point: str | None = Field(default=None, max_length=4096)
    campaign: str | None = Field(default=None, max_length=256)
    outcome: ContactOutcome = ContactOutcome.SENT
    actor: str | None = Field(default=None, max_length=256)

    _normalize_contact_point = field_validator("contact_point")(_normalized_point)


# --- The union ------------------------------------------------------------------------------

CanonicalRecord = Annotated[
    Person
    | SiteEvent
    | Order
    | Return
    | ServiceCase
    | SurveyResponse
    | ConsentChange
    | PreferenceChange
    | ContactPointStatus
    | OutboundContact,
    Field(discriminator="kind"),
]

RECORD_MODELS: dict[RecordKind, type[RecordBase]] = {
    RecordKind.PERSON: Person,
    RecordKind.SITE_EVENT: SiteEvent,
    RecordKind.ORDER: Order,
    RecordKind.RETURN: Return,
    RecordKind.SERVICE_CASE: ServiceCase,
    RecordKind.SURVEY_RESPONSE: SurveyResponse,
    RecordKind.CONSENT_CHANGE: ConsentChange,
    RecordKind.PREFERENCE_CHANGE: PreferenceChange,
    RecordKind.CONTACT_POINT_STATUS: ContactPointStatus,
    RecordKind.OUTBOUND_CONTACT: OutboundContact,
}

CANONICAL_RECORD_ADAPTER: TypeAdapter[CanonicalRecord] = TypeAdapter(CanonicalRecord)


def parse_record(data: Any, *, default_region: str | None = None) -> CanonicalRecord:
    """Validate one canonical record (a dict) and normalise its identifiers.

    Raises :class:`pydantic.ValidationError` with every problem found.
    """
    return CANONICAL_RECORD_ADAPTER.validate_python(
        data, context={"default_region": default_region}
    )


def describe_errors(error: ValidationError) -> str:
    """One line naming every problem: ``total.currency: unknown ISO 4217 currency code 'XXZ'``."""
    return "; ".join(describe_error(item) for item in error.errors(include_url=False))


def describe_error(item: ErrorDetails) -> str:
    """One problem of a validation error, located by the field's path."""
    location = [str(part) for part in item["loc"]]
    if location and location[0] in _RECORD_TAGS:  # the union's tag, not a field
        location = location[1:]
    message = item["msg"].removeprefix("Value error, ")
    return f"{'.'.join(location)}: {message}" if location else message


_RECORD_TAGS = frozenset(kind.value for kind in RecordKind)
