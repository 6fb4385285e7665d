"""CSV exports of in-store sales, returns, service logs, CRM master data, surveys, consent and
preference changes, and contact-point statuses (bounces, verifications).

Each connector reads one row per item (in-store sales: one row per line item, grouped into
orders) with the column names of its docstring; a mapping (``ParseOptions.mapping``, from a
mapping file read by :func:`connectors._csv.parse_mapping`) renames columns, and the options
(``ParseOptions.settings``) set the source name, time zone, timestamp and date formats,
currency, decimal separator, delimiter and encoding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, ClassVar, TypeVar

from pydantic import ValidationError

from connectors._csv import (
    FALSE_SPELLINGS,
    IDENTIFIER_FIELDS,
    TRUE_SPELLINGS,
    CsvSpec,
    Row,
    Values,
    read_rows,
)
from connectors._values import stable_id
from connectors.base import MAX_RAW_CHARS, ItemError, Parsed, ParseOptions, ParseResult
from schemas import (
    ConsentChange,
    ContactPointStatus,
    Identifier,
    IdentifierType,
    Order,
    Person,
    PreferenceChange,
    RecordKind,
    Return,
    ServiceCase,
    SurveyResponse,
    describe_error,
    describe_errors,
)
from schemas.identifiers import normalize_email, normalize_phone
from schemas.records import (
    ALL_PURPOSES,
    PHONE_CHANNELS,
    PURPOSE_PATTERN,
    SCORE_RANGES,
    CasePriority,
    CaseStatus,
    ChangeOrigin,
    ConsentStatus,
    ContactChannel,
    ContactPointState,
    LineItem,
    ServiceChannel,
    SurveyType,
)

_Record = TypeVar(
    "_Record",
    Order,
    Return,
    ServiceCase,
    Person,
    SurveyResponse,
    ConsentChange,
    PreferenceChange,
    ContactPointStatus,
)
_RecordData = tuple[type[Any], dict[str, Any]]
"""A record a row makes, before validation: its model and its data."""

MAX_ORDER_LINES = 10_000
"""Line items an order may have (the canonical limit); a longer order is rejected."""
MAX_REPORTED_PROBLEMS = 10
"""Problems named in one order's reason; the rest are counted."""


def _source(options: ParseOptions, default: str) -> str:
    return options.settings.get("source", default)


def _validated(
    model: type[_Record], data: dict[str, Any], position: str, raw: str, options: ParseOptions
) -> ParseResult:
    try:
        record = model.model_validate(data, context={"default_region": options.default_region})
    except ValidationError as exc:
        return ItemError.of(position, raw, describe_errors(exc))
    return Parsed(position=position, record=record, raw=raw)


def _row_results(records: list[_RecordData], row: Row, values: Values) -> list[ParseResult]:
    """The records of a row, or one error for the whole row naming every bad value and every
    rule a record breaks."""
    if values.problems:
        # The records are still checked, so a row with an unreadable date and a score out of
        # range says both; what the record misses because a value was unreadable is not
        # repeated.
        reasons = [*values.problems]
        for model, data in records:
            reasons += _rule_problems(model, data, values.options)
        return [ItemError.of(row.position, row.replayable, "; ".join(dict.fromkeys(reasons)))]
    results = [
        _validated(model, data, row.position, row.replayable, values.options)
        for model, data in records
    ]
    reasons = [result.reason for result in results if isinstance(result, ItemError)]
    if reasons:
        return [ItemError.of(row.position, row.replayable, "; ".join(reasons))]
    return results


def _read_value(value: Any) -> bool:
    """A value read from the row (a text or a number), not one missing or unreadable (already
    said) nor a whole part of the record (whose rule an unreadable value may break)."""
    return isinstance(value, str | int | float) and value != ""


def _rule_problems(model: type[_Record], data: dict[str, Any], options: ParseOptions) -> list[str]:
    """What a record's model refuses among the values that were read (not those missing)."""
    try:
        model.model_validate(data, context={"default_region": options.default_region})
    except ValidationError as exc:
        return [
            describe_error(error)
            for error in exc.errors(include_url=False)
            if error["type"] != "missing" and _read_value(error.get("input"))
        ]
    return []


def _usable_rows(
    stream: BinaryIO, options: ParseOptions, spec: CsvSpec
) -> Iterator[Row | ItemError]:
    """The file's rows; a row that cannot be trusted as a whole is already an error."""
    for row in read_rows(stream, options, spec):
        if isinstance(row, Row) and row.problem is not None:
            yield ItemError.of(row.position, row.replayable, row.problem)
        else:
            yield row


