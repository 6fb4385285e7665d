"""Profile metrics as a person reads them, derived at read time from a profile's aggregate
(:mod:`c360.metrics.aggregate`): what depends on the moment of reading (cases in the last 90
days) or on the configuration (the reporting currency and its rates) is computed here, so it
never goes stale. Pure."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from babel.numbers import get_currency_precision

from c360.metrics.aggregate import Aggregate
from c360.metrics.ledger import MS_PER_DAY, epoch_ms


@dataclass(frozen=True)
class Amount:
    currency: str
    amount: int  # minor units


@dataclass(frozen=True)
class Metrics:
    lifetime_value: list[Amount]
    lifetime_value_reporting: Amount | None
    unconverted_currencies: list[str]
    order_count: int
    cancelled_order_count: int
    average_order_value: list[Amount]
    items_bought: int
    return_count: int
    return_rate: float | None
    first_order_at: dt.datetime | None
    last_order_at: dt.datetime | None
    online_share: float | None
    in_store_share: float | None
    top_categories: list[tuple[str, int]]
    top_products: list[tuple[str, int]]
    open_cases: int
    recent_cases: int
    recent_case_days: int
    average_first_response_seconds: float | None
    average_resolution_seconds: float | None
    complaints: int
    open_complaints: int
    average_csat: float | None
    last_nps: int | None
    last_nps_at: dt.datetime | None
    nps_trend: int | None  # last answer minus the one before
    site_visits: int
    last_visit_at: dt.datetime | None


def _at(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def net_value(agg: Aggregate) -> dict[str, int]:
    """Orders minus refunds, per currency; cancelled orders and their refunds count not."""
    refunded = agg.standing_refunds().amounts
    return {
        c: agg.spent[c] - refunded[c]
        for c in sorted(set(agg.spent) | set(refunded))
        if agg.spent[c] - refunded[c] or agg.spent[c]
    }


def convert(
    values: Mapping[str, int], reporting: str, rates: Mapping[str, Decimal]
) -> tuple[int, list[str]]:
    """Sum amounts in the reporting currency (minor units); returns the currencies with no
    rate, left out of the sum."""
    total, missing = Decimal(0), []
    for currency, minor in values.items():
        rate = Decimal(1) if currency == reporting else rates.get(currency)
        if rate is None:
            missing.append(currency)
            continue
        major = Decimal(minor).scaleb(-get_currency_precision(currency))
        total += major * rate
    scaled = total.scaleb(get_currency_precision(reporting))
    return int(scaled.to_integral_value()), missing


def _last_nps(agg: Aggregate) -> tuple[int, str, int] | None:
    """The latest NPS answer (when, record, score); the later record id breaks a tie."""
    return max(agg.nps) if agg.nps else None


def _open_complaints(agg: Aggregate) -> int:
    return sum(1 for _, complaint in agg.open_cases.values() if complaint)


@dataclass(frozen=True)
class Summary:
    """A profile's aggregate in brief: what places it in a lifecycle stage and a value tier
    (with its last-seen moment and the tiers' cutoffs), and its first and last order and net
    value — what reports read of each customer, stored beside the aggregate."""

    order_count: int = 0
    first_order_ms: int | None = None
    last_order_ms: int | None = None
    last_nps: int | None = None
    open_complaints: int = 0
    net_value: Mapping[str, int] = field(default_factory=dict)

    @property
    def last_order_at(self) -> dt.datetime | None:
        return _at(self.last_order_ms)

    @classmethod
    def of(cls, agg: Aggregate) -> Summary:
        last_nps = _last_nps(agg)
        return cls(
            order_count=agg.counts["orders"],
            first_order_ms=agg.first_ms.get("order"),
            last_order_ms=agg.last_ms.get("order"),
            last_nps=None if last_nps is None else last_nps[2],
            open_complaints=_open_complaints(agg),
            net_value=net_value(agg),
        )


def metrics(
    agg: Aggregate,
    now: dt.datetime,
    *,
    reporting_currency: str,
    rates: Mapping[str, Decimal],
    recent_days: int = 90,
    top: int = 5,
) -> Metrics:
    counts = agg.counts
    orders = counts["orders"]
    returns = agg.standing_refunds().returns
    net = net_value(agg)
    reported, missing = convert(net, reporting_currency, rates)
    since = epoch_ms(now) - recent_days * MS_PER_DAY
    csat_answers = counts["csat_answers"]
    nps = sorted(agg.nps, reverse=True)
    last_nps = _last_nps(agg)
    return Metrics(
        lifetime_value=[Amount(c, v) for c, v in net.items()],
        # None when no currency of it could be converted: 0 would read as nothing spent.
        lifetime_value_reporting=(
            Amount(reporting_currency, reported) if set(net) - set(missing) else None
        ),
        unconverted_currencies=missing,
        order_count=orders,
        cancelled_order_count=len(agg.cancelled),
        average_order_value=[
            Amount(c, round(agg.spent[c] / n)) for c, n in sorted(agg.orders_by_currency.items())
        ],
        items_bought=counts["items"],
        return_count=returns,
        return_rate=_ratio(returns, orders),
        first_order_at=_at(agg.first_ms.get("order")),
        last_order_at=_at(agg.last_ms.get("order")),
        online_share=_ratio(counts["orders_online"], orders),
        in_store_share=_ratio(counts["orders_in_store"], orders),
        top_categories=_top(agg.categories, top),
        top_products=_top(agg.products, top),
        open_cases=len(agg.open_cases),
        recent_cases=sum(1 for opened in agg.cases_opened_ms if opened >= since),
        recent_case_days=recent_days,
        average_first_response_seconds=_mean_seconds(counts, "first_response"),
        average_resolution_seconds=_mean_seconds(counts, "resolution"),
        complaints=counts["complaints"],
        open_complaints=_open_complaints(agg),
        average_csat=counts["csat_score_sum"] / csat_answers if csat_answers else None,
        last_nps=last_nps[2] if last_nps else None,
        last_nps_at=_at(last_nps[0]) if last_nps else None,
        nps_trend=nps[0][2] - nps[1][2] if len(nps) > 1 else None,
        site_visits=len(agg.visit_days),
        last_visit_at=_at(agg.last_ms.get("visit")),
    )


def _top(counter: Counter[str], n: int) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:n]


def _mean_seconds(counts: Counter[str], name: str) -> float | None:
    answers = counts[f"{name}s"]
    return counts[f"{name}_ms_sum"] / answers / 1000 if answers else None
