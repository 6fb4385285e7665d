"""Profile metrics: each record's facts, folded into one aggregate per profile.

A record contributes facts (counts, amounts per currency, first/last moments, open cases, NPS
answers) that fold associatively and commutatively: the aggregate of a profile is the fold of
its records' contributions in any order, so ingest folds each new record into the stored
aggregate (no recomputation per record), and a from-scratch recomputation (merge, unmerge, an
amended record, ``c360 profiles recompute``) gives the same document. What depends on the
moment of reading (cases in the last 90 days, lifecycle, churn risk) is derived at read time
from the aggregate, so it never goes stale.

A cancelled order contributes nothing but its cancellation: no value, no order, no items, no
average, no first or last order; and neither do its refunds (no refunded amount, no return, no
returned items): the money went back because the sale did not happen. A return's facts are
therefore kept per order (``refunds``) next to the set of cancelled orders, and what is
refunded is summed at read time over the orders that stand, so the fold stays order-free: an
order, its refunds and its cancellation give the same aggregate in any arrival order.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from c360.metrics.ledger import CLOSED_CASE_STATUSES, MS_PER_DAY, Ledger, entry, epoch_ms, when
from c360.store import Document

KEPT_NPS_ANSWERS = 3  # the last one and the ones before it, for the trend


@dataclass
class Refunds:
    """What the returns of one order add up to."""

    returns: int = 0
    items: int = 0
    amounts: Counter[str] = field(default_factory=Counter)  # currency → minor units

    def add(self, other: Refunds) -> None:
        self.returns += other.returns
        self.items += other.items
        self.amounts.update(other.amounts)


@dataclass
class Aggregate:
    counts: Counter[str] = field(default_factory=Counter)
    spent: Counter[str] = field(default_factory=Counter)  # currency → minor units
    refunds: dict[str, Refunds] = field(default_factory=dict)  # order record id → its returns
    cancelled: set[str] = field(default_factory=set)  # record ids of cancelled orders
    orders_by_currency: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)  # by quantity bought
    products: Counter[str] = field(default_factory=Counter)
    visit_days: Counter[int] = field(default_factory=Counter)  # UTC day number → site events
    first_ms: dict[str, int] = field(default_factory=dict)
    last_ms: dict[str, int] = field(default_factory=dict)
    nps: list[tuple[int, str, int]] = field(default_factory=list)  # (when, record, score)
    open_cases: dict[str, tuple[int, bool]] = field(
        default_factory=dict
    )  # id → (opened, complaint)
    cases_opened_ms: list[int] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    """Each counted record's entry for reports: stored beside the aggregate, not in it (see
    :mod:`c360.metrics.ledger`)."""

    def fold(self, other: Aggregate) -> Aggregate:
        """Add ``other`` into this aggregate (in place; returns self).

        What ``other`` leaves empty is skipped: folding a record's contribution, which fills
        one or two parts, is most of ingest's work. (Every aggregate is folded from an empty
        one, so its NPS answers and case openings are in their folded form already, the
        largest and sorted: nothing to add leaves them as they are.)"""
        for mine, theirs in (
            (self.counts, other.counts),
            (self.spent, other.spent),
            (self.orders_by_currency, other.orders_by_currency),
            (self.categories, other.categories),
            (self.products, other.products),
        ):
            if theirs:
                mine.update(theirs)
        if other.visit_days:
            self.visit_days.update(other.visit_days)
        for order_id, refunds in other.refunds.items():
            self.refunds.setdefault(order_id, Refunds()).add(refunds)
        if other.cancelled:
            self.cancelled |= other.cancelled
        for name, value in other.first_ms.items():
            self.first_ms[name] = min(value, self.first_ms.get(name, value))
        for name, value in other.last_ms.items():
            self.last_ms[name] = max(value, self.last_ms.get(name, value))
        if other.nps:
            self.nps = heapq.nlargest(KEPT_NPS_ANSWERS, {*self.nps, *other.nps})
        if other.open_cases:
            self.open_cases.update(other.open_cases)
        if other.cases_opened_ms:
            self.cases_opened_ms = sorted([*self.cases_opened_ms, *other.cases_opened_ms])
        self.ledger.fold(other.ledger)
        return self

    def standing_refunds(self) -> Refunds:
        """The returns of orders that were not cancelled (those of a cancelled one count not)."""
        total = Refunds()
        for order_id, refunds in self.refunds.items():
            if order_id not in self.cancelled:
                total.add(refunds)
        return total

    def _seen(self, name: str, moment: int) -> None:
        self.first_ms[name] = min(moment, self.first_ms.get(name, moment))
        self.last_ms[name] = max(moment, self.last_ms.get(name, moment))


# The record kinds metrics are computed from; the others (people, consent, preferences, the
# contact log, contact points) change no aggregate, so amending or moving one needs no recount.
COUNTED_KINDS = frozenset({"order", "return", "service_case", "survey_response", "site_event"})


def contribution(doc: Document) -> Aggregate:
    """What one stored record adds to its profile's aggregate (and its ledger)."""
    facts = Aggregate(ledger=entry(doc))
    data: Mapping[str, Any] = doc["data"]
    occurred = epoch_ms(doc["occurred_at"])
    kind = doc["kind"]
    if kind == "order":
        _order(facts, doc["_id"], data, occurred)
    elif kind == "return":
        # Kept under its order: it counts only while that order is not cancelled.
        order_id = f"{doc['source']}:order:{data['order_external_id']}"
        facts.refunds[order_id] = Refunds(
            returns=1,
            items=sum(i["quantity"] for i in data.get("items") or ()),
            amounts=Counter({data["amount"]["currency"]: data["amount"]["amount"]}),
        )
    elif kind == "service_case":
        _case(facts, doc["_id"], data, occurred)
    elif kind == "survey_response":
        survey, score = data["survey_type"], data["score"]
        if survey == "nps":
            facts.nps = [(occurred, doc["_id"], score)]
        else:
            facts.counts[f"{survey}_answers"] += 1
            facts.counts[f"{survey}_score_sum"] += score
    elif kind == "site_event":
        facts.counts["site_events"] += 1
        facts.visit_days[occurred // MS_PER_DAY] += 1
        facts._seen("visit", occurred)
    return facts


def _order(facts: Aggregate, record_id: str, data: Mapping[str, Any], occurred: int) -> None:
    if data.get("cancelled_at") is not None:
        facts.cancelled.add(record_id)  # nothing else: see the module's docstring
        return
    currency = data["total"]["currency"]
    facts.counts["orders"] += 1
    facts.counts[f"orders_{data['channel']}"] += 1
    facts.spent[currency] += data["total"]["amount"]
    facts.orders_by_currency[currency] += 1
    for item in data.get("line_items") or ():
        quantity = item["quantity"]
        facts.counts["items"] += quantity
        if item.get("category"):
            facts.categories[item["category"]] += quantity
        if product := item.get("title") or item.get("sku"):
            facts.products[product] += quantity
    facts._seen("order", occurred)


def _case(facts: Aggregate, record_id: str, data: Mapping[str, Any], opened: int) -> None:
    facts.counts["cases"] += 1
    facts.cases_opened_ms = [opened]
    if data.get("complaint"):
        facts.counts["complaints"] += 1
    if (responded := when(data.get("first_response_at"))) is not None:
        facts.counts["first_responses"] += 1
        facts.counts["first_response_ms_sum"] += responded - opened
    # Only a solved or closed case has a resolution (a reopened one may still carry a solve).
    solved = when(data.get("solved_at")) if data["status"] in CLOSED_CASE_STATUSES else None
    if solved is not None:
        facts.counts["resolutions"] += 1
        facts.counts["resolution_ms_sum"] += solved - opened
    if data["status"] not in CLOSED_CASE_STATUSES:
        facts.open_cases[record_id] = (opened, bool(data.get("complaint")))
    if satisfaction := data.get("satisfaction"):
        facts.counts[f"satisfaction_{satisfaction}"] += 1


def aggregate(docs: Iterable[Document]) -> Aggregate:
    """A profile's aggregate from scratch."""
    total = Aggregate()
    for doc in docs:
        total.fold(contribution(doc))
    return total