def _spelling(value: str) -> str:
    """A value as a key to look up: ``"Opted-In"`` and ``"opted in"`` → ``"opted_in"``."""
    return re.sub(r"[\s-]+", "_", value.strip().lower())


def _choice(
    values: Values,
    name: str,
    allowed: type[Any],
    synonyms: Mapping[str, str],
    default: str | None = None,
    *,
    required: bool = False,
) -> str | None:
    """A value of the enum ``allowed``, case-insensitive, with synonyms; else a problem."""
    value = values.text(name, required=required)
    if value is None:
        return default
    key = _spelling(value)
    key = synonyms.get(key, key)
    known = [member.value for member in allowed]
    if key not in known:
        values.fail(name, f"unknown value {value!r}; expected one of {', '.join(known)}")
        return None
    return key


# --- In-store sales ------------------------------------------------------------------------

_ORDER_FIELDS = ("ordered_at", "store_id", "currency", "total", *IDENTIFIER_FIELDS)
"""Fields about the whole order: every line of an order must agree on them (or leave them empty)."""


class _RowConnector:
    """A CSV source whose rows each become records (by default one :attr:`model`); subclasses
    say how a row's values become them."""

    name: ClassVar[str]
    kinds: ClassVar[tuple[RecordKind, ...]]
    default_source: ClassVar[str]
    spec: ClassVar[CsvSpec]
    model: ClassVar[type[Any]]

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        fallback = _source(options, self.default_source)
        for row in _usable_rows(stream, options, self.spec):
            if isinstance(row, ItemError):
                yield row
                continue
            values = Values(row.values, options, self.row_source(row, fallback))
            yield from _row_results(self.row_records(values, row), row, values)

    def row_source(self, row: Row, fallback: str) -> str:
        """The source name of a row's record (one column may name it)."""
        return fallback

    def row_records(self, values: Values, row: Row) -> list[_RecordData]:
        """The records of a row; a problem recorded in ``values`` rejects the row whole."""
        return [(self.model, self.row_data(values, row))]

    def row_data(self, values: Values, row: Row) -> dict[str, Any]:
        raise NotImplementedError


class PosCsvConnector:
    """In-store sales, one row per line item; adjacent rows with one ``order_id`` are an order.

    Columns: ``order_id, ordered_at, store_id, sku, title, category, quantity, unit_price,
    currency, email, phone, customer_id, loyalty_id`` and optionally ``total`` (else the sum of
    quantity * unit_price). Order-level values may be repeated on every line or given once; a
    line that contradicts an earlier one, or any bad line, rejects the whole order at its first
    line. Only the current order is held in memory, so an order's lines must be adjacent: the
    same ``order_id`` further down the file is read as another statement of that order.
    """

    name: ClassVar[str] = "pos-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.ORDER,)
    default_source: ClassVar[str] = "pos"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "order_id",
            "ordered_at",
            "store_id",
            "sku",
            "title",
            "category",
            "quantity",
            "unit_price",
            "currency",
            "total",
            *IDENTIFIER_FIELDS,
        ),
        required=("order_id", "ordered_at", "quantity", "unit_price"),
        any_of=(IDENTIFIER_FIELDS,),
        needs_currency=True,
    )

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        source = _source(options, self.default_source)
        pending: _PendingOrder | None = None
        for row in read_rows(stream, options, self.spec):
            order_id = row.get("order_id") if isinstance(row, Row) else None
            if pending is not None and order_id != pending.order_id:
                yield pending.finish()
                pending = None
            if isinstance(row, ItemError):
                yield row
            elif order_id is None:
                yield ItemError.of(row.position, row.replayable, row.problem or "order_id: missing")
            else:
                if pending is None:
                    pending = _PendingOrder(order_id, row.line, options, source)
                pending.add(row)
        if pending is not None:
            yield pending.finish()


