"""A profile's ledger: what each of its counted records says to reports across customers.

Reports (the KPIs) group people by what their profiles show now — a lifecycle stage, a value
tier — so what they count must be known per person; and they cut time at local midnights and
at any instant asked for, take medians, and count distinct people and products, so a figure
cannot be summed ahead per day or per segment. The ledger keeps, per profile, one short entry
per counted record — an order's moment, money, items, products, channel, store and whether it
was cancelled; a refund's moment, money and order; a case's and a survey answer's facts — and
when they visited (:func:`compact_visits`). It is kept with the profile's aggregate: folded in
at ingest, recomputed from the records with it, moved with it by merges and unmerges, removed
with it. A report reads the ledgers of the people active in its span (found by the days they
hold entries on), a few hundred bytes each, instead of every record of the span and every
aggregate behind them.

Entries are tuples, stored as arrays (no open-ended key is ever a field name); times are epoch
milliseconds (UTC). Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from c360.store import Document

MS_PER_DAY = 86_400_000
VISIT_SLOT_MS = 15 * 60_000
"""Visits are kept as the first and last of each quarter hour (UTC) they fall in."""
COMPACT_VISITS_AT = 4096
"""Folding compacts the visits once they pass this (and twice what compacting last kept)."""
CLOSED_CASE_STATUSES = frozenset({"solved", "closed"})

OrderEntry = tuple[int, str, str, int, int, tuple[str, ...], str, str | None, bool]
"""at, record id, currency, amount (minor units), items, products, channel, store, cancelled."""
ReturnEntry = tuple[int, str, int, str]
"""at, currency, amount (minor units), the record id of the order refunded."""
CaseEntry = tuple[int, str, str, str, bool, bool, int | None, int | None, int | None, str | None]
"""opened at, record id, source, channel, closed, complaint, first response and resolution
(milliseconds after opening), agent replies, satisfaction (good, bad)."""
SurveyEntry = tuple[int, str, str, str, int, str | None, bool, bool]
"""at, record id, source, survey type, score, touchpoint, commented, contact requested."""


def epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def when(value: Any) -> int | None:
    """A datetime from a record's payload (stored as a date) in epoch milliseconds."""
    return epoch_ms(value) if isinstance(value, dt.datetime) else None


