"""What each KPI is: its definition in words, its numerator and denominator, its unit, and the
dimensions it can be split by. Pure data; :mod:`c360.kpis.compute` follows it to the letter.

Conventions that hold for every KPI:

- A period is ``[start, end)`` in ``C360_REPORTING_TIME_ZONE``: an order placed at 23:30 local
  time on the 31st belongs to that month, whatever its UTC date.
- Only records held by a profile count (a refund whose order has not arrived yet counts once it
  is linked), and a cancelled order counts for nothing, nor do its refunds — as in the profile's
  own metrics.
- A rate is a fraction (0.25 is 25 %), NPS is in points (-100 to 100), money in the currency's
  minor units (like every amount of the API), times in seconds.
- A zero denominator gives no value (``null``), never 0 or NaN.
- A segment (lifecycle stage, value tier, country) is the customer's as c360 shows it at the
  moment of asking — the segments audiences are built from.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class KpiId(enum.StrEnum):
    # Profitability
    REVENUE = "revenue"
    CUSTOMER_LIFETIME_VALUE = "customer_lifetime_value"
    AVERAGE_ORDER_VALUE = "average_order_value"
    ITEMS_PER_ORDER = "items_per_order"
    PRODUCTS_PER_CUSTOMER = "products_per_customer"
    CONVERSION_RATE = "conversion_rate"
    RETURN_RATE = "return_rate"
    RETURN_COUNT = "return_count"
    # Loyalty
    REPURCHASE_RATE = "repurchase_rate"
    RETENTION_RATE = "retention_rate"
    CHURN_RATE = "churn_rate"
    NEW_CUSTOMERS = "new_customers"
    RETURNING_CUSTOMERS = "returning_customers"
    ACTIVE_CUSTOMERS = "active_customers"
    # Satisfaction and service
    NPS = "nps"
    CSAT = "csat"
    CES = "ces"
    FIRST_CONTACT_RESOLUTION = "first_contact_resolution"
    FIRST_RESPONSE_TIME = "first_response_time"
    RESOLUTION_TIME = "resolution_time"
    COMPLAINT_RATE = "complaint_rate"
    # Closing the loop (the follow-ups of the voice of the customer: see c360/kpis/followups.py)
    SLA_COMPLIANCE = "sla_compliance"
    FEEDBACK_ACKNOWLEDGED = "feedback_acknowledged"
    HOLDOUT_CHURN_DIFFERENCE = "holdout_churn_difference"


class Family(enum.StrEnum):
    PROFITABILITY = "profitability"
    LOYALTY = "loyalty"
    SATISFACTION = "satisfaction"


class Unit(enum.StrEnum):
    MONEY = "money"  # minor units of `currency`
    RATE = "rate"  # a fraction, 0 … 1
    COUNT = "count"
    RATIO = "ratio"  # so many per order, per customer
    POINTS = "points"  # NPS, -100 to 100
    SCORE = "score"  # a mean answer on its scale
    SECONDS = "seconds"


class Dimension(enum.StrEnum):
    LIFECYCLE_STAGE = "lifecycle_stage"
    VALUE_TIER = "value_tier"
    COUNTRY = "country"
    ORDER_CHANNEL = "order_channel"
    STORE = "store"
    SERVICE_CHANNEL = "service_channel"
    SURVEY_TOUCHPOINT = "survey_touchpoint"
    TEAM = "team"
    ROOT_CAUSE = "root_cause"


PROFILE_DIMENSIONS = frozenset({Dimension.LIFECYCLE_STAGE, Dimension.VALUE_TIER, Dimension.COUNTRY})
"""The customer's own segments: every fact of a customer carries them."""
ORDER_DIMENSIONS = frozenset({Dimension.ORDER_CHANNEL, Dimension.STORE})
CASE_DIMENSIONS = frozenset({Dimension.SERVICE_CHANNEL})
SURVEY_DIMENSIONS = frozenset({Dimension.SURVEY_TOUCHPOINT})
FOLLOW_UP_DIMENSIONS = frozenset({Dimension.TEAM, Dimension.ROOT_CAUSE})
ACKNOWLEDGED_WITHIN_HOURS = 48


@dataclass(frozen=True)
class Definition:
    kpi: KpiId
    name: str
    family: Family
    unit: Unit
    definition: str
    numerator: str | None
    denominator: str | None
    dimensions: frozenset[Dimension]
    """What it can be split by; a grouping by anything else leaves it out of the answer."""

    @property
    def money(self) -> bool:
        return self.unit is Unit.MONEY


_ORDERS = PROFILE_DIMENSIONS | ORDER_DIMENSIONS
_CASES = PROFILE_DIMENSIONS | CASE_DIMENSIONS
_SURVEYS = PROFILE_DIMENSIONS | SURVEY_DIMENSIONS
_FOLLOW_UPS = PROFILE_DIMENSIONS | FOLLOW_UP_DIMENSIONS

