"""KPI figures from facts: pure, and the one place each definition is turned into arithmetic.

:func:`compute` takes the facts of a span (sorted by time), the customers they belong to and the
periods asked for, and answers a row per KPI, group, currency and period, with the figure of the
period and of the one before it. A figure keeps its numerator, denominator and sample size, so
a reader can check the value; a zero denominator gives no value, with a note saying why.
"""

# Over 500 lines, kept whole: the one place each KPI's definition becomes arithmetic, every
# figure a method of one engine over the same facts grouped once; split, a definition's
# numerator and denominator would sit apart from the grouping and the empty figure they share.

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from c360.kpis.definitions import (
    ACKNOWLEDGED_WITHIN_HOURS,
    CASE_DIMENSIONS,
    DEFINITIONS,
    FOLLOW_UP_DIMENSIONS,
    ORDER_DIMENSIONS,
    PERCENTILE_KPIS,
    SURVEY_DIMENSIONS,
    Dimension,
    KpiId,
    Unit,
    applicable,
)
from c360.kpis.facts import (
    CaseFact,
    Customer,
    FollowUpFact,
    OrderFact,
    ReturnFact,
    SurveyFact,
    VisitFact,
)
from c360.kpis.followups import difference_interval, needs_answer
from c360.kpis.periods import Period
from c360.metrics.figures import convert

GroupKey = tuple[str | None, ...]
Key = tuple[GroupKey, str | None, bool]  # group, currency, in the reporting currency
Window = tuple[int, int]  # [start, end) in epoch milliseconds


@dataclass(frozen=True)
class KpiConfig:
    """What the figures follow, all from the settings (``services.kpi_settings``)."""

    promoter_min: int
    detractor_max: int
    csat_satisfied_min: int
    ces_high_effort_max: int
    reporting_currency: str
    rates: Mapping[str, Decimal]
    min_group_size: int
    feedback_low_scores: Mapping[str, int]


@dataclass(frozen=True)
class Part:
    """A count within a figure: NPS promoters, CSAT per source, CES high effort."""

    name: str
    count: int
    total: int


@dataclass(frozen=True)
class Figure:
    value: float | None
    numerator: float | None
    denominator: float | None
    sample_size: int
    people: int
    """Distinct people behind the figure: a group of fewer is suppressed."""
    p90: float | None = None
    low: float | None = None
    high: float | None = None
    """A 95 % interval of the value (the holdout's difference)."""
    parts: tuple[Part, ...] = ()
    note: str | None = None
    suppressed: bool = False


@dataclass(frozen=True)
class Span:
    """A period, or the one before it, with the span before it (what retention looks back to)."""

    window: Window
    before: Window


@dataclass(frozen=True)
class Asked:
    """One period of the answer and what it is compared with."""

    period: Period
    current: Span
    previous: Span | None


@dataclass(frozen=True)
class Row:
    kpi: KpiId
    group: GroupKey
    currency: str | None
    converted: bool
    period: Period
    current: Figure
    previous: Figure | None


class _Timed(Protocol):
    @property
    def at(self) -> int: ...

    @property
    def profile_id(self) -> str: ...


T = TypeVar("T", bound=_Timed)


@dataclass
class Facts:
    """Everything read for a query, each list sorted by time."""

    orders: list[OrderFact] = field(default_factory=list)
    returns: list[ReturnFact] = field(default_factory=list)
    cases: list[CaseFact] = field(default_factory=list)
    surveys: list[SurveyFact] = field(default_factory=list)
    visits: list[VisitFact] = field(default_factory=list)
    customers: Mapping[str, Customer] = field(default_factory=dict)
    churn: Mapping[Window, tuple[int, int]] = field(default_factory=dict)
    """Per window: people churned in it, people active at its start."""
    follow_ups: list[FollowUpFact] = field(default_factory=list)
    acknowledged: Mapping[str, int] = field(default_factory=dict)
    """Feedback's record id → when it was acknowledged (epoch ms)."""
    now_ms: int = 0


Filter = Mapping[Dimension, frozenset[str]]


