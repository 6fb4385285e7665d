"""What a stored record contributes to the KPIs, as a small fact; and what a customer is.

Facts are made from the entries of the customers' ledgers (:mod:`c360.metrics.ledger`), each a
record's facts as ingest folded them, and keep only what the KPIs use, with times as epoch
milliseconds (UTC). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from c360.metrics.ledger import CaseEntry, OrderEntry, ReturnEntry, SurveyEntry


@dataclass(frozen=True, slots=True)
class OrderFact:
    profile_id: str
    at: int
    currency: str
    amount: int  # minor units
    items: int
    products: frozenset[str]
    channel: str
    store: str | None
    cancelled: bool


@dataclass(frozen=True, slots=True)
class ReturnFact:
    profile_id: str
    at: int
    currency: str
    amount: int
    order_id: str
    order: OrderFact | None
    """The refunded order when it is stored (its channel, store and whether it stands)."""

    @property
    def stands(self) -> bool:
        """A refund of a cancelled order counts for nothing (the sale did not happen)."""
        return self.order is None or not self.order.cancelled


@dataclass(frozen=True, slots=True)
class CaseFact:
    record_id: str
    profile_id: str
    at: int  # opened
    source: str
    channel: str
    closed: bool
    complaint: bool
    first_response_s: float | None
    resolution_s: float | None
    replies: int | None
    satisfaction: str | None  # good, bad


@dataclass(frozen=True, slots=True)
class SurveyFact:
    record_id: str
    profile_id: str
    at: int
    source: str
    survey_type: str  # nps, csat, ces
    score: int
    touchpoint: str | None
    commented: bool = False
    contact_requested: bool = False


@dataclass(frozen=True, slots=True)
class FollowUpFact:
    """A follow-up of the voice of the customer, as :mod:`c360.kpis.followups` reads it."""

    profile_id: str
    at: int  # opened
    team: str | None
    root_cause: str | None
    held_out: bool
    sla_met: bool | None
    """Every SLA target met (True), one missed or overdue (False), not decided yet (None)."""


@dataclass(frozen=True, slots=True)
class VisitFact:
    profile_id: str
    at: int


@dataclass(frozen=True, slots=True)
class Customer:
    """A profile as the KPIs see it: its segments now, and what history they need."""

    profile_id: str
    stage: str | None
    tier: str | None
    country: str | None
    first_order_ms: int | None
    lifetime_value: Mapping[str, int]  # net, per currency (minor units)
    last_order_ms: int | None = None


Fact = OrderFact | ReturnFact | CaseFact | SurveyFact | VisitFact | FollowUpFact


def order_fact(profile_id: str, entry: OrderEntry) -> OrderFact:
    """An order; one that no profile holds (the order of a refund) has an empty profile."""
    at, _, currency, amount, items, products, channel, store, cancelled = entry
    return OrderFact(
        profile_id, at, currency, amount, items, frozenset(products), channel, store, cancelled
    )


def return_fact(profile_id: str, entry: ReturnEntry, order: OrderFact | None) -> ReturnFact:
    at, currency, amount, order_id = entry
    return ReturnFact(profile_id, at, currency, amount, order_id, order)


def case_fact(profile_id: str, entry: CaseEntry) -> CaseFact:
    at, record_id, source, channel, closed, complaint, responded, solved, replies, rated = entry
    return CaseFact(
        record_id=record_id,
        profile_id=profile_id,
        at=at,
        source=source,
        channel=channel,
        closed=closed,
        complaint=complaint,
        first_response_s=None if responded is None else responded / 1000,
        resolution_s=None if solved is None else solved / 1000,
        replies=replies,
        satisfaction=rated,
    )


def survey_fact(profile_id: str, entry: SurveyEntry) -> SurveyFact:
    at, record_id, source, survey_type, score, touchpoint, commented, contact_requested = entry
    return SurveyFact(
        record_id=record_id,
        profile_id=profile_id,
        at=at,
        source=source,
        survey_type=survey_type,
        score=score,
        touchpoint=touchpoint,
        commented=commented,
        contact_requested=contact_requested,
    )