class _PendingOrder:
    """The lines of the order being read."""

    def __init__(self, order_id: str, line: int, options: ParseOptions, source: str) -> None:
        self.order_id = order_id
        self.start_line = self.end_line = line
        self.options = options
        self.source = source
        self.header = ""
        self.raws: list[str] = []
        self.raw_chars = 0
        self.order_values: dict[str, str] = {}
        self.first_line: dict[str, str] = {}
        self.line_items: list[LineItem] = []
        self.subtotal = 0
        self.line_count = 0
        self.problems: list[tuple[int | None, str]] = []  # (line, problem); None: the order's

    @property
    def position(self) -> str:
        """The order's lines: ``line 5`` or ``lines 5-7``."""
        if self.end_line == self.start_line:
            return f"line {self.start_line}"
        return f"lines {self.start_line}-{self.end_line}"

    def add(self, row: Row) -> None:
        self.line_count += 1
        self.end_line = row.line
        self.header = self.header or row.header
        if self.raw_chars < MAX_RAW_CHARS:
            self.raws.append(row.raw)
            self.raw_chars += len(row.raw) + 1
        if row.problem is not None:
            self.problems.append((row.line, row.problem))
            return
        for name in _ORDER_FIELDS:
            value = row.get(name)
            if value is None:
                continue
            known = self.order_values.setdefault(name, value)
            self.first_line.setdefault(name, row.position)
            if value != known:
                self.problems.append(
                    (
                        row.line,
                        f"{name} {value!r} differs from {known!r} on {self.first_line[name]}",
                    )
                )
        if self.line_count > MAX_ORDER_LINES:
            if self.line_count == MAX_ORDER_LINES + 1:
                self.problems.append((None, f"more than {MAX_ORDER_LINES} lines"))
            return
        values = Values({**self.order_values, **row.values}, self.options, self.source)
        quantity = values.whole("quantity", required=True)
        unit_price = values.money("unit_price", values.currency(), required=True)
        if values.problems:
            self.problems.extend((row.line, problem) for problem in values.problems)
            return
        try:
            item = LineItem.model_validate(
                {
                    "sku": row.get("sku"),
                    "title": row.get("title"),
                    "category": row.get("category"),
                    "quantity": quantity,
                    "unit_price": unit_price,
                }
            )
        except ValidationError as exc:
            self.problems.append((row.line, describe_errors(exc)))
            return
        self.line_items.append(item)
        self.subtotal += item.quantity * item.unit_price.amount

    def finish(self) -> ParseResult:
        # Under its header, the rejected order is a CSV file of its own: replayable later.
        raw = "\n".join([self.header, *self.raws] if self.header else self.raws)
        if self.problems:
            return ItemError.of(self.position, raw, self._reason())
        values = Values(self.order_values, self.options, self.source)
        occurred_at = values.timestamp("ordered_at", required=True)
        identifiers = values.identifiers()
        currency = values.currency()
        total = (
            values.money("total", currency)
            if "total" in self.order_values
            else {"amount": self.subtotal, "currency": currency}
        )
        if values.problems:
            return ItemError.of(self.position, raw, "; ".join(values.problems))
        data = {
            "source": self.source,
            "external_id": self.order_id,
            "occurred_at": occurred_at,
            "identifiers": identifiers,
            "channel": "in_store",
            "store_id": self.order_values.get("store_id"),
            "line_items": self.line_items,
            "total": total,
        }
        return _validated(Order, data, self.position, raw, self.options)

    def _reason(self) -> str:
        """Every problem, each with its line when the order has several (the error's position
        already names a single one)."""
        several = self.end_line != self.start_line
        problems = [
            f"line {line}: {text}" if several and line is not None else text
            for line, text in self.problems
        ]
        shown = "; ".join(problems[:MAX_REPORTED_PROBLEMS])
        hidden = len(problems) - MAX_REPORTED_PROBLEMS
        return f"{shown}; and {hidden} more" if hidden > 0 else shown


# --- Returns -------------------------------------------------------------------------------


class ReturnsCsvConnector(_RowConnector):
    """Returns and refunds, one row per return.

    Columns: ``return_id, returned_at, order_id, sku, quantity, amount, currency, reason,
    email, phone, customer_id, loyalty_id``. ``amount`` is what was refunded; a ``sku`` or
    ``quantity`` makes one returned item (quantity 1 by default). Identifiers are optional: a
    return is linked to its person through its order.
    """

    name: ClassVar[str] = "returns-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.RETURN,)
    default_source: ClassVar[str] = "pos"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "return_id",
            "returned_at",
            "order_id",
            "sku",
            "quantity",
            "amount",
            "currency",
            "reason",
            *IDENTIFIER_FIELDS,
        ),
        required=("return_id", "returned_at", "order_id", "amount"),
        needs_currency=True,
    )

    model: ClassVar[type[Return]] = Return

    def row_data(self, values: Values, row: Row) -> dict[str, Any]:
        quantity = values.whole("quantity")
        sku = values.text("sku")
        returned = quantity is not None or sku is not None
        items = [{"sku": sku, "quantity": 1 if quantity is None else quantity}] if returned else []
        data = {
            "source": values.source,
            "external_id": values.text("return_id", required=True),
            "occurred_at": values.timestamp("returned_at", required=True),
            "identifiers": values.identifiers(required=False),
            "order_external_id": values.text("order_id", required=True),
            "items": items,
            "amount": values.money("amount", values.currency(), required=True),
            "reason": values.text("reason"),
        }
        return data


