"""Lifecycle stage, value tier and churn risk: rules over the metrics, each with its reason.

Every outcome carries the rule that produced it in words, so an agent or a marketer can see why
a customer is "at risk" and a reviewer can check the rule against the settings.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from c360.metrics.figures import Metrics


class LifecycleStage(enum.StrEnum):
    PROSPECT = "prospect"
    FIRST_TIME = "first_time"
    REPEAT = "repeat"
    LOYAL = "loyal"
    ADVOCATE = "advocate"
    AT_RISK = "at_risk"
    CHURNED = "churned"


class ValueTier(enum.StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    TOP = "top"


@dataclass(frozen=True)
class Thresholds:
    """The settings' ``lifecycle_*`` and NPS bands (their defaults are there)."""

    loyal_orders: int
    at_risk_days: int  # since the last order
    churned_days: int  # since last seen on any channel
    promoter_min: int
    detractor_max: int


@dataclass(frozen=True)
class Stage:
    stage: LifecycleStage
    reason: str


class StageFacts(Protocol):
    """What the stage rules read of a profile's figures: its metrics, or their summary."""

    @property
    def order_count(self) -> int: ...

    @property
    def last_order_at(self) -> dt.datetime | None: ...

    @property
    def last_nps(self) -> int | None: ...

    @property
    def open_complaints(self) -> int: ...


def lifecycle(
    m: StageFacts, last_seen: dt.datetime | None, now: dt.datetime, t: Thresholds
) -> Stage:
    """First matching rule wins: churned, at risk, advocate, loyal, repeat, first-time, prospect."""
    if last_seen is not None and (now - last_seen).days >= t.churned_days:
        return Stage(
            LifecycleStage.CHURNED,
            f"not seen on any channel for {(now - last_seen).days} days "
            f"(churned after {t.churned_days})",
        )
    if m.order_count:
        risk = _at_risk(m, now, t)
        if risk:
            return Stage(LifecycleStage.AT_RISK, risk)
    if m.order_count >= t.loyal_orders:
        if m.last_nps is not None and m.last_nps >= t.promoter_min:
            return Stage(
                LifecycleStage.ADVOCATE,
                f"{m.order_count} orders (loyal from {t.loyal_orders}) and a promoter "
                f"(last NPS {m.last_nps} ≥ {t.promoter_min})",
            )
        return Stage(LifecycleStage.LOYAL, f"{m.order_count} orders (loyal from {t.loyal_orders})")
    if m.order_count >= 2:
        return Stage(LifecycleStage.REPEAT, f"{m.order_count} orders")
    if m.order_count == 1:
        return Stage(LifecycleStage.FIRST_TIME, "one order")
    return Stage(LifecycleStage.PROSPECT, "seen, never bought")


def _at_risk(m: StageFacts, now: dt.datetime, t: Thresholds) -> str | None:
    if m.last_order_at is not None and (now - m.last_order_at).days >= t.at_risk_days:
        days = (now - m.last_order_at).days
        return f"no order for {days} days (at risk after {t.at_risk_days})"
    if m.last_nps is not None and m.last_nps <= t.detractor_max:
        return f"a detractor: last NPS {m.last_nps} ≤ {t.detractor_max}"
    if m.open_complaints:
        return f"{m.open_complaints} open complaint{'s' if m.open_complaints > 1 else ''}"
    return None


@dataclass(frozen=True)
class Tier:
    tier: ValueTier
    reason: str


TIER_ORDER = (ValueTier.LOW, ValueTier.MEDIUM, ValueTier.HIGH, ValueTier.TOP)


def value_tier(
    ltv: int | None,
    cutoffs: Sequence[int],
    percentiles: Sequence[float],
    currency: str,
    unconverted: Sequence[str] = (),
) -> Tier:
    """``cutoffs``: the reporting-currency LTV at each of ``percentiles`` among buyers;
    ``unconverted``: the currencies of the customer's purchases that have no rate to it (a value
    c360 cannot rank, which is no "no purchases")."""
    if ltv is None and unconverted:
        rates = ", ".join(unconverted)
        return Tier(ValueTier.NONE, f"no lifetime value in {currency}: no rate for {rates}")
    if ltv is None or ltv <= 0:
        return Tier(ValueTier.NONE, "no net purchases")
    rank = bisect.bisect_right(list(cutoffs), ltv)
    tier = TIER_ORDER[min(rank, len(TIER_ORDER) - 1)]
    if rank == 0:
        return Tier(tier, f"lifetime value below the {percentiles[0]:.0%} percentile of buyers")
    return Tier(
        tier,
        f"lifetime value {ltv / 100:.2f} {currency} at or above the "
        f"{percentiles[rank - 1]:.0%} percentile of buyers ({cutoffs[rank - 1] / 100:.2f})",
    )


@dataclass(frozen=True)
class ChurnRisk:
    score: float  # 0 (no sign) … 1 (every sign)
    reasons: list[str]


# Weights of the signals: recency dominates, as in RFM; service signals add to it.
_WEIGHTS = {
    "recency": 0.4,
    "frequency": 0.15,
    "detractor": 0.2,
    "complaint": 0.15,
    "open_cases": 0.1,
}


def churn_risk(
    m: Metrics, last_seen: dt.datetime | None, now: dt.datetime, t: Thresholds
) -> ChurnRisk:
    """A weighted sum of recency, frequency and service signals, each named when it counts."""
    score, reasons = 0.0, []
    reference = m.last_order_at or last_seen
    if reference is not None:
        days = (now - reference).days
        part = min(days / t.churned_days, 1.0)
        if part >= 0.25:
            what = "last order" if m.last_order_at else "last seen"
            reasons.append(f"{days} days since {what}")
        score += _WEIGHTS["recency"] * part
    if m.order_count <= 1:
        score += _WEIGHTS["frequency"]
        reasons.append("one order or none")
    if m.last_nps is not None and m.last_nps <= t.detractor_max:
        score += _WEIGHTS["detractor"]
        reasons.append(f"detractor (last NPS {m.last_nps})")
    elif m.nps_trend is not None and m.nps_trend < 0:
        score += _WEIGHTS["detractor"] / 2
        reasons.append(f"NPS falling by {-m.nps_trend}")
    if m.open_complaints:
        score += _WEIGHTS["complaint"]
        reasons.append("an open complaint")
    elif m.complaints:
        score += _WEIGHTS["complaint"] / 2
        reasons.append(f"{m.complaints} past complaint{'s' if m.complaints > 1 else ''}")
    if m.open_cases:
        score += _WEIGHTS["open_cases"]
        reasons.append(f"{m.open_cases} open case{'s' if m.open_cases > 1 else ''}")
    return ChurnRisk(round(min(score, 1.0), 3), reasons)