def compute(
    kpis: Sequence[KpiId],
    dimensions: Sequence[Dimension],
    chosen: Filter,
    asked: Sequence[Asked],
    facts: Facts,
    config: KpiConfig,
) -> list[Row]:
    """A row per KPI, group, currency and period (KPIs that cannot be split by the dimensions
    or filtered by the filter's are left out)."""
    engine = _Engine(tuple(dimensions), chosen, facts, config)
    named = frozenset(dimensions) | frozenset(chosen)
    spans = [a.current for a in asked] + [a.previous for a in asked if a.previous]
    figures = {
        kpi: {span: engine.figures(kpi, span) for span in spans}
        for kpi in kpis
        if applicable(kpi, named)
    }
    # Every KPI gets a row for every group any of them found, so the answer is a full table:
    # a group with nothing in a period has a zero count, or no value where a ratio would be.
    groups = {key[0] for found in figures.values() for each in found.values() for key in each}
    if not dimensions:
        groups = {()}
    rows: list[Row] = []
    for kpi, found in figures.items():
        currencies = {key[1:] for each in found.values() for key in each}
        currencies |= engine.default_currencies(kpi, bool(currencies))
        keys = sorted(
            (
                (group, currency, converted)
                for group in groups
                for currency, converted in currencies
            ),
            key=_sort_key,
        )
        for one in asked:
            for key in keys:
                current = found[one.current].get(key) or engine.empty(kpi, key)
                previous = None
                if one.previous is not None:
                    previous = found[one.previous].get(key) or engine.empty(kpi, key)
                rows.append(
                    Row(
                        kpi=kpi,
                        group=key[0],
                        currency=key[1],
                        converted=key[2],
                        period=one.period,
                        current=engine.suppress(current),
                        previous=None if previous is None else engine.suppress(previous),
                    )
                )
    return rows


def _sort_key(key: Key) -> tuple[tuple[str, ...], str, bool]:
    return tuple(v or "" for v in key[0]), key[1] or "", key[2]


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (Excel's PERCENTILE.INC, NumPy's default):
    the median of an even count is the mean of the two middle values."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


