"""``pos-csv``: in-store sales, one row per line item, adjacent rows of an order grouped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

from pydantic import ValidationError

from connectors._values import major_units
from connectors.base import (
    CSV_MEDIA_TYPES,
    MAX_RAW_CHARS,
    Ignored,
    ItemError,
    ParseOptions,
    ParseResult,
)
from connectors.csv._base import source_of, validated
from connectors.csv._rows import CsvSpec, Row, read_rows
from connectors.csv._values import IDENTIFIER_FIELDS, Values
from schemas import Order, RecordKind, describe_errors
from schemas.quoting import shown
from schemas.records import LineItem, OrderChannel

MAX_ORDER_LINES = 10_000
"""Line items an order may have (the canonical limit); a longer order is rejected."""
MAX_REPORTED_PROBLEMS = 10
"""Problems named in one order's reason; the rest are counted."""

_ORDER_FIELDS = ("ordered_at", "store_id", "currency", "total", *IDENTIFIER_FIELDS)
"""Fields about the whole order: every line of an order must agree on them (or leave them empty)."""


class PosCsvConnector:
    """In-store sales, one row per line item; adjacent rows with one ``order_id`` are an order.

    Columns: ``order_id, ordered_at, store_id, sku, title, category, quantity, unit_price,
    currency, email, phone, customer_id, loyalty_id`` and optionally ``total`` (else the sum of
    quantity * unit_price). A line with a negative ``unit_price`` is a discount (a coupon, a
    promotion), the order's ``discount`` rather than an item; a negative ``quantity`` is an item
    taken back, which rejects the order (returns are ``returns-csv``'s). Order-level values may
    be repeated on every line or given once; a line that contradicts an earlier one, or any bad
    line, rejects the whole order at its first line. Only the current order is held in memory,
    so an order's lines must be adjacent: the same ``order_id`` further down the file is read
    as another statement of that order.
    """

    name: ClassVar[str] = "pos-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.ORDER,)
    media_types: ClassVar[tuple[str, ...]] = CSV_MEDIA_TYPES
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
        source = source_of(options, self.default_source)
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
        self.discount = 0
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
                        f"{name} {shown(value)} differs from {shown(known)} "
                        f"on {self.first_line[name]}",
                    )
                )
        if self.line_count > MAX_ORDER_LINES:
            if self.line_count == MAX_ORDER_LINES + 1:
                self.problems.append((None, f"more than {MAX_ORDER_LINES} lines"))
            return
        values = Values({**self.order_values, **row.values}, self.options, self.source)
        quantity = values.whole("quantity", required=True)
        unit_price = values.money("unit_price", values.currency(), required=True)
        if values.problems or quantity is None or unit_price is None:  # None: a problem
            self.problems.extend((row.line, problem) for problem in values.problems)
            return
        if quantity < 0:
            self.problems.append(
                (
                    row.line,
                    f"quantity {quantity}: an item taken back (an exchange or a refund); "
                    "pos-csv reads sales, returns-csv reads returns",
                )
            )
            return
        if unit_price["amount"] < 0 and quantity > 0:
            # A discount line (coupon, promotion, markdown): money off the order, not an item.
            self.discount -= quantity * unit_price["amount"]
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
        anonymous = not any(name in self.order_values for name in IDENTIFIER_FIELDS)
        identifiers = [] if anonymous else values.identifiers()
        currency = values.currency()
        total = (
            values.money("total", currency)
            if "total" in self.order_values
            else {"amount": self.subtotal - self.discount, "currency": currency}
        )
        if (
            currency is not None
            and self.discount > self.subtotal
            and "total" not in self.order_values
        ):
            values.fail(
                "unit_price",
                f"the discount lines take off {major_units(self.discount, currency)}, "
                f"more than the items' {major_units(self.subtotal, currency)}",
            )
        if values.problems:
            return ItemError.of(self.position, raw, "; ".join(values.problems))
        if anonymous:
            # A cash sale to nobody in particular: what a till sells most, and nobody's.
            return Ignored(
                self.position,
                "an anonymous sale: no email, phone, customer_id or loyalty_id on any line",
            )
        data = {
            "source": self.source,
            "external_id": self.order_id,
            "occurred_at": occurred_at,
            "identifiers": identifiers,
            "channel": OrderChannel.IN_STORE,
            "store_id": self.order_values.get("store_id"),
            "line_items": self.line_items,
            "discount": {"amount": self.discount, "currency": currency} if self.discount else None,
            "total": total,
        }
        return validated(Order, data, self.position, raw, self.options)

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