# --- Service -------------------------------------------------------------------------------

_CHANNEL_SYNONYMS = {
    "call": "phone",
    "voice": "phone",
    "telephone": "phone",
    "phone_call": "phone",
    "livechat": "chat",
    "live_chat": "chat",
    "mail": "email",
    "e_mail": "email",
    "text": "sms",
    "webform": "web",
    "web_form": "web",
    "form": "web",
    "store": "in_person",
    "in_store": "in_person",
}
_STATUS_SYNONYMS = {
    "resolved": "solved",
    "in_progress": "open",
    "hold": "on_hold",
    "waiting": "pending",
}
_PRIORITY_SYNONYMS = {"medium": "normal", "critical": "urgent"}
_TAG_SEPARATORS = re.compile(r"[;|]")


class ServiceCsvConnector(_RowConnector):
    """Call-centre and chat logs, one row per case.

    Columns: ``case_id, opened_at, channel, status, priority, subject, description,
    first_response_at, solved_at, satisfaction, tags, complaint, replies, email, phone,
    customer_id, loyalty_id`` (``replies``: the agents' replies on the case, a whole number;
    first-contact resolution is known only where it is given). Channels accept synonyms
    (call/voice/telephone → phone, livechat → chat, mail → email); status defaults to
    ``solved`` when ``solved_at`` is set, else ``open``; tags are separated by ``;`` or ``|``;
    ``complaint`` is true/false, yes/no or 1/0, and a tag among ``complaint_tags`` marks a
    complaint too.
    """

    name: ClassVar[str] = "service-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.SERVICE_CASE,)
    default_source: ClassVar[str] = "callcentre"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "case_id",
            "opened_at",
            "channel",
            "status",
            "priority",
            "subject",
            "description",
            "first_response_at",
            "solved_at",
            "satisfaction",
            "tags",
            "complaint",
            "replies",
            *IDENTIFIER_FIELDS,
        ),
        required=("case_id", "opened_at", "channel"),
        any_of=(IDENTIFIER_FIELDS,),
    )

    model: ClassVar[type[ServiceCase]] = ServiceCase

    def row_data(self, values: Values, row: Row) -> dict[str, Any]:
        complaint_tags = {tag.strip().lower() for tag in values.options.complaint_tags}
        solved_at = values.timestamp("solved_at")
        status_default = CaseStatus.SOLVED if "solved_at" in row.values else CaseStatus.OPEN
        tags = list(
            dict.fromkeys(
                tag.strip()
                for tag in _TAG_SEPARATORS.split(values.text("tags") or "")
                if tag.strip()
            )
        )
        complaint = values.flag("complaint") or any(tag.lower() in complaint_tags for tag in tags)
        satisfaction = values.text("satisfaction")
        data = {
            "source": values.source,
            "external_id": values.text("case_id", required=True),
            "occurred_at": values.timestamp("opened_at", required=True),
            "identifiers": values.identifiers(),
            "channel": _choice(values, "channel", ServiceChannel, _CHANNEL_SYNONYMS, required=True),
            "status": _choice(values, "status", CaseStatus, _STATUS_SYNONYMS, status_default.value),
            "priority": _choice(
                values, "priority", CasePriority, _PRIORITY_SYNONYMS, CasePriority.NORMAL.value
            ),
            "subject": values.text("subject"),
            "description": values.text("description"),
            "first_response_at": values.timestamp("first_response_at"),
            "solved_at": solved_at,
            "satisfaction": satisfaction.lower() if satisfaction else None,
            "tags": tags,
            "complaint": complaint,
            "agent_replies": values.whole("replies"),
        }
        return data


# --- CRM master data -----------------------------------------------------------------------


