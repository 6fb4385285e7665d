"""What a stored record contributes to the KPIs, as a small fact; and what a customer is.

Facts are read from the records of the span asked for (:mod:`c360.kpis.repository`) and keep
only what the KPIs use, with times as epoch milliseconds (UTC). Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CLOSED_STATUSES = frozenset({"solved", "closed"})


def epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms(value: Any) -> int | None:
    return epoch_ms(value) if isinstance(value, dt.datetime) else None


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


def order_fact(doc: Mapping[str, Any]) -> OrderFact:
    """An order; one that no profile holds yet (the order of a refund) has an empty profile."""
    data: Mapping[str, Any] = doc["data"]
    lines = data.get("line_items") or ()
    return OrderFact(
        profile_id=doc.get("profile_id", ""),
        at=epoch_ms(doc["occurred_at"]),
        currency=data["total"]["currency"],
        amount=data["total"]["amount"],
        items=sum(line["quantity"] for line in lines),
        # The product's name as the profile's metrics count it: the title, else the SKU.
        products=frozenset(p for line in lines if (p := line.get("title") or line.get("sku"))),
        channel=data["channel"],
        store=data.get("store_id"),
        cancelled=data.get("cancelled_at") is not None,
    )


def order_record_id(doc: Mapping[str, Any]) -> str:
    """The record id of a return's order (same source)."""
    return f"{doc['source']}:order:{doc['data']['order_external_id']}"


def return_fact(doc: Mapping[str, Any], order: OrderFact | None) -> ReturnFact:
    data: Mapping[str, Any] = doc["data"]
    return ReturnFact(
        profile_id=doc["profile_id"],
        at=epoch_ms(doc["occurred_at"]),
        currency=data["amount"]["currency"],
        amount=data["amount"]["amount"],
        order_id=order_record_id(doc),
        order=order,
    )


def case_fact(doc: Mapping[str, Any]) -> CaseFact:
    data: Mapping[str, Any] = doc["data"]
    opened = epoch_ms(doc["occurred_at"])
    closed = data["status"] in CLOSED_STATUSES
    responded = _ms(data.get("first_response_at"))
    # Only a solved or closed case has a resolution (a reopened one may still carry a solve).
    solved = _ms(data.get("solved_at")) if closed else None
    return CaseFact(
        record_id=doc["_id"],
        profile_id=doc["profile_id"],
        at=opened,
        source=doc["source"],
        channel=data["channel"],
        closed=closed,
        complaint=bool(data.get("complaint")),
        first_response_s=None if responded is None else (responded - opened) / 1000,
        resolution_s=None if solved is None else (solved - opened) / 1000,
        replies=data.get("agent_replies"),
        satisfaction=data.get("satisfaction"),
    )


def survey_fact(doc: Mapping[str, Any]) -> SurveyFact:
    data: Mapping[str, Any] = doc["data"]
    return SurveyFact(
        record_id=doc["_id"],
        profile_id=doc["profile_id"],
        at=epoch_ms(doc["occurred_at"]),
        source=doc["source"],
        survey_type=data["survey_type"],
        score=data["score"],
        touchpoint=data.get("touchpoint"),
        commented=bool(data.get("comment")),
        contact_requested=bool(data.get("contact_requested")),
    )


def visit_fact(doc: Mapping[str, Any]) -> VisitFact:
    return VisitFact(profile_id=doc["profile_id"], at=epoch_ms(doc["occurred_at"]))
