"""Values every domain's types use: the shared enums, the ``Purpose`` scalar, ``Money``,
``PostalAddress`` and ``PageInfo``. Imports no domain's types."""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any, NewType

import strawberry
from graphql import StringValueNode, ValueNode, print_ast
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.enum import has_enum_definition

from c360.api.graphql.access import MaskedWithout, in_text, public
from c360.auth.masking import Mask
from c360.auth.service import Permission
from c360.followups.model import Status as FollowUpStatus
from c360.profiles.lifecycle import LifecycleStage, ValueTier
from schemas.identifiers import IdentifierType
from schemas.quoting import SHOWN_CHARACTERS, shown
from schemas.records import (
    PURPOSE_PATTERN,
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


class TimelineKind(enum.StrEnum):
    """What a timeline entry is: a record kind, or what c360 itself did (a follow-up's events).
    GraphQL's ``RecordKind``: the canonical record kinds and ``follow_up``."""

    PERSON = RecordKind.PERSON.value
    SITE_EVENT = RecordKind.SITE_EVENT.value
    ORDER = RecordKind.ORDER.value
    RETURN = RecordKind.RETURN.value
    SERVICE_CASE = RecordKind.SERVICE_CASE.value
    SURVEY_RESPONSE = RecordKind.SURVEY_RESPONSE.value
    CONSENT_CHANGE = RecordKind.CONSENT_CHANGE.value
    PREFERENCE_CHANGE = RecordKind.PREFERENCE_CHANGE.value
    CONTACT_POINT_STATUS = RecordKind.CONTACT_POINT_STATUS.value
    OUTBOUND_CONTACT = RecordKind.OUTBOUND_CONTACT.value
    FOLLOW_UP = "follow_up"


assert {k.value for k in RecordKind} < {k.value for k in TimelineKind}  # every record kind

strawberry.enum(TimelineKind, name="RecordKind")
# Named here, before any type that uses it is built (Profile.followUps is): else it would be
# named after its class once more.
strawberry.enum(FollowUpStatus, name="FollowUpStatus")

# The canonical enums are the GraphQL enums: one definition, no mapping to keep in sync.
for _enum in (
    IdentifierType,
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
    LifecycleStage,
    ValueTier,
):
    strawberry.enum(_enum)

VALUE_DESCRIPTIONS: dict[type[enum.Enum], dict[str, str]] = {
    ContactChannel: {
        "EMAIL": "E-mail, to an address.",
        "SMS": "Text messages, to a mobile number.",
        "PHONE": "Calls, to a phone number.",
        "WHATSAPP": "WhatsApp messages, to a mobile number.",
        "POSTAL": "Letters, to a postal address.",
        "PUSH": "App notifications, to a device's push token.",
    },
    ConsentStatus: {
        "OPTED_IN": "Consent given.",
        "OPTED_OUT": "Consent withdrawn (or refused).",
        "PENDING": "An opt-in waiting for the customer to confirm it through the link sent "
        "(double opt-in): not consent yet.",
    },
    ChangeOrigin: {
        "IMPORT": "A source system's data, through a connector.",
        "PREFERENCE_CENTRE": "The customer, in a preference centre, a form or a checkout.",
        "AGENT": "An agent, on the customer's word.",
        "UNSUBSCRIBE_LINK": "The customer, through an unsubscribe link.",
        "DOUBLE_OPT_IN": "The customer confirmed an opt-in through the link sent.",
        "GPC": "A Global Privacy Control signal (Sec-GPC: 1).",
        "BOUNCE": "The address or number turned out undeliverable.",
        "ERASURE": "An erased person's contact point, kept opted out if it comes back.",
    },
    ContactPointState: {
        "UNVERIFIED": "Not shown to reach the customer yet (still used).",
        "VERIFIED": "Shown to reach the customer (a confirmed opt-in, a source that checked).",
        "BOUNCED": "What was sent to it bounced: not used.",
        "INVALID": "Not a working address or number: not used.",
    },
}
"""What each value of the enums a sending tool reads means, said in the schema."""
for _described, _descriptions in VALUE_DESCRIPTIONS.items():
    assert has_enum_definition(_described)  # registered just above
    for _value in _described.__strawberry_definition__.values:
        _value.description = _descriptions[_value.name]


# --- The Purpose scalar (mapped to its Python type in the schema's config) -------------------

_PURPOSE = re.compile(PURPOSE_PATTERN)


def _purpose(value: object) -> str:
    """A purpose from a variable (or a literal's text). A refusal is a coercion error, a
    GraphQL error of the request like any value that does not fit its type; any other
    exception would be taken for the server's fault (logged, counted as ``InternalError``)."""
    if not isinstance(value, str) or not _PURPOSE.match(value):
        raise StrawberryInputCoercionError(
            f"{shown(value)} is not a purpose: a string of a lower-case letter, then up to 63 "
            f"lower-case letters, digits or _"
        )
    return value


def _purpose_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> str:
    """A purpose written in the document: a string literal only (as for ``String``); a
    refusal points at it."""
    if not isinstance(node, StringValueNode):
        message = f"a purpose is a string, not {print_ast(node)[:SHOWN_CHARACTERS]}"
        raise StrawberryInputCoercionError(message, node)
    try:
        return _purpose(node.value)
    except StrawberryInputCoercionError as exc:
        raise StrawberryInputCoercionError(exc.message, node) from None


Purpose = NewType("Purpose", str)
SERVICE = Purpose("service")
PURPOSE_SCALAR = strawberry.scalar(
    name="Purpose",
    serialize=str,
    parse_value=_purpose,
    parse_literal=_purpose_literal,
    description="What a contact is for: one of the configured purposes (C360_CONTACT_PURPOSES; "
    "by default service, transactional, marketing, surveys).",
)


DATETIME_SCALAR = dataclasses.replace(
    DateTimeDefinition,
    description="An instant, as ISO 8601 text with its offset from UTC: 2026-11-22T10:00:00Z, "
    "2026-11-22T11:00:00+01:00, 2026-11-22T10:00:00.250Z (fractional seconds to the "
    "microsecond; digits past it are dropped). Answers always carry their offset. Text that "
    "is not a date and time is an InvalidRequest error of the request; a time without an "
    "offset names no instant, and the questions about one (contact decisions, rankings, "
    "audiences, the contact log, timelines, KPIs, alert rule previews) refuse it as "
    "InvalidInput; the access audit's bounds read it as UTC.",
)
"""Strawberry's DateTime (its parsing and ISO output), said for a newcomer."""


MinorUnits = NewType("MinorUnits", int)


def _minor_units(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StrawberryInputCoercionError(f"{shown(value)} is not an integer amount")
    return value


MINOR_UNITS_SCALAR = strawberry.scalar(
    name="MinorUnits",
    serialize=_minor_units,  # an integer or a refusal, never a float cut short
    parse_value=_minor_units,
    description="An amount in integer minor units, as a JSON integer. GraphQL's Int stops at "
    "2^31 - 1 (21,474,836.47 in cents, under 1,500 euros' worth of rupiah); an amount here "
    "goes to 10^13 and a customer's lifetime value past it, exact up to 2^53 in JavaScript.",
)


# --- Shared value types ------------------------------------------------------------------------


@strawberry.type(description="An amount in integer minor units of an ISO 4217 currency.")
class Money:
    amount: MinorUnits
    currency: str = strawberry.field(metadata=public("an ISO 4217 code, validated"))

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> Money:
        """An amount as canonical records write it: ``{"amount", "currency"}``."""
        return cls(amount=MinorUnits(value["amount"]), currency=value["currency"])


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


@strawberry.type(description="Where a page ends, to ask for the next one.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="More may follow: ask again with `after: endCursor`."
    )
    end_cursor: str | None = strawberry.field(
        description="Pass it as `after` for the next page; null only on an empty page with "
        "nothing after it.",
        metadata=public("a position made by c360: a profile id or a timeline position"),
    )

    @classmethod
    def after(cls, edges: Sequence[Any], has_next_page: bool) -> PageInfo:
        """A page's info: its end cursor is its last edge's."""
        return cls(has_next_page=has_next_page, end_cursor=edges[-1].cursor if edges else None)