class CustomersCsvConnector(_RowConnector):
    """Customer master data, one row per person.

    Columns: ``customer_id, loyalty_id, first_name, last_name, full_name, email, phone,
    address_line1, address_line2, city, region, postal_code, country, birth_date, language,
    time_zone, created_at, updated_at``. The person's id in the source is ``customer_id``, or
    ``loyalty_id`` when there is none; ``birth_date`` is ISO 8601 or in the ``date_format``
    option. An address is kept when it has a first line (its country is the row's ``country``).
    """

    name: ClassVar[str] = "customers-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.PERSON,)
    default_source: ClassVar[str] = "crm"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "customer_id",
            "loyalty_id",
            "first_name",
            "last_name",
            "full_name",
            "email",
            "phone",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "birth_date",
            "language",
            "time_zone",
            "created_at",
            "updated_at",
        ),
        required=("created_at",),
        any_of=(("customer_id", "loyalty_id"),),
    )

    model: ClassVar[type[Person]] = Person

    def row_data(self, values: Values, row: Row) -> dict[str, Any]:
        external_id = values.text("customer_id") or values.text("loyalty_id")
        if external_id is None:
            values.fail("customer_id", "missing, and no loyalty_id either")
        line1 = values.text("address_line1")
        if line1 is not None and values.text("country") is None:
            values.fail("country", "missing (an address needs its country)")
        address = {
            "line1": line1,
            "line2": values.text("address_line2"),
            "city": values.text("city"),
            "region": values.text("region"),
            "postal_code": values.text("postal_code"),
            "country": values.text("country"),
        }
        data = {
            "source": values.source,
            "external_id": external_id,
            "occurred_at": values.timestamp("created_at", required=True),
            "updated_at": values.timestamp("updated_at"),
            "identifiers": values.identifiers(),
            "given_name": values.text("first_name"),
            "family_name": values.text("last_name"),
            "full_name": values.text("full_name"),
            "addresses": [address] if line1 else [],
            "birth_date": values.date("birth_date"),
            "language": values.text("language"),
            "country": values.text("country"),
            "time_zone": values.text("time_zone"),
        }
        return data


# --- Surveys -------------------------------------------------------------------------------

_PERSON_IDENTIFIERS = ("email", "phone", "customer_id")
"""The identifier columns of surveys and consent exports (no loyalty card)."""
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class SurveysCsvConnector(_RowConnector):
    """Survey responses (NPS, CSAT, CES), one row per response.

    Columns: ``response_id, responded_at, email, phone, customer_id, source, type, score,
    comment, touchpoint``. The record's source (which also scopes ``customer_id``) is the
    row's ``source`` (lower-cased), else the ``source`` option, else ``surveys``. ``score`` is
    a whole number in the type's range; at least one identifier is needed.
    """

    name: ClassVar[str] = "surveys-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.SURVEY_RESPONSE,)
    default_source: ClassVar[str] = "surveys"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "response_id",
            "responded_at",
            *_PERSON_IDENTIFIERS,
            "source",
            "type",
            "score",
            "comment",
            "touchpoint",
        ),
        required=("response_id", "responded_at", "type", "score"),
        any_of=(_PERSON_IDENTIFIERS,),
    )

    model: ClassVar[type[SurveyResponse]] = SurveyResponse

    def row_source(self, row: Row, fallback: str) -> str:
        return (row.get("source") or fallback).lower()

    def row_data(self, values: Values, row: Row) -> dict[str, Any]:
        source = values.source
        if not _SOURCE_NAME.match(source):
            values.fail("source", f"{row.get('source')!r} is not a lower-case source name")
        survey_type = _choice(values, "type", SurveyType, {}, required=True)
        score = values.whole("score", required=True)
        if survey_type is not None and score is not None:
            low, high = SCORE_RANGES[SurveyType(survey_type)]
            if not low <= score <= high:
                values.fail("score", f"{score} is outside {low}..{high} for {survey_type}")
        data = {
            "source": source,
            "external_id": values.text("response_id", required=True),
            "occurred_at": values.timestamp("responded_at", required=True),
            "identifiers": values.identifiers(_PERSON_IDENTIFIERS),
            "survey_type": survey_type,
            "score": score,
            "comment": values.text("comment"),
            "touchpoint": values.text("touchpoint"),
        }
        return data


# --- Consent, preferences and contact points ------------------------------------------------

