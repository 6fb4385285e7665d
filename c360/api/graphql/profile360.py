"""GraphQL types of the profile 360: metrics, lifecycle stage, value tier, churn risk."""

from __future__ import annotations

import datetime as dt

import strawberry

from c360.api.graphql.access import in_text, public
from c360.api.graphql.types import Money
from c360.metrics.figures import Amount, Metrics
from c360.profiles.lifecycle import ChurnRisk as ChurnRiskValue
from c360.profiles.lifecycle import LifecycleStage, Stage, Tier, ValueTier

strawberry.enum(LifecycleStage)
strawberry.enum(ValueTier)


def _money(amount: Amount) -> Money:
    return Money(amount=amount.amount, currency=amount.currency)


@strawberry.type(description="How much of something: a name and a quantity.")
class RankedItem:
    name: str = strawberry.field(extensions=in_text())  # a product title or category
    quantity: int


@strawberry.type(
    description="Computed from the profile's records; always equal to a recomputation from them."
)
class ProfileMetrics:
    lifetime_value: list[Money] = strawberry.field(
        description=(
            "Orders minus their refunds, per currency; a cancelled order and its refunds count "
            "for nothing."
        )
    )
    lifetime_value_reporting: Money | None = strawberry.field(
        description="Lifetime value in the reporting currency (configured rate table)."
    )
    unconverted_currencies: list[str] = strawberry.field(
        description="Currencies with no configured rate, left out of the reported value.",
        metadata=public("ISO 4217 codes"),
    )
    order_count: int = strawberry.field(description="Orders not cancelled.")
    cancelled_order_count: int
    average_order_value: list[Money] = strawberry.field(
        description="Per currency, over the orders not cancelled."
    )
    items_bought: int
    return_count: int = strawberry.field(
        description="Returns and refunds of orders not cancelled (a cancellation's are not)."
    )
    return_rate: float | None = strawberry.field(description="Returns per order.")
    first_order_at: dt.datetime | None
    last_order_at: dt.datetime | None
    online_share: float | None
    in_store_share: float | None
    top_categories: list[RankedItem]
    top_products: list[RankedItem]
    open_cases: int
    recent_cases: int = strawberry.field(description="Cases opened in the last recentCaseDays.")
    recent_case_days: int
    average_first_response_seconds: float | None
    average_resolution_seconds: float | None
    complaints: int
    open_complaints: int
    average_csat: float | None = strawberry.field(description="Mean CSAT answer (1-5).")
    last_nps: int | None
    last_nps_at: dt.datetime | None
    nps_trend: int | None = strawberry.field(
        description="Last NPS answer minus the one before (negative: falling)."
    )
    site_visits: int = strawberry.field(description="Days with site or app activity.")
    last_visit_at: dt.datetime | None

    @classmethod
    def from_metrics(cls, m: Metrics) -> ProfileMetrics:
        return cls(
            lifetime_value=[_money(a) for a in m.lifetime_value],
            lifetime_value_reporting=(
                _money(m.lifetime_value_reporting) if m.lifetime_value_reporting else None
            ),
            unconverted_currencies=m.unconverted_currencies,
            order_count=m.order_count,
            cancelled_order_count=m.cancelled_order_count,
            average_order_value=[_money(a) for a in m.average_order_value],
            items_bought=m.items_bought,
            return_count=m.return_count,
            return_rate=m.return_rate,
            first_order_at=m.first_order_at,
            last_order_at=m.last_order_at,
            online_share=m.online_share,
            in_store_share=m.in_store_share,
            top_categories=[RankedItem(name=n, quantity=q) for n, q in m.top_categories],
            top_products=[RankedItem(name=n, quantity=q) for n, q in m.top_products],
            open_cases=m.open_cases,
            recent_cases=m.recent_cases,
            recent_case_days=m.recent_case_days,
            average_first_response_seconds=m.average_first_response_seconds,
            average_resolution_seconds=m.average_resolution_seconds,
            complaints=m.complaints,
            open_complaints=m.open_complaints,
            average_csat=m.average_csat,
            last_nps=m.last_nps,
            last_nps_at=m.last_nps_at,
            nps_trend=m.nps_trend,
            site_visits=m.site_visits,
            last_visit_at=m.last_visit_at,
        )


@strawberry.type(description="The lifecycle stage and the rule that put the profile there.")
class LifecycleStageInfo:
    stage: LifecycleStage
    reason: str = strawberry.field(metadata=public("a sentence made by c360 from counts and dates"))

    @classmethod
    def from_stage(cls, stage: Stage) -> LifecycleStageInfo:
        return cls(stage=stage.stage, reason=stage.reason)


@strawberry.type(description="The value tier (from lifetime-value percentiles) and why.")
class ValueTierInfo:
    tier: ValueTier
    reason: str = strawberry.field(metadata=public("a sentence made by c360 from counts and dates"))

    @classmethod
    def from_tier(cls, tier: Tier) -> ValueTierInfo:
        return cls(tier=tier.tier, reason=tier.reason)


@strawberry.type(description="How likely the customer is to leave (0..1), with the signals.")
class ChurnRisk:
    score: float
    reasons: list[str] = strawberry.field(
        metadata=public("a sentence made by c360 from counts and dates")
    )

    @classmethod
    def from_value(cls, risk: ChurnRiskValue) -> ChurnRisk:
        return cls(score=risk.score, reasons=risk.reasons)