@dataclass
class Ledger:
    """Entries in no particular order while folding: two ledgers are equal when they hold the
    same entries (:meth:`in_order` puts them in one order), so a ledger folded record by record
    equals one recomputed from scratch, and is stored as the same document."""

    orders: list[OrderEntry] = field(default_factory=list)
    returns: list[ReturnEntry] = field(default_factory=list)
    cases: list[CaseEntry] = field(default_factory=list)
    surveys: list[SurveyEntry] = field(default_factory=list)
    visits: list[int] = field(default_factory=list)
    _compact_at: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A ledger read from the store holds its visits compacted: the next compaction is due
        # when a batch has doubled them, not at once.
        self._compact_at = max(COMPACT_VISITS_AT, 2 * len(self.visits))

    def fold(self, other: Ledger) -> Ledger:
        """Add ``other``'s entries (in place; returns self)."""
        self.orders += other.orders
        self.returns += other.returns
        self.cases += other.cases
        self.surveys += other.surveys
        self.visits += other.visits
        if len(self.visits) > self._compact_at:  # a recomputation over a bot's page views
            self.visits = compact_visits(self.visits)
            self._compact_at = max(COMPACT_VISITS_AT, 2 * len(self.visits))
        return self

    def days(self) -> list[int]:
        """The UTC days (epoch day numbers) this ledger has entries on: how reports find it."""
        moments = [
            *(e[0] for e in self.orders),
            *(e[0] for e in self.returns),
            *(e[0] for e in self.cases),
            *(e[0] for e in self.surveys),
            *self.visits,
        ]
        return sorted({moment // MS_PER_DAY for moment in moments})

    def in_order(
        self,
    ) -> tuple[list[OrderEntry], list[ReturnEntry], list[CaseEntry], list[SurveyEntry], list[int]]:
        """Its entries in one order whatever the order they were folded in: by moment, then
        record id (which makes every order, case and answer unique; refunds and visits that
        tie are the same values)."""
        return (
            sorted(self.orders, key=_at_id),
            sorted(self.returns),
            sorted(self.cases, key=_at_id),
            sorted(self.surveys, key=_at_id),
            compact_visits(self.visits),
        )

    def __eq__(self, other: object) -> bool:
        """The same entries, in whatever order they were folded."""
        return isinstance(other, Ledger) and self.in_order() == other.in_order()


def compact_visits(visits: Iterable[int]) -> list[int]:
    """The first and last of the visits in each quarter hour (UTC), sorted: what a report needs
    of them, which is whether a person visited within a span, and bounded by time, not by page
    views (a bot's or a shared device's million events on one profile would otherwise pass the
    store's 16 MB limit on a document, and stop every import that reaches it). A span of at
    least a quarter hour, or one cut at a local midnight (a quarter hour in every time zone),
    finds the same visitors in them as in all the visits: a quarter hour the span cuts is cut at
    one end only, where its first (or last) visit says whether any visit falls inside."""
    kept: dict[int, tuple[int, int]] = {}
    for at in visits:
        slot = at // VISIT_SLOT_MS
        first, last = kept.get(slot, (at, at))
        kept[slot] = (min(first, at), max(last, at))
    return sorted({moment for pair in kept.values() for moment in pair})


def _at_id(entry: tuple[Any, ...]) -> tuple[int, str]:
    return entry[0], entry[1]


def order_entry(record_id: str, occurred: int, data: Mapping[str, Any]) -> OrderEntry:
    lines = data.get("line_items") or ()
    # The product's name as the profile's metrics count it: the title, else the SKU.
    products = sorted({p for line in lines if (p := line.get("title") or line.get("sku"))})
    return (
        occurred,
        record_id,
        data["total"]["currency"],
        data["total"]["amount"],
        sum(line["quantity"] for line in lines),
        tuple(products),
        data["channel"],
        data.get("store_id"),
        data.get("cancelled_at") is not None,
    )


def order_record_id(source: str, data: Mapping[str, Any]) -> str:
    """The record id of the order a refund names (same source)."""
    return f"{source}:order:{data['order_external_id']}"


def entry(doc: Document) -> Ledger:
    """What one stored record adds to its profile's ledger (nothing for kinds reports skip)."""
    found = Ledger()
    data: Mapping[str, Any] = doc["data"]
    occurred = epoch_ms(doc["occurred_at"])
    kind = doc["kind"]
    if kind == "order":
        found.orders.append(order_entry(doc["_id"], occurred, data))
    elif kind == "return":
        amount = data["amount"]
        order = order_record_id(doc["source"], data)
        found.returns.append((occurred, amount["currency"], amount["amount"], order))
    elif kind == "service_case":
        closed = data["status"] in CLOSED_CASE_STATUSES
        responded = when(data.get("first_response_at"))
        # Only a solved or closed case has a resolution (a reopened one may still carry a solve).
        solved = when(data.get("solved_at")) if closed else None
        found.cases.append(
            (
                occurred,
                doc["_id"],
                doc["source"],
                data["channel"],
                closed,
                bool(data.get("complaint")),
                None if responded is None else responded - occurred,
                None if solved is None else solved - occurred,
                data.get("agent_replies"),
                data.get("satisfaction"),
            )
        )
    elif kind == "survey_response":
        found.surveys.append(
            (
                occurred,
                doc["_id"],
                doc["source"],
                data["survey_type"],
                data["score"],
                data.get("touchpoint"),
                bool(data.get("comment")),
                bool(data.get("contact_requested")),
            )
        )
    elif kind == "site_event":
        found.visits.append(occurred)
    return found