class _Engine:
    def __init__(
        self, dimensions: tuple[Dimension, ...], chosen: Filter, facts: Facts, config: KpiConfig
    ) -> None:
        self.dimensions = dimensions
        self.chosen = chosen
        self.facts = facts
        self.config = config
        customers = facts.customers
        # Each fact's group, once; facts the filter leaves out are dropped here.
        self.orders = self._keep(facts.orders, lambda o: self._values(o, order=o))
        self.returns = self._keep(facts.returns, lambda r: self._values(r, order=r.order))
        self.cases = self._keep(facts.cases, lambda c: self._values(c, case=c))
        self.surveys = self._keep(facts.surveys, lambda s: self._values(s, survey=s))
        self.visits = self._keep(facts.visits, lambda v: self._values(v))
        self.follow_ups = self._keep(facts.follow_ups, lambda u: self._values(u, follow_up=u))
        self._customers = customers

    # --- groups -----------------------------------------------------------------------------

    def _values(
        self,
        fact: _Timed,
        *,
        order: OrderFact | None = None,
        case: CaseFact | None = None,
        survey: SurveyFact | None = None,
        follow_up: FollowUpFact | None = None,
    ) -> dict[Dimension, str | None]:
        customer = self.facts.customers.get(fact.profile_id)
        values: dict[Dimension, str | None] = {
            Dimension.LIFECYCLE_STAGE: customer.stage if customer else None,
            Dimension.VALUE_TIER: customer.tier if customer else None,
            Dimension.COUNTRY: customer.country if customer else None,
        }
        values |= dict.fromkeys(
            ORDER_DIMENSIONS | CASE_DIMENSIONS | SURVEY_DIMENSIONS | FOLLOW_UP_DIMENSIONS
        )
        if order is not None:
            values[Dimension.ORDER_CHANNEL] = order.channel
            values[Dimension.STORE] = order.store
        if case is not None:
            values[Dimension.SERVICE_CHANNEL] = case.channel
        if survey is not None:
            values[Dimension.SURVEY_TOUCHPOINT] = survey.touchpoint
        if follow_up is not None:
            values[Dimension.TEAM] = follow_up.team
            values[Dimension.ROOT_CAUSE] = follow_up.root_cause
        return values

    def _keep(
        self, facts: Sequence[T], values_of: Callable[[T], dict[Dimension, str | None]]
    ) -> _Series[T]:
        kept: list[T] = []
        keys: list[GroupKey] = []
        for fact in facts:
            values = values_of(fact)
            if all(values[d] in allowed for d, allowed in self.chosen.items()):
                kept.append(fact)
                keys.append(tuple(values[d] for d in self.dimensions))
        return _Series(kept, keys)

    # --- figures ----------------------------------------------------------------------------

    def empty(self, kpi: KpiId, key: Key) -> Figure:
        """The figure of a group with nothing in the period: a sum or count is 0, a ratio,
        mean or percentile has no value."""
        unit = DEFINITIONS[kpi].unit
        if kpi in (KpiId.REVENUE, KpiId.RETURN_COUNT) or unit is Unit.COUNT:
            return Figure(0.0, 0.0, None, 0, 0)
        if kpi in PERCENTILE_KPIS or kpi is KpiId.HOLDOUT_CHURN_DIFFERENCE:
            return Figure(None, None, None, 0, 0, note="nothing to measure in the period")
        return Figure(None, 0.0, 0.0, 0, 0, note=_zero(kpi))

    def default_currencies(self, kpi: KpiId, found: bool) -> set[tuple[str | None, bool]]:
        """The currency of a KPI's rows when none was found: the reporting currency for money,
        none otherwise; the return rate always has its count-based row."""
        if kpi is KpiId.RETURN_RATE:
            return {(None, False)}
        if found:
            return set()
        return {(self.config.reporting_currency if DEFINITIONS[kpi].money else None, False)}

    def suppress(self, figure: Figure) -> Figure:
        if 0 < figure.people < self.config.min_group_size:
            return Figure(
                None,
                None,
                None,
                0,
                0,
                note=f"suppressed: fewer than {self.config.min_group_size} people",
                suppressed=True,
            )
        return figure

    def figures(self, kpi: KpiId, span: Span) -> dict[Key, Figure]:
        return _FIGURES[kpi](self, span)

    def churn(self, span: Span) -> dict[Key, Figure]:
        churned, active = self.facts.churn.get(span.window, (0, 0))
        return {
            ((), None, False): Figure(
                ratio(churned, active),
                float(churned),
                float(active),
                active,
                active,
                note=None if active else _zero(KpiId.CHURN_RATE),
            )
        }

    # --- orders -----------------------------------------------------------------------------

    def standing_orders(self, window: Window) -> Iterable[tuple[OrderFact, GroupKey]]:
        return ((o, k) for o, k in self.orders.within(window) if not o.cancelled)

    def standing_returns(self, window: Window) -> Iterable[tuple[ReturnFact, GroupKey]]:
        return ((r, k) for r, k in self.returns.within(window) if r.stands)

    def revenue(self, span: Span) -> dict[Key, Figure]:
        sold: dict[GroupKey, Counter[str]] = defaultdict(Counter)
        refunded: dict[GroupKey, Counter[str]] = defaultdict(Counter)
        counted: dict[tuple[GroupKey, str], int] = Counter()
        people: dict[tuple[GroupKey, str], set[str]] = defaultdict(set)
        for order, key in self.standing_orders(span.window):
            sold[key][order.currency] += order.amount
            counted[key, order.currency] += 1
            people[key, order.currency].add(order.profile_id)
        for refund, key in self.standing_returns(span.window):
            refunded[key][refund.currency] += refund.amount
            counted[key, refund.currency] += 1
            people[key, refund.currency].add(refund.profile_id)
        found: dict[Key, Figure] = {}
        for key in sold.keys() | refunded.keys():
            net = {c: sold[key][c] - refunded[key][c] for c in sold[key] | refunded[key]}
            for currency, amount in net.items():
                found[key, currency, False] = Figure(
                    float(amount),
                    float(amount),
                    None,
                    counted[key, currency],
                    len(people[key, currency]),
                )
            if self.config.rates:
                total, missing = convert(net, self.config.reporting_currency, self.config.rates)
                kept = [c for c in net if c not in missing]
                found[key, self.config.reporting_currency, True] = Figure(
                    float(total),
                    float(total),
                    None,
                    sum(counted[key, c] for c in kept),
                    len(set().union(*(people[key, c] for c in kept))),
                    note=_unconverted(missing),
                )
        return found

    def lifetime_value(self, span: Span) -> dict[Key, Figure]:
        buyers: dict[tuple[GroupKey, str], set[str]] = defaultdict(set)
        for order, key in self.standing_orders(span.window):
            buyers[key, order.currency].add(order.profile_id)
        found: dict[Key, Figure] = {}
        by_group: dict[GroupKey, set[str]] = defaultdict(set)
        for (key, currency), who in buyers.items():
            total = sum(self._value_of(p).get(currency, 0) for p in who)
            found[key, currency, False] = Figure(
                ratio(total, len(who)), float(total), float(len(who)), len(who), len(who)
            )
            by_group[key] |= who
        if self.config.rates:
            for key, who in by_group.items():
                total, missing = 0, set()
                for profile_id in who:
                    value, unconverted = convert(
                        self._value_of(profile_id),
                        self.config.reporting_currency,
                        self.config.rates,
                    )
                    total += value
                    missing |= set(unconverted)
                found[key, self.config.reporting_currency, True] = Figure(
                    ratio(total, len(who)),
                    float(total),
                    float(len(who)),
                    len(who),
                    len(who),
                    note=_unconverted(sorted(missing)),
                )
        return found

    def _value_of(self, profile_id: str) -> Mapping[str, int]:
        customer = self._customers.get(profile_id)
        return customer.lifetime_value if customer else {}

    def average_order_value(self, span: Span) -> dict[Key, Figure]:
        sold: dict[GroupKey, Counter[str]] = defaultdict(Counter)
        orders: dict[GroupKey, Counter[str]] = defaultdict(Counter)
        people: dict[tuple[GroupKey, str], set[str]] = defaultdict(set)
        for order, key in self.standing_orders(span.window):
            sold[key][order.currency] += order.amount
            orders[key][order.currency] += 1
            people[key, order.currency].add(order.profile_id)
        found: dict[Key, Figure] = {}
        for key in sold:
            for currency, amount in sold[key].items():
                count = orders[key][currency]
                found[key, currency, False] = Figure(
                    ratio(amount, count),
                    float(amount),
                    float(count),
                    count,
                    len(people[key, currency]),
                )
            if self.config.rates:
                total, missing = convert(
                    sold[key], self.config.reporting_currency, self.config.rates
                )
                kept = [c for c in sold[key] if c not in missing]
                count = sum(orders[key][c] for c in kept)
                found[key, self.config.reporting_currency, True] = Figure(
                    ratio(total, count),
                    float(total),
                    float(count),
                    count,
                    len(set().union(*(people[key, c] for c in kept))),
                    note=_unconverted(missing),
                )
        return found

    def items_per_order(self, span: Span) -> dict[Key, Figure]:
        items: Counter[GroupKey] = Counter()
        orders: Counter[GroupKey] = Counter()
        people: dict[GroupKey, set[str]] = defaultdict(set)
        for order, key in self.standing_orders(span.window):
            items[key] += order.items
            orders[key] += 1
            people[key].add(order.profile_id)
        return {
            (key, None, False): _rate(items[key], orders[key], orders[key], people[key])
            for key in orders
        }

    def products_per_customer(self, span: Span) -> dict[Key, Figure]:
        bought: dict[GroupKey, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for order, key in self.standing_orders(span.window):
            bought[key][order.profile_id] |= order.products
        found: dict[Key, Figure] = {}
        for key, customers in bought.items():
            total = sum(len(products) for products in customers.values())
            found[key, None, False] = _rate(total, len(customers), len(customers), customers)
        return found

    def conversion_rate(self, span: Span) -> dict[Key, Figure]:
        visitors: dict[GroupKey, set[str]] = defaultdict(set)
        for visit, key in self.visits.within(span.window):
            visitors[key].add(visit.profile_id)
        buyers = {order.profile_id for order, _ in self.standing_orders(span.window)}
        return {
            (key, None, False): _rate(len(who & buyers), len(who), len(who), who)
            for key, who in visitors.items()
        }

    def return_rate(self, span: Span) -> dict[Key, Figure]:
        orders: Counter[GroupKey] = Counter()
        sold: dict[GroupKey, Counter[str]] = defaultdict(Counter)
        refunds: Counter[GroupKey] = Counter()
        refunded: dict[GroupKey, Counter[str]] = defaultdict(Counter)
        people: dict[GroupKey, set[str]] = defaultdict(set)
        # A currency's rate rests on the customers who bought or were refunded in it, and on
        # its orders and refunds.
        paying: dict[tuple[GroupKey, str], set[str]] = defaultdict(set)
        in_currency: Counter[tuple[GroupKey, str]] = Counter()
        for order, key in self.standing_orders(span.window):
            orders[key] += 1
            sold[key][order.currency] += order.amount
            people[key].add(order.profile_id)
            paying[key, order.currency].add(order.profile_id)
            in_currency[key, order.currency] += 1
        for refund, key in self.standing_returns(span.window):
            refunds[key] += 1
            refunded[key][refund.currency] += refund.amount
            people[key].add(refund.profile_id)
            paying[key, refund.currency].add(refund.profile_id)
            in_currency[key, refund.currency] += 1
        found: dict[Key, Figure] = {}
        for key in orders.keys() | refunds.keys():
            found[key, None, False] = _rate(
                refunds[key], orders[key], orders[key] + refunds[key], people[key]
            )
            for currency in sold[key] | refunded[key]:
                found[key, currency, False] = _rate(
                    refunded[key][currency],
                    sold[key][currency],
                    in_currency[key, currency],
                    paying[key, currency],
                )
        return found

    def return_count(self, span: Span) -> dict[Key, Figure]:
        refunds: Counter[GroupKey] = Counter()
        people: dict[GroupKey, set[str]] = defaultdict(set)
        for refund, key in self.standing_returns(span.window):
            refunds[key] += 1
            people[key].add(refund.profile_id)
        return {
            (key, None, False): _count(count, len(people[key])) for key, count in refunds.items()
        }

    # --- customers --------------------------------------------------------------------------

    def _buyers(self, window: Window) -> dict[GroupKey, dict[str, list[OrderFact]]]:
        """Per group, the customers with a standing order in the window and those orders."""
        found: dict[GroupKey, dict[str, list[OrderFact]]] = defaultdict(lambda: defaultdict(list))
        for order, key in self.standing_orders(window):
            found[key][order.profile_id].append(order)
        return found

    def repurchase_rate(self, span: Span) -> dict[Key, Figure]:
        in_window: dict[str, list[int]] = defaultdict(list)
        for order, _ in self.standing_orders(span.window):
            in_window[order.profile_id].append(order.at)
        again = {
            profile_id
            for profile_id, times in in_window.items()
            if len(times) > 1 or self._first_order(profile_id, min(times)) < min(times)
        }
        return {
            (key, None, False): _rate(len(who.keys() & again), len(who), len(who), who)
            for key, who in self._buyers(span.window).items()
        }

    def _first_order(self, profile_id: str, otherwise: int) -> int:
        customer = self._customers.get(profile_id)
        first = customer.first_order_ms if customer else None
        return otherwise if first is None else first

    def retention_rate(self, span: Span) -> dict[Key, Figure]:
        now = {order.profile_id for order, _ in self.standing_orders(span.window)}
        return {
            (key, None, False): _rate(len(who.keys() & now), len(who), len(who), who)
            for key, who in self._buyers(span.before).items()
        }

    def new_customers(self, span: Span) -> dict[Key, Figure]:
        start, end = span.window
        return self._counted_buyers(
            span, lambda p, orders: start <= self._first_order(p, orders[0].at) < end
        )

    def returning_customers(self, span: Span) -> dict[Key, Figure]:
        start = span.window[0]
        return self._counted_buyers(
            span, lambda p, orders: self._first_order(p, orders[0].at) < start
        )

    def _counted_buyers(
        self, span: Span, counts: Callable[[str, list[OrderFact]], bool]
    ) -> dict[Key, Figure]:
        found: dict[Key, Figure] = {}
        for key, who in self._buyers(span.window).items():
            chosen = [p for p, orders in who.items() if counts(p, orders)]
            if chosen:
                found[key, None, False] = _count(len(chosen), len(chosen))
        return found

    def active_customers(self, span: Span) -> dict[Key, Figure]:
        seen: dict[GroupKey, set[str]] = defaultdict(set)
        for series in (self.orders, self.returns, self.cases, self.surveys, self.visits):
            for fact, key in series.within(span.window):
                seen[key].add(fact.profile_id)
        return {(key, None, False): _count(len(who), len(who)) for key, who in seen.items()}

    # --- satisfaction and service -----------------------------------------------------------

    def _answers(self, window: Window, survey_type: str) -> Iterable[tuple[SurveyFact, GroupKey]]:
        return ((s, k) for s, k in self.surveys.within(window) if s.survey_type == survey_type)

    def nps(self, span: Span) -> dict[Key, Figure]:
        bands: dict[GroupKey, Counter[str]] = defaultdict(Counter)
        people: dict[GroupKey, set[str]] = defaultdict(set)
        for answer, key in self._answers(span.window, "nps"):
            if answer.score >= self.config.promoter_min:
                bands[key]["promoters"] += 1
            elif answer.score <= self.config.detractor_max:
                bands[key]["detractors"] += 1
            else:
                bands[key]["passives"] += 1
            people[key].add(answer.profile_id)
        found: dict[Key, Figure] = {}
        for key, counted in bands.items():
            answers = counted.total()
            net = counted["promoters"] - counted["detractors"]
            parts = tuple(
                Part(name, counted[name], answers)
                for name in ("promoters", "passives", "detractors")
            )
            found[key, None, False] = Figure(
                100 * net / answers,
                float(net),
                float(answers),
                answers,
                len(people[key]),
                parts=parts,
            )
        return found

    def csat(self, span: Span) -> dict[Key, Figure]:
        satisfied: dict[GroupKey, Counter[str]] = defaultdict(Counter)
        answered: dict[GroupKey, Counter[str]] = defaultdict(Counter)
        people: dict[GroupKey, set[str]] = defaultdict(set)
        threshold = self.config.csat_satisfied_min
        for answer, key in self._answers(span.window, "csat"):
            basis = f"{answer.source}: {threshold} or more of 5"
            answered[key][basis] += 1
            satisfied[key][basis] += answer.score >= threshold
            people[key].add(answer.profile_id)
        for case, key in self.cases.within(span.window):
            if case.satisfaction is not None:
                basis = f"{case.source}: good / (good + bad)"
                answered[key][basis] += 1
                satisfied[key][basis] += case.satisfaction == "good"
                people[key].add(case.profile_id)
        found: dict[Key, Figure] = {}
        for key, per_basis in answered.items():
            total, good = per_basis.total(), satisfied[key].total()
            parts = tuple(
                Part(basis, satisfied[key][basis], count)
                for basis, count in sorted(per_basis.items())
            )
            found[key, None, False] = replace(_rate(good, total, total, people[key]), parts=parts)
        return found

    def ces(self, span: Span) -> dict[Key, Figure]:
        scores: dict[GroupKey, list[int]] = defaultdict(list)
        people: dict[GroupKey, set[str]] = defaultdict(set)
        for answer, key in self._answers(span.window, "ces"):
            scores[key].append(answer.score)
            people[key].add(answer.profile_id)
        found: dict[Key, Figure] = {}
        limit = self.config.ces_high_effort_max
        for key, given in scores.items():
            high = sum(1 for score in given if score <= limit)
            found[key, None, False] = replace(
                _rate(sum(given), len(given), len(given), people[key]),
                parts=(Part(f"high effort (1 to {limit})", high, len(given)),),
            )
        return found

    def _cases(self, window: Window) -> dict[GroupKey, list[CaseFact]]:
        found: dict[GroupKey, list[CaseFact]] = defaultdict(list)
        for case, key in self.cases.within(window):
            found[key].append(case)
        return found

    def first_contact_resolution(self, span: Span) -> dict[Key, Figure]:
        found: dict[Key, Figure] = {}
        for key, cases in self._cases(span.window).items():
            solved = [c for c in cases if c.closed]
            known = [c for c in solved if c.replies is not None]
            first = sum(1 for c in known if c.replies is not None and c.replies < 2)
            # The figure rests on the known cases' customers, not on those left out.
            people = {c.profile_id for c in known}
            figure = _rate(first, len(known), len(known), people)
            if solved and not known:
                note = (
                    f"cannot be known: none of the {len(solved)} solved cases says how many "
                    "agent replies it took"
                )
                figure = replace(figure, note=note)
            elif len(known) < len(solved):
                note = f"{len(solved) - len(known)} solved cases without a reply count left out"
                figure = replace(figure, note=note)
            if solved:
                found[key, None, False] = figure
        return found

    def _durations(self, span: Span, of: Callable[[CaseFact], float | None]) -> dict[Key, Figure]:
        found: dict[Key, Figure] = {}
        for key, cases in self._cases(span.window).items():
            measured = sorted(d for c in cases if (d := of(c)) is not None)
            if measured:
                people = {c.profile_id for c in cases if of(c) is not None}
                found[key, None, False] = Figure(
                    percentile(measured, 0.5),
                    None,
                    None,
                    len(measured),
                    len(people),
                    p90=percentile(measured, 0.9),
                )
        return found

    def first_response_time(self, span: Span) -> dict[Key, Figure]:
        return self._durations(span, lambda c: c.first_response_s)

    def resolution_time(self, span: Span) -> dict[Key, Figure]:
        return self._durations(span, lambda c: c.resolution_s)

    def complaint_rate(self, span: Span) -> dict[Key, Figure]:
        return {
            (key, None, False): _rate(
                sum(1 for c in cases if c.complaint),
                len(cases),
                len(cases),
                {c.profile_id for c in cases},
            )
            for key, cases in self._cases(span.window).items()
        }

    # --- closing the loop (follow-ups) ------------------------------------------------------

    def sla_compliance(self, span: Span) -> dict[Key, Figure]:
        met: Counter[GroupKey] = Counter()
        decided: Counter[GroupKey] = Counter()
        people: dict[GroupKey, set[str]] = defaultdict(set)
        for follow_up, key in self.follow_ups.within(span.window):
            if follow_up.sla_met is None:
                continue
            decided[key] += 1
            met[key] += follow_up.sla_met
            people[key].add(follow_up.profile_id)
        return {
            (key, None, False): _rate(met[key], count, count, people[key])
            for key, count in decided.items()
        }

    def feedback_acknowledged(self, span: Span) -> dict[Key, Figure]:
        within = ACKNOWLEDGED_WITHIN_HOURS * 3_600_000
        answered: Counter[GroupKey] = Counter()
        due: Counter[GroupKey] = Counter()
        people: dict[GroupKey, set[str]] = defaultdict(set)
        feedback: list[tuple[SurveyFact | CaseFact, GroupKey]] = [
            *self.surveys.within(span.window),
            *self.cases.within(span.window),
        ]
        for fact, key in feedback:
            if not needs_answer(fact, self.config.feedback_low_scores):
                continue
            acknowledged = self.facts.acknowledged.get(fact.record_id)
            if acknowledged is not None and acknowledged > self.facts.now_ms:
                acknowledged = None  # not yet, at the moment asked about
            if acknowledged is None and self.facts.now_ms < fact.at + within:
                continue  # its 48 hours are still running
            due[key] += 1
            answered[key] += acknowledged is not None and acknowledged <= fact.at + within
            people[key].add(fact.profile_id)
        return {
            (key, None, False): _rate(answered[key], count, count, people[key])
            for key, count in due.items()
        }

    def holdout_churn_difference(self, span: Span) -> dict[Key, Figure]:
        # Per group, each customer once: followed up if any of their follow-ups was actioned.
        opened: dict[GroupKey, dict[str, tuple[bool, int]]] = defaultdict(dict)
        for follow_up, key in self.follow_ups.within(span.window):
            held, first = opened[key].get(follow_up.profile_id, (True, follow_up.at))
            opened[key][follow_up.profile_id] = (
                held and follow_up.held_out,
                min(first, follow_up.at),
            )
        found: dict[Key, Figure] = {}
        for key, customers in opened.items():
            churned: Counter[bool] = Counter()
            again: Counter[bool] = Counter()
            size: Counter[bool] = Counter()
            for profile_id, (held, since) in customers.items():
                customer = self._customers.get(profile_id)
                size[held] += 1
                churned[held] += customer is not None and customer.stage == "churned"
                last = customer.last_order_ms if customer else None
                again[held] += last is not None and last >= since
            n, m = size[False], size[True]
            interval = difference_interval(churned[False], n, churned[True], m)
            value = ratio(churned[False], n)
            held_rate = ratio(churned[True], m)
            found[key, None, False] = Figure(
                None if value is None or held_rate is None else value - held_rate,
                None,
                None,
                n + m,
                min(n, m) if n and m else n + m,  # the smaller group is what could identify
                low=interval[0] if interval else None,
                high=interval[1] if interval else None,
                parts=(
                    Part("followed up: churned", churned[False], n),
                    Part("held out: churned", churned[True], m),
                    Part("followed up: ordered again", again[False], n),
                    Part("held out: ordered again", again[True], m),
                ),
                note=None if n and m else "no held-out or no followed-up customers",
            )
        return found


@dataclass
class _Series(Generic[T]):
    """Facts sorted by time with their groups: a window is two binary searches."""

    facts: list[T]
    keys: list[GroupKey]
    times: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.times = [fact.at for fact in self.facts]

    def within(self, window: Window) -> Iterable[tuple[T, GroupKey]]:
        low = bisect.bisect_left(self.times, window[0])
        high = bisect.bisect_left(self.times, window[1])
        return zip(self.facts[low:high], self.keys[low:high], strict=True)


def _rate(numerator: float, denominator: float, sample: int, people: Iterable[str]) -> Figure:
    """A ratio figure; with a zero denominator, no value and a note."""
    who = people if isinstance(people, set) else set(people)
    return Figure(
        ratio(numerator, denominator),
        float(numerator),
        float(denominator),
        sample,
        len(who),
        note=None if denominator else "zero denominator",
    )


def _count(count: int, people: int) -> Figure:
    return Figure(float(count), float(count), None, count, people)


def _zero(kpi: KpiId) -> str:
    denominator = DEFINITIONS[kpi].denominator
    return f"zero denominator: no {denominator}" if denominator else "zero denominator"


def _unconverted(missing: Iterable[str]) -> str | None:
    left = sorted(missing)
    return f"left out, no exchange rate: {', '.join(left)}" if left else None


_FIGURES: dict[KpiId, Callable[[_Engine, Span], dict[Key, Figure]]] = {
    KpiId.REVENUE: _Engine.revenue,
    KpiId.CUSTOMER_LIFETIME_VALUE: _Engine.lifetime_value,
    KpiId.AVERAGE_ORDER_VALUE: _Engine.average_order_value,
    KpiId.ITEMS_PER_ORDER: _Engine.items_per_order,
    KpiId.PRODUCTS_PER_CUSTOMER: _Engine.products_per_customer,
    KpiId.CONVERSION_RATE: _Engine.conversion_rate,
    KpiId.RETURN_RATE: _Engine.return_rate,
    KpiId.RETURN_COUNT: _Engine.return_count,
    KpiId.REPURCHASE_RATE: _Engine.repurchase_rate,
    KpiId.RETENTION_RATE: _Engine.retention_rate,
    KpiId.CHURN_RATE: _Engine.churn,
    KpiId.NEW_CUSTOMERS: _Engine.new_customers,
    KpiId.RETURNING_CUSTOMERS: _Engine.returning_customers,
    KpiId.ACTIVE_CUSTOMERS: _Engine.active_customers,
    KpiId.NPS: _Engine.nps,
    KpiId.CSAT: _Engine.csat,
    KpiId.CES: _Engine.ces,
    KpiId.FIRST_CONTACT_RESOLUTION: _Engine.first_contact_resolution,
    KpiId.FIRST_RESPONSE_TIME: _Engine.first_response_time,
    KpiId.RESOLUTION_TIME: _Engine.resolution_time,
    KpiId.COMPLAINT_RATE: _Engine.complaint_rate,
    KpiId.SLA_COMPLIANCE: _Engine.sla_compliance,
    KpiId.FEEDBACK_ACKNOWLEDGED: _Engine.feedback_acknowledged,
    KpiId.HOLDOUT_CHURN_DIFFERENCE: _Engine.holdout_churn_difference,
}
