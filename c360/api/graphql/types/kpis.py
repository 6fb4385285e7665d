"""GraphQL types of the loyalty scorecard: a report of KPI values by period and group, their
definitions, and the filter. Translation only: the definitions and the arithmetic are in
:mod:`c360.kpis`."""

from __future__ import annotations

import datetime as dt

import strawberry

from c360.api.graphql.access import in_text, public
from c360.kpis.compute import Figure, Row
from c360.kpis.definitions import DEFINITIONS, Definition, Dimension, Family, KpiId, Unit
from c360.kpis.periods import Interval, Period
from c360.kpis.service import KpiAnswer
from c360.profiles.lifecycle import LifecycleStage, ValueTier
from schemas.records import OrderChannel, ServiceChannel

strawberry.enum(KpiId, name="KpiId", description="A KPI of the loyalty scorecard.")
strawberry.enum(Dimension, name="KpiDimension", description="What KPIs can be split by.")
strawberry.enum(Interval, name="KpiInterval", description="Periods in the reporting time zone.")
strawberry.enum(Unit, name="KpiUnit")
strawberry.enum(Family, name="KpiFamily")

_C360 = "written by c360 (the KPI's definition)"


@strawberry.type(description="What a KPI is, in words.")
class KpiDefinition:
    kpi: KpiId
    name: str = strawberry.field(metadata=public(_C360))
    family: Family
    unit: Unit
    definition: str = strawberry.field(metadata=public(_C360))
    numerator: str | None = strawberry.field(metadata=public(_C360))
    denominator: str | None = strawberry.field(metadata=public(_C360))
    dimensions: list[Dimension] = strawberry.field(
        description="What it can be split by (and filtered on)."
    )

    @classmethod
    def of(cls, definition: Definition) -> KpiDefinition:
        return cls(
            kpi=definition.kpi,
            name=definition.name,
            family=definition.family,
            unit=definition.unit,
            definition=definition.definition,
            numerator=definition.numerator,
            denominator=definition.denominator,
            dimensions=sorted(definition.dimensions, key=list(Dimension).index),
        )


@strawberry.type(description="One dimension's value of a group (null: none, or not known).")
class KpiGroupValue:
    dimension: Dimension
    value: str | None = strawberry.field(extensions=in_text())  # a store id, a touchpoint


@strawberry.type(description="A count within a figure: NPS bands, CSAT per source, CES effort.")
class KpiPart:
    name: str = strawberry.field(extensions=in_text())  # names the source of a CSAT answer
    count: int
    total: int


@strawberry.type(description="A KPI's figure for one period.")
class KpiFigure:
    period_start: dt.datetime
    period_end: dt.datetime
    value: float | None = strawberry.field(
        description="numerator / denominator (a median for times); null when the denominator "
        "is zero, nothing was measured, or the figure is suppressed."
    )
    numerator: float | None
    denominator: float | None
    sample_size: int = strawberry.field(
        description="The observations behind it: orders, answers, cases, customers."
    )
    p90: float | None = strawberry.field(description="The 90th percentile (times only).")
    interval_low: float | None = strawberry.field(
        description="The 95 % interval's lower end (the holdout's difference)."
    )
    interval_high: float | None = strawberry.field(
        description="The 95 % interval's upper end (the holdout's difference)."
    )
    parts: list[KpiPart]
    note: str | None = strawberry.field(
        description="Why there is no value, what was left out.",
        metadata=public("a sentence c360 writes"),
    )
    suppressed: bool = strawberry.field(
        description="Fewer people than the minimum group size stand behind it."
    )

    @classmethod
    def of(cls, figure: Figure, start: dt.datetime, end: dt.datetime) -> KpiFigure:
        return cls(
            period_start=start,
            period_end=end,
            value=figure.value,
            numerator=figure.numerator,
            denominator=figure.denominator,
            sample_size=figure.sample_size,
            p90=figure.p90,
            interval_low=figure.low,
            interval_high=figure.high,
            parts=[KpiPart(name=p.name, count=p.count, total=p.total) for p in figure.parts]
            if not figure.suppressed
            else [],
            note=figure.note,
            suppressed=figure.suppressed,
        )