DEFINITIONS: dict[KpiId, Definition] = {
    d.kpi: d
    for d in (
        Definition(
            KpiId.REVENUE,
            "Revenue",
            Family.PROFITABILITY,
            Unit.MONEY,
            "Net sales: the totals of the orders placed in the period, less the refunds issued "
            "in it; per currency, and in the reporting currency where rates are configured.",
            "order totals minus refunded amounts",
            None,
            _ORDERS,
        ),
        Definition(
            KpiId.CUSTOMER_LIFETIME_VALUE,
            "Average customer lifetime value",
            Family.PROFITABILITY,
            Unit.MONEY,
            "The mean lifetime value to date (every order less its refunds) of the customers "
            "who ordered in the period.",
            "their lifetime values",
            "customers who ordered in the period",
            _ORDERS,
        ),
        Definition(
            KpiId.AVERAGE_ORDER_VALUE,
            "Average order value",
            Family.PROFITABILITY,
            Unit.MONEY,
            "The mean total (basket) of the orders placed in the period, refunds not deducted.",
            "order totals",
            "orders",
            _ORDERS,
        ),
        Definition(
            KpiId.ITEMS_PER_ORDER,
            "Items per order",
            Family.PROFITABILITY,
            Unit.RATIO,
            "Units bought per order placed in the period.",
            "units on the orders' lines",
            "orders",
            _ORDERS,
        ),
        Definition(
            KpiId.PRODUCTS_PER_CUSTOMER,
            "Distinct products per customer",
            Family.PROFITABILITY,
            Unit.RATIO,
            "Distinct products (by title, else SKU) each customer bought in the period, "
            "averaged over the customers who ordered.",
            "distinct products of each customer, summed",
            "customers who ordered in the period",
            _ORDERS,
        ),
        Definition(
            KpiId.CONVERSION_RATE,
            "Conversion rate",
            Family.PROFITABILITY,
            Unit.RATE,
            "Identified visitors (people with a site or app event in the period, a Segment "
            "identify call included) who placed an order in the period, on any channel.",
            "identified visitors who ordered",
            "identified visitors",
            PROFILE_DIMENSIONS,
        ),
        Definition(
            KpiId.RETURN_RATE,
            "Return rate",
            Family.PROFITABILITY,
            Unit.RATE,
            "Refunds issued in the period (for orders of any period) against orders placed in "
            "it: by count (no currency), and by amount per currency (refunded / sold). A "
            "period of few orders and many refunds of earlier ones can exceed 1.",
            "refunds (or refunded amount)",
            "orders (or order totals)",
            _ORDERS,
        ),
        Definition(
            KpiId.RETURN_COUNT,
            "Returns",
            Family.PROFITABILITY,
            Unit.COUNT,
            "Refunds issued in the period (a refund that arrived several ways counts once).",
            "refunds",
            None,
            _ORDERS,
        ),
        Definition(
            KpiId.REPURCHASE_RATE,
            "Repurchase rate",
            Family.LOYALTY,
            Unit.RATE,
            "Customers who ordered in the period and had ordered before (an earlier order, in "
            "the period or before it) among the customers who ordered in the period.",
            "customers who ordered again",
            "customers who ordered in the period",
            _ORDERS,
        ),
        Definition(
            KpiId.RETENTION_RATE,
            "Retention rate",
            Family.LOYALTY,
            Unit.RATE,
            "Customers who ordered in the previous period and ordered again in this one.",
            "of them, customers who ordered in this period",
            "customers who ordered in the previous period",
            _ORDERS,
        ),
        Definition(
            KpiId.CHURN_RATE,
            "Churn rate",
            Family.LOYALTY,
            Unit.RATE,
            "People active at the start of the period who became churned during it by the "
            "lifecycle threshold (C360_LIFECYCLE_CHURNED_DAYS unseen on any channel fell in "
            "the period) and have not been seen since.",
            "people whose last activity so far falls that many days before the period",
            "people first seen before the period whose last activity so far is no more than "
            "that many days before it began (someone back after a longer absence counts: "
            "profiles keep when a person was first and last seen, not every gap)",
            frozenset(),
        ),
        Definition(
            KpiId.NEW_CUSTOMERS,
            "New customers",
            Family.LOYALTY,
            Unit.COUNT,
            "Customers whose first order ever was placed in the period.",
            "customers",
            None,
            _ORDERS,
        ),
        Definition(
            KpiId.RETURNING_CUSTOMERS,
            "Returning customers",
            Family.LOYALTY,
            Unit.COUNT,
            "Customers who ordered in the period and had a first order before it.",
            "customers",
            None,
            _ORDERS,
        ),
        Definition(
            KpiId.ACTIVE_CUSTOMERS,
            "Active customers",
            Family.LOYALTY,
            Unit.COUNT,
            "People seen in the period on any channel: an order (a cancelled one too), a "
            "return, a visit, a case or an answer (grouped by lifecycle stage or value tier: "
            "the distribution).",
            "people",
            None,
            PROFILE_DIMENSIONS,
        ),
        Definition(
            KpiId.NPS,
            "Net Promoter Score",
            Family.SATISFACTION,
            Unit.POINTS,
            "Per cent promoters minus per cent detractors among the NPS answers of the period "
            "(bands C360_NPS_PROMOTER_MIN and C360_NPS_DETRACTOR_MAX).",
            "promoters minus detractors",
            "answers",
            _SURVEYS,
        ),
        Definition(
            KpiId.CSAT,
            "Customer satisfaction (CSAT)",
            Family.SATISFACTION,
            Unit.RATE,
            "Satisfied answers among the answers of the period. Per source: a CSAT survey "
            "(1 to 5) is satisfied from C360_CSAT_SATISFIED_MIN (4 of 5 by default); a case "
            "rating (Zendesk's good/bad, on cases opened in the period) is good / (good + bad).",
            "satisfied answers",
            "answers",
            PROFILE_DIMENSIONS | SURVEY_DIMENSIONS | CASE_DIMENSIONS,
        ),
        Definition(
            KpiId.CES,
            "Customer effort score (CES)",
            Family.SATISFACTION,
            Unit.SCORE,
            "The mean CES answer (1 very difficult … 7 very easy) of the period; the share of "
            "high effort (answers up to C360_CES_HIGH_EFFORT_MAX) is its part.",
            "sum of the answers",
            "answers",
            _SURVEYS,
        ),
        Definition(
            KpiId.FIRST_CONTACT_RESOLUTION,
            "First-contact resolution",
            Family.SATISFACTION,
            Unit.RATE,
            "Solved cases, opened in the period, that took fewer than two agent replies. Only "
            "cases whose source says how many replies they took count (Zendesk's "
            "metric_set.replies, a `replies` column); without any it cannot be known.",
            "solved cases with at most one agent reply",
            "solved cases whose replies are known",
            _CASES,
        ),
        Definition(
            KpiId.FIRST_RESPONSE_TIME,
            "First response time",
            Family.SATISFACTION,
            Unit.SECONDS,
            "Median (and 90th percentile) time from opening to the first response of the cases "
            "opened in the period that have one (percentiles interpolated between ranks).",
            None,
            None,
            _CASES,
        ),
        Definition(
            KpiId.RESOLUTION_TIME,
            "Resolution time",
            Family.SATISFACTION,
            Unit.SECONDS,
            "Median (and 90th percentile) time from opening to solving of the cases opened in "
            "the period that are solved or closed.",
            None,
            None,
            _CASES,
        ),
        Definition(
            KpiId.COMPLAINT_RATE,
            "Complaint rate",
            Family.SATISFACTION,
            Unit.RATE,
            "Complaints (cases tagged or typed as one of C360_COMPLAINT_TAGS) among the cases "
            "opened in the period.",
            "complaints",
            "cases",
            _CASES,
        ),
        Definition(
            KpiId.SLA_COMPLIANCE,
            "Follow-up SLA compliance",
            Family.SATISFACTION,
            Unit.RATE,
            "Follow-ups opened in the period (not held out, withdrawn or merged away) whose "
            "every SLA target (first response, resolution) was met by its due time, among "
            "those whose targets are all decided: met, done late, or past due undone. "
            "Follow-ups still within their targets are not counted yet.",
            "follow-ups with every target met",
            "follow-ups with every target decided",
            _FOLLOW_UPS,
        ),
        Definition(
            KpiId.FEEDBACK_ACKNOWLEDGED,
            "Feedback acknowledged within 48 h",
            Family.SATISFACTION,
            Unit.RATE,
            "Feedback given in the period that needs an answer (a complaint; a survey answer "
            "with a comment, a request to be contacted, or a low score) acknowledged to the "
            "customer within 48 hours, among such feedback whose 48 hours have passed or that "
            "was acknowledged already. Feedback from a customer who accepts contact on no "
            "channel, acknowledged without contact, counts as acknowledged when that was "
            "within 48 hours.",
            "acknowledged within 48 h",
            "feedback needing an answer, 48 h on",
            PROFILE_DIMENSIONS,
        ),
        Definition(
            KpiId.HOLDOUT_CHURN_DIFFERENCE,
            "Churn: followed-up minus held-out",
            Family.LOYALTY,
            Unit.RATE,
            "Among customers with a follow-up opened in the period, the share now churned (by "
            "C360_LIFECYCLE_CHURNED_DAYS) of those followed up minus that of those held out "
            "(the holdout, recorded but not actioned), with its 95 % interval (Newcombe's, "
            "from Wilson's); the parts give each group's churn and repurchase (an order after "
            "the follow-up opened). Below zero: following up kept customers.",
            "churned followed-up share minus churned held-out share",
            None,
            _FOLLOW_UPS,
        ),
    )
}

PERCENTILE_KPIS = frozenset({KpiId.FIRST_RESPONSE_TIME, KpiId.RESOLUTION_TIME})


def applicable(kpi: KpiId, dimensions: frozenset[Dimension]) -> bool:
    """Whether ``kpi`` can be split by every one of ``dimensions``."""
    return dimensions <= DEFINITIONS[kpi].dimensions
