"""KPIs by period and segment: reads what a query needs, asks who the customers are, computes.

A query reads the ledgers of the people active in its span (and in the spans it is compared
with): each customer's counted records as facts, folded at ingest with their aggregate and kept
equal to a recomputation with it (:mod:`c360.metrics.ledger`), with a summary of that aggregate
— what places them in a lifecycle stage and a value tier now, their first order and lifetime
value. It keeps the facts of the kinds its KPIs use, reads when a customer was last seen only
where their stage turns on it, and computes.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from c360.errors import InvalidInput
from c360.kpis.compute import Asked, Facts, Filter, KpiConfig, Row, Span, Window, compute
from c360.kpis.definitions import DEFINITIONS, Dimension, KpiId, applicable
from c360.kpis.facts import (
    CaseFact,
    Customer,
    Fact,
    OrderFact,
    SurveyFact,
    VisitFact,
    case_fact,
    order_fact,
    return_fact,
    survey_fact,
)
from c360.kpis.followups import follow_up_fact, needs_answer
from c360.kpis.periods import Interval, Period, earlier, periods
from c360.kpis.repository import KpiRepository
from c360.metrics.figures import Summary, convert
from c360.metrics.ledger import MS_PER_DAY, Ledger, ReturnEntry, epoch_ms
from c360.profiles.lifecycle import Thresholds, lifecycle, value_tier
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
    thresholds: Thresholds
    """The lifecycle stages' (the profile 360's own)."""
    tier_percentiles: tuple[float, ...]
    figures: KpiConfig

    @property
    def churned_days(self) -> int:
        return self.thresholds.churned_days

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
        span = min(w[0] for w in windows), max(w[1] for w in windows)
        summaries: dict[str, _Known] = {}
        if kinds:
            await self._read(facts, summaries, kinds, *span)
        if KpiId.CHURN_RATE in kpis:
            churned_ms = self.settings.churned_days * 86_400_000
            facts.churn = {
                window: await self._repository.churn(*window, churned_ms)
                for window in dict.fromkeys(windows)
            }
        if FOLLOW_UP_KPIS.intersection(kpis):
            read = self._repository.follow_ups(*span)
            found = [follow_up_fact(stored, facts.now_ms) async for stored in read]
            facts.follow_ups = sorted((u for u in found if u is not None), key=_at)
        if KpiId.FEEDBACK_ACKNOWLEDGED in kpis:
            low = self.settings.figures.feedback_low_scores
            feedback: Iterable[SurveyFact | CaseFact] = chain(facts.surveys, facts.cases)
            facts.acknowledged = await self._repository.acknowledged(
                f.record_id for f in feedback if needs_answer(f, low)
            )
        named = frozenset(query.group_by) | frozenset(chosen)
        holdout = KpiId.HOLDOUT_CHURN_DIFFERENCE in kpis
        history = bool(
            FIRST_ORDER_KPIS.intersection(kpis) or KpiId.CUSTOMER_LIFETIME_VALUE in kpis or holdout
        )
        stage = Dimension.LIFECYCLE_STAGE in named or holdout
        tier = Dimension.VALUE_TIER in named
        if stage or tier or history or Dimension.COUNTRY in named:
            facts.customers = await self._customers(
                _profile_ids(facts),
                summaries,
                stage=stage,
                tier=tier,
                country=Dimension.COUNTRY in named,
                now=now,
            )
        return facts

    async def _read(
        self,
        facts: Facts,
        summaries: dict[str, _Known],
        kinds: frozenset[str],
        start_ms: int,
        end_ms: int,
    ) -> None:
        """The facts of ``kinds`` in ``[start, end)`` from the ledgers of the people active in
        it, and what those ledgers say of each of them (``summaries``)."""
        orders: list[OrderFact] = []
        refunds: list[tuple[str, ReturnEntry, OrderFact | None]] = []
        cases: list[CaseFact] = []
        surveys: list[SurveyFact] = []
        visits: list[VisitFact] = []
        first_day, last_day = start_ms // MS_PER_DAY, (end_ms - 1) // MS_PER_DAY
        async for stored in self._profiles.metrics.ledgers_on(first_day, last_day):
            who, ledger = stored.profile_id, stored.ledger
            summaries[who] = _Known(stored.summary, _last_entry(ledger))
            if ORDERS in kinds:
                orders += (order_fact(who, e) for e in _within(ledger.orders, start_ms, end_ms))
            if RETURNS in kinds:
                found = _within(ledger.returns, start_ms, end_ms)
                if found:
                    # The refunded order is almost always the customer's own; else read below.
                    own = {e[1]: e for e in ledger.orders}
                    for e in found:
                        order = own.get(e[3])
                        refunds.append((who, e, None if order is None else order_fact(who, order)))
            if CASES in kinds:
                cases += (case_fact(who, e) for e in _within(ledger.cases, start_ms, end_ms))
            if SURVEYS in kinds:
                surveys += (survey_fact(who, e) for e in _within(ledger.surveys, start_ms, end_ms))
            if VISITS in kinds:
                low = bisect.bisect_left(ledger.visits, start_ms)
                high = bisect.bisect_left(ledger.visits, end_ms)
                visits += (VisitFact(who, at) for at in ledger.visits[low:high])
        elsewhere = await self._repository.orders(e[3] for _, e, o in refunds if o is None)
        facts.orders = sorted(orders, key=_at)
        facts.returns = sorted(
            (return_fact(who, e, order or elsewhere.get(e[3])) for who, e, order in refunds),
            key=_at,
        )
        facts.cases = sorted(cases, key=_at)
        facts.surveys = sorted(surveys, key=_at)
        facts.visits = sorted(visits, key=_at)

    async def _customers(
        self,
        profile_ids: Sequence[str],
        known: dict[str, _Known],
        *,
        stage: bool,
        tier: bool,
        country: bool,
        now: dt.datetime,
    ) -> dict[str, Customer]:
        """Who the customers behind the facts are, as far as the query needs to know: from
        their ledgers' summaries (read by id for those the span's ledgers did not bring: the
        follow-ups' customers), their last-seen moment where the stage depends on it, and
        their country from their traits."""
        missing = [p for p in profile_ids if p not in known]
        for stored in await self._profiles.metrics.ledgers(missing):
            known[stored.profile_id] = _Known(stored.summary, _last_entry(stored.ledger))
        settings = self.settings
        figures = settings.figures
        churned_days = settings.churned_days
        # The last-seen moment decides only "churned", which a customer with an entry within
        # the churn threshold cannot be (activity is never earlier than its last entry).
        doubtful = {
            p
            for p in profile_ids
            if p not in known
            or (stage and (now - _instant(known[p].last_entry_ms)).days >= churned_days)
        }
        seen = await self._repository.last_seen(doubtful)
        # Segments as of now: the tiers' cutoffs read once for the query, not the cached ones.
        cutoffs = await self._profiles.metrics.cutoffs(fresh=True) if tier else None
        found: dict[str, Customer] = {}
        for start in range(0, len(profile_ids), _CHUNK):
            chunk = list(profile_ids[start : start + _CHUNK])
            traits = await self._profiles.traits(chunk) if country else [None] * len(chunk)
            for profile_id, trait in zip(chunk, traits, strict=True):
                last_seen: dt.datetime | None = None
                if profile_id in seen:
                    at = seen[profile_id]
                    last_seen = None if at is None else _instant(at)
                elif profile_id in doubtful:
                    continue  # absorbed into another profile: no segments of its own
                else:
                    # Not churned whatever the exact moment: the latest entry says as much.
                    last_seen = _instant(known[profile_id].last_entry_ms)
                # Live, with no counted record: the summary of nothing.
                summary = known[profile_id].summary if profile_id in known else Summary()
                net = summary.net_value
                ltv = convert(net, figures.reporting_currency, figures.rates)[0] if net else None
                found[profile_id] = Customer(
                    profile_id=profile_id,
                    stage=(
                        lifecycle(summary, last_seen, now, settings.thresholds).stage.value
                        if stage
                        else None
                    ),
                    tier=(
                        value_tier(
                            ltv,
                            cutoffs or [],
                            settings.tier_percentiles,
                            figures.reporting_currency,
                        ).tier.value
                        if tier
                        else None
                    ),
                    country=trait.value("country") if trait is not None else None,
                    first_order_ms=summary.first_order_ms,
                    lifetime_value=net,
                    last_order_ms=summary.last_order_ms,
                )
        return found


@dataclass(frozen=True, slots=True)
class _Known:
    """What a customer's ledger says of them: the summary of their aggregate, and the moment
    of their latest entry (a lower bound of when they were last seen)."""

    summary: Summary
    last_entry_ms: int


E = TypeVar("E", bound=tuple[Any, ...])


def _within(entries: Sequence[E], start_ms: int, end_ms: int) -> Sequence[E]:
    """Entries (sorted by time, their first element) in ``[start, end)``."""
    low = bisect.bisect_left(entries, start_ms, key=itemgetter(0))
    high = bisect.bisect_left(entries, end_ms, key=itemgetter(0))
    return entries[low:high]


def _last_entry(ledger: Ledger) -> int:
    """The moment of the ledger's latest entry (the epoch for an empty one)."""
    latest = [e[-1][0] for e in (ledger.orders, ledger.returns, ledger.cases, ledger.surveys) if e]
    return max([*latest, *ledger.visits[-1:]], default=0)


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
        raise InvalidInput(f"unknown KPIs: {', '.join(k.value for k in unknown)}")
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