_CONTACT_CHANNEL_SYNONYMS = {
    "mail": "email",
    "e_mail": "email",
    "text": "sms",
    "text_message": "sms",
    "call": "phone",
    "voice": "phone",
    "telephone": "phone",
    "whats_app": "whatsapp",
    "post": "postal",
    "letter": "postal",
    "direct_mail": "postal",
    "push_notification": "push",
}
_CONSENT_STATUS_SYNONYMS = {
    **dict.fromkeys(TRUE_SPELLINGS | {"opt_in", "optin", "subscribed", "granted"}, "opted_in"),
    **dict.fromkeys(
        FALSE_SPELLINGS | {"opt_out", "optout", "unsubscribed", "revoked", "withdrawn"},
        "opted_out",
    ),
    "unconfirmed": "pending",
}
_POINT_STATUS_SYNONYMS = {
    **dict.fromkeys(("valid", "deliverable", "ok", "confirmed"), "verified"),
    **dict.fromkeys(("unknown", "unconfirmed", "catch_all", "accept_all"), "unverified"),
    **dict.fromkeys(("bounce", "hard", "hard_bounce", "hardbounce", "hard_bounced"), "bounced"),
    "undeliverable": "invalid",
}
_SOFT_BOUNCES = frozenset({"soft", "soft_bounce", "softbounce", "soft_bounced"})
_UNDELIVERABLE = frozenset({ContactPointState.BOUNCED.value, ContactPointState.INVALID.value})
_NO_CHANNEL = frozenset({"none", "no_preference"})
"""``preferred_channel`` values that remove the preferred channel for the purpose."""
_PURPOSE = re.compile(PURPOSE_PATTERN)
_CONSENT_FIELDS = ("status", "channel", "contact_point")
_PREFERENCE_FIELDS = ("do_not_contact", "do_not_contact_reason", "preferred_channel")

DEFAULT_PURPOSE = "marketing"
MAX_STATUS_REASON_CHARS = 2000
"""A contact-point status's ``reason`` (an SMTP diagnostic, a gateway's error) is cut here."""


def _purpose(values: Values) -> str | None:
    value = values.text("purpose")
    if value is None:
        return DEFAULT_PURPOSE
    key = _spelling(value)
    if not _PURPOSE.match(key):
        values.fail(
            "purpose", f"{value!r} is not a purpose name (a letter, then letters, digits or _)"
        )
        return None
    return key


def _point_column(channel: ContactChannel) -> str | None:
    """The identifier column that holds a channel's address or number, if one does."""
    if channel is ContactChannel.EMAIL:
        return "email"
    if channel in PHONE_CHANNELS:
        return "phone"
    return None


def _contact_point(values: Values, name: str, channel: ContactChannel) -> str | None:
    """Column ``name`` as a contact point of ``channel``, normalised as the record's will be
    (so that ids derived from it are stable); ``None``, and a problem, when it is invalid."""
    value = values.text(name)
    if value is None:
        return None
    try:
        if channel is ContactChannel.EMAIL:
            return normalize_email(value)
        if channel in PHONE_CHANNELS:
            return normalize_phone(value, values.options.default_region)
    except ValueError as exc:
        values.fail(name, str(exc))
        return None
    return value


