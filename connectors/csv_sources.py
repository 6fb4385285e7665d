"""CSV exports of in-store sales, returns, service logs, CRM master data and surveys.

Each connector reads one row per item (in-store sales: one row per line item, grouped into
orders) with the column names of its docstring; a mapping (``ParseOptions.mapping``, from a
mapping file read by :func:`connectors._csv.parse_mapping`) renames columns, and the options
(``ParseOptions.settings``) set the source name, time zone, timestamp and date formats,
currency, decimal separator, delimiter and encoding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, ClassVar, TypeVar

from pydantic import ValidationError

from connectors._csv import IDENTIFIER_FIELDS, CsvSpec, Row, Values, read_rows
from connectors.base import MAX_RAW_CHARS, ItemError, Parsed, ParseOptions, ParseResult
from schemas import Order, Person, RecordKind, Return, ServiceCase, SurveyResponse, describe_errors
from schemas.records import (
    SCORE_RANGES,
    CasePriority,
    CaseStatus,
    LineItem,
    ServiceChannel,
    SurveyType,
)

_Record = TypeVar("_Record", Order, Return, ServiceCase, Person, SurveyResponse)

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
    return Parsed(position=position, record=record)


def _row_record(
    model: type[_Record], data: dict[str, Any], row: Row, values: Values
) -> ParseResult:
    if values.problems:
        return ItemError.of(row.position, row.replayable, "; ".join(values.problems))
    return _validated(model, data, row.position, row.replayable, values.options)


def _usable_rows(
    stream: BinaryIO, options: ParseOptions, spec: CsvSpec
) -> Iterator[Row | ItemError]:
    """The file's rows; a row that cannot be trusted as a whole is already an error."""
    for row in read_rows(stream, options, spec):
        if isinstance(row, Row) and row.problem is not None:
            yield ItemError.of(row.position, row.replayable, row.problem)
        else:
            yield row


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
    key = re.sub(r"[\s-]+", "_", value.strip().lower())
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
    """A CSV source with one record per row; subclasses say how a row's values become it."""

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
            yield _row_record(self.model, self.row_data(values, row), row, values)

    def row_source(self, row: Row, fallback: str) -> str:
        """The source name of a row's record (one column may name it)."""
        return fallback

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
                    pending = _PendingOrder(order_id, row.position, options, source)
                pending.add(row)
        if pending is not None:
            yield pending.finish()


class _PendingOrder:
    """The lines of the order being read."""

    def __init__(self, order_id: str, position: str, options: ParseOptions, source: str) -> None:
        self.order_id = order_id
        self.position = position
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
        self.problems: list[str] = []

    def add(self, row: Row) -> None:
        self.line_count += 1
        self.header = self.header or row.header
        if self.raw_chars < MAX_RAW_CHARS:
            self.raws.append(row.raw)
            self.raw_chars += len(row.raw) + 1
        if row.problem is not None:
            self.problems.append(f"{row.position}: {row.problem}")
            return
        for name in _ORDER_FIELDS:
            value = row.get(name)
            if value is None:
                continue
            known = self.order_values.setdefault(name, value)
            self.first_line.setdefault(name, row.position)
            if value != known:
                self.problems.append(
                    f"{row.position}: {name} {value!r} differs from {known!r} "
                    f"on {self.first_line[name]}"
                )
        if self.line_count > MAX_ORDER_LINES:
            if self.line_count == MAX_ORDER_LINES + 1:
                self.problems.append(f"more than {MAX_ORDER_LINES} lines")
            return
        values = Values({**self.order_values, **row.values}, self.options, self.source)
        quantity = values.whole("quantity", required=True)
        unit_price = values.money("unit_price", values.currency(), required=True)
        if values.problems:
            self.problems.extend(f"{row.position}: {problem}" for problem in values.problems)
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
            self.problems.append(f"{row.position}: {describe_errors(exc)}")
            return
        self.line_items.append(item)
        self.subtotal += item.quantity * item.unit_price.amount

    def finish(self) -> ParseResult:
        # Under its header, the rejected order is a CSV file of its own: replayable later.
        raw = "\n".join([self.header, *self.raws] if self.header else self.raws)
        if self.problems:
            return ItemError.of(self.position, raw, self._reason(self.problems))
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

    @staticmethod
    def _reason(problems: list[str]) -> str:
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
    first_response_at, solved_at, satisfaction, tags, complaint, email, phone, customer_id,
    loyalty_id``. Channels accept synonyms (call/voice/telephone → phone, livechat → chat,
    mail → email); status defaults to ``solved`` when ``solved_at`` is set, else ``open``;
    tags are separated by ``;`` or ``|``; ``complaint`` is true/false, yes/no or 1/0, and a
    tag among ``complaint_tags`` marks a complaint too.
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

_SURVEY_IDENTIFIERS = ("email", "phone", "customer_id")
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
            *_SURVEY_IDENTIFIERS,
            "source",
            "type",
            "score",
            "comment",
            "touchpoint",
        ),
        required=("response_id", "responded_at", "type", "score"),
        any_of=(_SURVEY_IDENTIFIERS,),
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
            "identifiers": values.identifiers(_SURVEY_IDENTIFIERS),
            "survey_type": survey_type,
            "score": score,
            "comment": values.text("comment"),
            "touchpoint": values.text("touchpoint"),
        }
        return data
