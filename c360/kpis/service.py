"""KPIs by period and segment: reads what a query needs, asks who the customers are, computes.

A query reads the records of its span (and of the spans it is compared with), kind by kind and
only the kinds its KPIs use; then, when it needs them, the aggregates of the customers behind
those records (their segments as their profiles show them now, their first order and lifetime
value) — the same aggregates the profile 360 reads, kept equal to a recomputation at ingest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from zoneinfo import ZoneInfo

from c360.errors import InvalidInput
from c360.kpis.compute import Asked, Facts, Filter, KpiConfig, Row, Span, Window, compute
from c360.kpis.definitions import (
    DEFINITIONS,
    PROFILE_DIMENSIONS,
    Dimension,
    KpiId,
    applicable,
)
from c360.kpis.facts import (
    CaseFact,
    Customer,
    Fact,
    OrderFact,
    SurveyFact,
    case_fact,
    epoch_ms,
    order_fact,
    order_record_id,
    return_fact,
    survey_fact,
    visit_fact,
)
from c360.kpis.followups import follow_up_fact, needs_answer
from c360.kpis.periods import Interval, Period, earlier, periods
from c360.kpis.repository import KpiRepository
from c360.metrics.figures import net_value
from c360.profiles.service import ProfileService

MAX_DIMENSIONS = 3
_CHUNK = 1000

ORDERS = "order"
RETURNS = "return"
CASES = "service_case"
SURVEYS = "survey_response"
VISITS = "site_event"
KINDS: dict[KpiId, frozenset[str]] = {
    KpiId.REVENUE: frozenset({ORDERS, RETURNS}),
    KpiId.CUSTOMER_LIFETIME_VALUE: frozenset({ORDERS}),
    KpiId.AVERAGE_ORDER_VALUE: frozenset({ORDERS}),
    KpiId.ITEMS_PER_ORDER: frozenset({ORDERS}),
    KpiId.PRODUCTS_PER_CUSTOMER: frozenset({ORDERS}),
    KpiId.CONVERSION_RATE: frozenset({ORDERS, VISITS}),
    KpiId.RETURN_RATE: frozenset({ORDERS, RETURNS}),
    KpiId.RETURN_COUNT: frozenset({RETURNS}),
    KpiId.REPURCHASE_RATE: frozenset({ORDERS}),
    KpiId.RETENTION_RATE: frozenset({ORDERS}),
    KpiId.CHURN_RATE: frozenset(),
    KpiId.NEW_CUSTOMERS: frozenset({ORDERS}),
    KpiId.RETURNING_CUSTOMERS: frozenset({ORDERS}),
    KpiId.ACTIVE_CUSTOMERS: frozenset({ORDERS, RETURNS, CASES, SURVEYS, VISITS}),
    KpiId.NPS: frozenset({SURVEYS}),
    KpiId.CSAT: frozenset({SURVEYS, CASES}),
    KpiId.CES: frozenset({SURVEYS}),
    KpiId.FIRST_CONTACT_RESOLUTION: frozenset({CASES}),
    KpiId.FIRST_RESPONSE_TIME: frozenset({CASES}),
    KpiId.RESOLUTION_TIME: frozenset({CASES}),
    KpiId.COMPLAINT_RATE: frozenset({CASES}),
    KpiId.SLA_COMPLIANCE: frozenset(),
    KpiId.FEEDBACK_ACKNOWLEDGED: frozenset({SURVEYS, CASES}),
    KpiId.HOLDOUT_CHURN_DIFFERENCE: frozenset(),
}
FOLLOW_UP_KPIS = frozenset({KpiId.SLA_COMPLIANCE, KpiId.HOLDOUT_CHURN_DIFFERENCE})
FIRST_ORDER_KPIS = frozenset(
    {KpiId.REPURCHASE_RATE, KpiId.NEW_CUSTOMERS, KpiId.RETURNING_CUSTOMERS}
)


@dataclass(frozen=True)
class KpiSettings:
    """All from the settings (``services.kpi_settings``)."""

    time_zone: str
    max_periods: int
    churned_days: int
    figures: KpiConfig

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class KpiQuery:
    start: dt.datetime
    end: dt.datetime
    interval: Interval | None = None
    compare: bool = False
    group_by: tuple[Dimension, ...] = ()
    filter: Mapping[Dimension, frozenset[str]] = field(default_factory=dict)
    kpis: tuple[KpiId, ...] = ()
    """Which KPIs; none named: all of them."""


@dataclass(frozen=True)
class KpiAnswer:
    rows: list[Row]
    periods: list[Period]
    time_zone: str
    group_by: tuple[Dimension, ...]
    left_out: list[KpiId]
    """KPIs asked for that cannot be split by the dimensions (or filtered by the filter's)."""
    min_group_size: int


class KpiService:
    def __init__(
        self, repository: KpiRepository, profiles: ProfileService, settings: KpiSettings
    ) -> None:
        self._repository = repository
        self._profiles = profiles
        self.settings = settings

    async def kpis(self, query: KpiQuery, now: dt.datetime | None = None) -> KpiAnswer:
        now = now or dt.datetime.now(dt.UTC)
        chosen = _checked(query)
        settings = self.settings
        found = periods(
            query.start,
            query.end,
            query.interval,
            settings.zone,
            max_periods=settings.max_periods,
        )
        asked = [self._asked(p, query) for p in found]
        wanted = list(query.kpis or tuple(KpiId))
        named = frozenset(query.group_by) | frozenset(chosen)
        kpis = [k for k in dict.fromkeys(wanted) if applicable(k, named)]
        facts = await self._facts(kpis, asked, query, chosen, now)
        rows = compute(kpis, query.group_by, chosen, asked, facts, settings.figures)
        return KpiAnswer(
            rows=rows,
            periods=found,
            time_zone=settings.time_zone,
            group_by=query.group_by,
            left_out=[k for k in dict.fromkeys(wanted) if k not in kpis],
            min_group_size=settings.figures.min_group_size,
        )

    def _asked(self, period: Period, query: KpiQuery) -> Asked:
        zone = self.settings.zone

        def span(start: dt.datetime, end: dt.datetime) -> Span:
            before = earlier(start, end, query.interval, zone)
            return Span(_window(start, end), _window(*before))

        current = span(period.start, period.end)
        previous = span(*period.previous) if query.compare else None
        return Asked(period, current, previous)

    async def _facts(
        self,
        kpis: Sequence[KpiId],
        asked: Sequence[Asked],
        query: KpiQuery,
        chosen: Filter,
        now: dt.datetime,
    ) -> Facts:
        spans = [a.current for a in asked] + [a.previous for a in asked if a.previous]
        windows = [s.window for s in spans]
        if KpiId.RETENTION_RATE in kpis:
            windows += [s.before for s in spans]
        kinds = frozenset().union(*(KINDS[k] for k in kpis))
        facts = Facts(now_ms=epoch_ms(now))
        if kinds:
            start = _instant(min(w[0] for w in windows))
            end = _instant(max(w[1] for w in windows))
            await self._read(facts, kinds, start, end)
        if KpiId.CHURN_RATE in kpis:
            churned_ms = self.settings.churned_days * 86_400_000
            facts.churn = {
                window: await self._repository.churn(*window, churned_ms)
                for window in dict.fromkeys(windows)
            }
        if FOLLOW_UP_KPIS.intersection(kpis):
            start_ms, end_ms = min(w[0] for w in windows), max(w[1] for w in windows)
            read = self._repository.follow_ups(start_ms, end_ms)
            found = [follow_up_fact(doc, facts.now_ms) async for doc in read]
            facts.follow_ups = sorted((u for u in found if u is not None), key=_at)
        if KpiId.FEEDBACK_ACKNOWLEDGED in kpis:
            low = self.settings.figures.feedback_low_scores
            feedback: Iterable[SurveyFact | CaseFact] = chain(facts.surveys, facts.cases)
            facts.acknowledged = await self._repository.acknowledged(
                f.record_id for f in feedback if needs_answer(f, low)
            )
        named = frozenset(query.group_by) | frozenset(chosen)
        facts.customers = await self._customers(
            _profile_ids(facts),
            segments=bool(named & PROFILE_DIMENSIONS) or KpiId.HOLDOUT_CHURN_DIFFERENCE in kpis,
            country=Dimension.COUNTRY in named,
            history=bool(
                FIRST_ORDER_KPIS.intersection(kpis)
                or KpiId.CUSTOMER_LIFETIME_VALUE in kpis
                or KpiId.HOLDOUT_CHURN_DIFFERENCE in kpis
            ),
            now=now,
        )
        return facts

    async def _read(
        self, facts: Facts, kinds: frozenset[str], start: dt.datetime, end: dt.datetime
    ) -> None:
        read = self._repository.records
        if ORDERS in kinds:
            facts.orders = sorted([order_fact(d) async for d in read(ORDERS, start, end)], key=_at)
        if RETURNS in kinds:
            refunds = [d async for d in read(RETURNS, start, end)]
            stored = await self._repository.orders(order_record_id(d) for d in refunds)
            orders: dict[str, OrderFact] = {rid: order_fact(doc) for rid, doc in stored.items()}
            facts.returns = sorted(
                (return_fact(d, orders.get(order_record_id(d))) for d in refunds), key=_at
            )
        if CASES in kinds:
            facts.cases = sorted([case_fact(d) async for d in read(CASES, start, end)], key=_at)
        if SURVEYS in kinds:
            facts.surveys = sorted(
                [survey_fact(d) async for d in read(SURVEYS, start, end)], key=_at
            )
        if VISITS in kinds:
            facts.visits = sorted(
                [visit_fact(d) async for d in read(VISITS, start, end, payload=False)], key=_at
            )

    async def _customers(
        self,
        profile_ids: Sequence[str],
        *,
        segments: bool,
        country: bool,
        history: bool,
        now: dt.datetime,
    ) -> dict[str, Customer]:
        """Who the customers behind the facts are, as far as the query needs to know."""
        if not (segments or history):
            return {}
        metrics = self._profiles.metrics
        # Segments as of now: the tiers' cutoffs read once for the query, not the cached ones.
        cutoffs = await metrics.cutoffs(fresh=True) if segments else None
        found: dict[str, Customer] = {}
        for start in range(0, len(profile_ids), _CHUNK):
            chunk = list(profile_ids[start : start + _CHUNK])
            aggregates = await metrics.aggregates(chunk)
            profiles = await self._profiles.get_many(chunk) if segments else [None] * len(chunk)
            traits = await self._profiles.traits(chunk) if country else [None] * len(chunk)
            for profile_id, agg, profile, trait in zip(
                chunk, aggregates, profiles, traits, strict=True
            ):
                stage = tier = None
                if segments:
                    last_seen = profile.last_seen_at if profile is not None else None
                    view = await metrics.view(agg, last_seen, now, cutoffs)
                    stage, tier = view.stage.stage.value, view.tier.tier.value
                found[profile_id] = Customer(
                    profile_id=profile_id,
                    stage=stage,
                    tier=tier,
                    country=trait.value("country") if trait is not None else None,
                    first_order_ms=agg.first_ms.get("order"),
                    lifetime_value=net_value(agg),
                    last_order_ms=agg.last_ms.get("order"),
                )
        return found


def _checked(query: KpiQuery) -> Filter:
    if len(set(query.group_by)) != len(query.group_by):
        raise InvalidInput("a dimension appears twice in groupBy")
    if len(query.group_by) > MAX_DIMENSIONS:
        raise InvalidInput(f"group by at most {MAX_DIMENSIONS} dimensions")
    chosen: dict[Dimension, frozenset[str]] = {}
    for dimension, values in query.filter.items():
        if not values:
            raise InvalidInput(f"the filter on {dimension.value} names no value")
        chosen[dimension] = frozenset(
            v.upper() if dimension is Dimension.COUNTRY else v for v in values
        )
    unknown = [k for k in query.kpis if k not in DEFINITIONS]
    if unknown:  # pragma: no cover - the enum is the list
        raise InvalidInput(f"unknown KPIs: {unknown}")
    return chosen


def _window(start: dt.datetime, end: dt.datetime) -> Window:
    return epoch_ms(start), epoch_ms(end)


def _instant(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


_at = attrgetter("at")


def _profile_ids(facts: Facts) -> list[str]:
    """Everyone behind the facts, each once."""
    every: Iterable[Fact] = chain(
        facts.orders, facts.returns, facts.cases, facts.surveys, facts.visits, facts.follow_ups
    )
    return list(dict.fromkeys(fact.profile_id for fact in every))