class ConsentCsvConnector(_RowConnector):
    """Consent and preference changes, one row per change: an ESP's or a CRM preference
    centre's export.

    Columns: ``change_id, changed_at, customer_id, email, phone, channel, purpose, status,
    contact_point, evidence, actor, do_not_contact, do_not_contact_reason, preferred_channel``;
    ``changed_at`` and one valid ``email``, ``phone`` or ``customer_id`` are required. A row
    yields:

    - a :class:`~schemas.ConsentChange` when it has a ``status``, ``channel`` or
      ``contact_point``; then ``status`` and ``channel`` are both required. ``status`` is
      opted_in (also subscribed, opt-in, yes, y, true, 1, granted), opted_out (unsubscribed,
      opt-out, no, n, false, 0, revoked, withdrawn) or pending (unconfirmed). ``channel`` is
      email, sms, phone, whatsapp, postal or push; ``purpose`` defaults to ``marketing``
      (``all``: the whole channel). ``contact_point`` defaults to the row's ``email`` on the
      email channel and its ``phone`` on sms, phone and whatsapp; without one the change is
      for the whole channel. An invalid address or number rejects the row: the change is never
      silently widened to the whole channel;
    - a :class:`~schemas.PreferenceChange` when it has ``do_not_contact`` (true/false, yes/no,
      1/0; true needs a ``do_not_contact_reason``) or ``preferred_channel`` (the channel asked
      for the row's ``purpose``, which cannot be ``all``; ``none`` removes it);
    - both, the consent change first, when it has both; a row with neither is an error.

    A row is all or nothing: one bad value rejects it with none of its records. Every record
    happened at the row's ``changed_at`` (which change wins is the store's fold, by time), has
    origin ``import`` and carries the row's ``evidence`` and ``actor``. Its external id is
    ``change_id`` (a row's two records share it; their kinds tell them apart), else a hash of
    the row's identifiers, what it changes and ``changed_at``, so a file imported again yields
    duplicates. ``customer_id`` is scoped by the source (option ``source``, default ``crm``).
    """

    name: ClassVar[str] = "consent-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (
        RecordKind.CONSENT_CHANGE,
        RecordKind.PREFERENCE_CHANGE,
    )
    default_source: ClassVar[str] = "crm"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "change_id",
            "changed_at",
            *_PERSON_IDENTIFIERS,
            "channel",
            "purpose",
            "status",
            "contact_point",
            "evidence",
            "actor",
            *_PREFERENCE_FIELDS,
        ),
        required=("changed_at",),
        any_of=(_PERSON_IDENTIFIERS, ("status", "do_not_contact", "preferred_channel")),
    )

    def row_records(self, values: Values, row: Row) -> list[_RecordData]:
        identifiers = values.identifiers(_PERSON_IDENTIFIERS)
        changed_at = values.timestamp("changed_at", required=True)
        purpose = _purpose(values)
        change_id = values.text("change_id")
        common = {
            "source": values.source,
            "occurred_at": changed_at,
            "identifiers": identifiers,
            "origin": ChangeOrigin.IMPORT,
            "actor": values.text("actor"),
            "evidence": values.text("evidence"),
        }
        subject = (",".join(sorted(i.key for i in identifiers)), changed_at)
        records: list[_RecordData] = []
        if any(name in row.values for name in _CONSENT_FIELDS):
            consent = self._consent(values, identifiers, purpose)
            derived = stable_id(
                *subject, consent["channel"], purpose, consent["contact_point"], consent["status"]
            )
            records.append(
                (ConsentChange, {**common, **consent, "external_id": change_id or derived})
            )
        if any(name in row.values for name in _PREFERENCE_FIELDS):
            preference = self._preference(values, purpose)
            said = json.dumps(preference, sort_keys=True, default=str)  # what it sets, too
            derived = stable_id(*subject, said, purpose)
            records.append(
                (PreferenceChange, {**common, **preference, "external_id": change_id or derived})
            )
        if not records:
            values.problems.append(
                "nothing to import: no status, do_not_contact or preferred_channel"
            )
        return records

    @staticmethod
    def _consent(
        values: Values, identifiers: list[Identifier], purpose: str | None
    ) -> dict[str, Any]:
        given = _choice(values, "channel", ContactChannel, _CONTACT_CHANNEL_SYNONYMS, required=True)
        status = _choice(values, "status", ConsentStatus, _CONSENT_STATUS_SYNONYMS, required=True)
        point = None
        if given is not None:
            channel = ContactChannel(given)
            explicit = "contact_point" in values.values
            column = "contact_point" if explicit else _point_column(channel)
            # With no valid identifier left, that problem already names the invalid address.
            if column is not None and (identifiers or explicit):
                point = _contact_point(values, column, channel)
        return {"channel": given, "purpose": purpose, "status": status, "contact_point": point}

    @staticmethod
    def _preference(values: Values, purpose: str | None) -> dict[str, Any]:
        preference: dict[str, Any] = {}
        active = values.flag("do_not_contact")
        reason = values.text("do_not_contact_reason")
        if active is not None:
            if active and reason is None:
                values.fail("do_not_contact_reason", "missing (do_not_contact is true)")
            preference["do_not_contact"] = {"active": active, "reason": reason}
        elif reason is not None and "do_not_contact" not in values.values:
            values.fail("do_not_contact", "missing (do_not_contact_reason is given)")
        preferred = values.text("preferred_channel")
        if preferred is not None:
            if purpose == ALL_PURPOSES:
                values.fail("purpose", "'all' has no preferred channel; name one purpose")
            channel = (
                None
                if _spelling(preferred) in _NO_CHANNEL
                else _choice(values, "preferred_channel", ContactChannel, _CONTACT_CHANNEL_SYNONYMS)
            )
            if purpose is not None:
                preference["preferred_channels"] = {purpose: channel}
        return preference