@strawberry.type(description="A KPI of one group, in one currency, for one period.")
class KpiValue(KpiFigure):
    kpi: KpiId
    group: list[KpiGroupValue] = strawberry.field(
        description="The group's value of each dimension asked for, in order (empty: all)."
    )
    currency: str | None = strawberry.field(
        description="ISO 4217, for money and amount-based rates.",
        metadata=public("an ISO 4217 code"),
    )
    converted: bool = strawberry.field(
        description="In the reporting currency, converted from every currency with a rate."
    )
    unit: Unit
    previous: KpiFigure | None = strawberry.field(
        description="The period before (compareToPrevious), for the same group and currency."
    )

    @strawberry.field(description="The KPI's definition.", metadata=public(_C360))
    def definition(self) -> str:
        return DEFINITIONS[self.kpi].definition

    @classmethod
    def of_row(cls, row: Row, dimensions: tuple[Dimension, ...]) -> KpiValue:
        period, figure = row.period, row.current
        previous = None
        if row.previous is not None:
            previous = KpiFigure.of(row.previous, *period.previous)
        current = KpiFigure.of(figure, period.start, period.end)
        return cls(
            **vars(current),
            kpi=row.kpi,
            group=[
                KpiGroupValue(dimension=d, value=v)
                for d, v in zip(dimensions, row.group, strict=True)
            ],
            currency=row.currency,
            converted=row.converted,
            unit=DEFINITIONS[row.kpi].unit,
            previous=previous,
        )


@strawberry.type
class KpiPeriod:
    start: dt.datetime
    end: dt.datetime
    previous_start: dt.datetime
    previous_end: dt.datetime

    @classmethod
    def of(cls, period: Period) -> KpiPeriod:
        return cls(
            start=period.start,
            end=period.end,
            previous_start=period.previous_start,
            previous_end=period.previous_end,
        )


@strawberry.type(description="KPIs by period and group.")
class KpiReport:
    values: list[KpiValue]
    periods: list[KpiPeriod]
    time_zone: str = strawberry.field(
        description="Where periods start at midnight (C360_REPORTING_TIME_ZONE).",
        metadata=public("an IANA zone name from the settings"),
    )
    group_by: list[Dimension]
    left_out: list[KpiId] = strawberry.field(
        description="KPIs asked for that cannot be split by these dimensions or filtered so."
    )
    min_group_size: int = strawberry.field(
        description="Figures resting on fewer people come suppressed."
    )
    definitions: list[KpiDefinition]

    @classmethod
    def of(cls, answer: KpiAnswer) -> KpiReport:
        shown = dict.fromkeys(row.kpi for row in answer.rows)
        return cls(
            values=[KpiValue.of_row(row, answer.group_by) for row in answer.rows],
            periods=[KpiPeriod.of(p) for p in answer.periods],
            time_zone=answer.time_zone,
            group_by=list(answer.group_by),
            left_out=answer.left_out,
            min_group_size=answer.min_group_size,
            definitions=[KpiDefinition.of(DEFINITIONS[k]) for k in shown],
        )


@strawberry.input(description="Only the facts of these segments (each list: any of).")
class KpiFilter:
    lifecycle_stages: list[LifecycleStage] | None = None
    value_tiers: list[ValueTier] | None = None
    countries: list[str] | None = strawberry.field(
        default=None, description="ISO 3166 codes of the customers' country."
    )
    order_channels: list[OrderChannel] | None = None
    stores: list[str] | None = None
    service_channels: list[ServiceChannel] | None = None
    survey_touchpoints: list[str] | None = None
    teams: list[str] | None = strawberry.field(
        default=None, description="Follow-ups' teams (the closing-the-loop KPIs)."
    )
    root_causes: list[str] | None = strawberry.field(
        default=None, description="Follow-ups' root causes (the closing-the-loop KPIs)."
    )

    def chosen(self) -> dict[Dimension, frozenset[str]]:
        lists: dict[Dimension, list[str] | None] = {
            Dimension.LIFECYCLE_STAGE: _values(self.lifecycle_stages),
            Dimension.VALUE_TIER: _values(self.value_tiers),
            Dimension.COUNTRY: self.countries,
            Dimension.ORDER_CHANNEL: _values(self.order_channels),
            Dimension.STORE: self.stores,
            Dimension.SERVICE_CHANNEL: _values(self.service_channels),
            Dimension.SURVEY_TOUCHPOINT: self.survey_touchpoints,
            Dimension.TEAM: self.teams,
            Dimension.ROOT_CAUSE: self.root_causes,
        }
        return {d: frozenset(v) for d, v in lists.items() if v is not None}


def _values(
    items: list[LifecycleStage]
    | list[ValueTier]
    | list[OrderChannel]
    | list[ServiceChannel]
    | None,
) -> list[str] | None:
    return None if items is None else [item.value for item in items]