class ContactPointsCsvConnector(_RowConnector):
    """What an ESP or an SMS gateway learnt of addresses and numbers (bounces, verification
    results, invalid numbers), one row per event.

    Columns: ``event_id, occurred_at, email, phone, contact_point, channel, status, reason``;
    ``occurred_at`` and ``status`` are required. The address or number is ``contact_point``
    (which then needs its ``channel``), else the row's ``email`` or ``phone``: ``channel``
    defaults to email for an e-mail address and sms for a phone number, and says which of the
    two a row with both is about (such a row without it is an error). ``status`` is verified
    (also valid, deliverable, ok, confirmed), unverified (unknown, unconfirmed, catch-all,
    accept-all), bounced (bounce, hard, hard bounce, hardbounce) or invalid (undeliverable).
    A soft bounce (soft, soft bounce, softbounce) is a temporary failure that changes nothing
    known about the address: its row yields no record and no error.

    Each other row becomes a :class:`~schemas.ContactPointStatus` at ``occurred_at``, with
    origin ``bounce`` when bounced or invalid and ``import`` otherwise, identified by the
    e-mail address or phone number itself (and the row's other one, if valid), so that it
    joins whoever owns it; a push token or a postal address joins someone only through the
    row's ``email`` or ``phone``. Its external id is ``event_id``, else a hash of channel,
    contact point and ``occurred_at``, so a file imported again yields duplicates. ``reason``
    is cut at :data:`MAX_STATUS_REASON_CHARS`. The source is the ``source`` option (``esp``).
    """

    name: ClassVar[str] = "contact-points-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.CONTACT_POINT_STATUS,)
    default_source: ClassVar[str] = "esp"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "event_id",
            "occurred_at",
            "email",
            "phone",
            "contact_point",
            "channel",
            "status",
            "reason",
        ),
        required=("occurred_at", "status"),
        any_of=(("email", "phone", "contact_point"),),
    )

    def row_records(self, values: Values, row: Row) -> list[_RecordData]:
        written = row.get("status")
        soft = written is not None and _spelling(written) in _SOFT_BOUNCES
        status = None
        if not soft:
            status = _choice(
                values, "status", ContactPointState, _POINT_STATUS_SYNONYMS, required=True
            )
        channel, column = self._channel(values)
        point = None
        if channel is not None and column is not None:
            point = _contact_point(values, column, channel)
        identifiers = self._identifiers(values, channel, point)
        occurred_at = values.timestamp("occurred_at", required=True)
        if soft:  # checked like any row (a broken one is an error), then no status change
            return []
        reason = values.text("reason")
        data = {
            "source": values.source,
            "external_id": values.text("event_id")
            or stable_id(channel, point, occurred_at, status),
            "occurred_at": occurred_at,
            "identifiers": identifiers,
            "origin": ChangeOrigin.BOUNCE if status in _UNDELIVERABLE else ChangeOrigin.IMPORT,
            "channel": channel,
            "contact_point": point,
            "status": status,
            "reason": reason[:MAX_STATUS_REASON_CHARS] if reason else None,
        }
        return [(ContactPointStatus, data)]

    @staticmethod
    def _channel(values: Values) -> tuple[ContactChannel | None, str | None]:
        """The row's channel and the column of its contact point; ``None`` after a problem."""
        given = _choice(values, "channel", ContactChannel, _CONTACT_CHANNEL_SYNONYMS)
        present = {name for name in ("contact_point", "email", "phone") if name in values.values}
        if given is None:
            if "channel" in values.values:  # unknown: already a problem
                return None, None
            if "contact_point" in present:
                values.fail("channel", "missing (contact_point needs its channel)")
            elif present == {"email", "phone"}:
                values.fail("channel", "missing (the row has an e-mail and a phone: which is it?)")
            elif present:
                return (
                    (ContactChannel.EMAIL, "email")
                    if "email" in present
                    else (ContactChannel.SMS, "phone")
                )
            else:
                values.problems.append("no email, phone or contact_point")
            return None, None
        channel = ContactChannel(given)
        column = "contact_point" if "contact_point" in present else _point_column(channel)
        if column is None or column not in present:
            values.fail(column or "contact_point", f"missing (needed for channel {given})")
            return channel, None
        return channel, column

    @staticmethod
    def _identifiers(
        values: Values, channel: ContactChannel | None, point: str | None
    ) -> list[Identifier]:
        """The contact point itself when it is an e-mail address or a phone number, then the
        row's other valid ones."""
        found: dict[str, Identifier] = {}
        column = None if channel is None else _point_column(channel)
        if point is not None and column is not None:
            kind = IdentifierType.EMAIL if column == "email" else IdentifierType.PHONE
            own = Identifier(type=kind, value=point)
            found[own.key] = own
        for identifier in values.identifiers(("email", "phone"), required=False):
            found.setdefault(identifier.key, identifier)
        if not found and point is not None and channel is not None:
            values.problems.append(
                f"no email or phone to link the {channel.value} contact point to"
            )
        return list(found.values())
