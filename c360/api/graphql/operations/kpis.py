"""GraphQL operations of the loyalty scorecard: ``Query.kpis``, KPIs by period and segment.

Agents, marketing and admins read KPIs (``readKpis``); a figure resting on fewer people than
``C360_KPI_MIN_GROUP_SIZE`` comes suppressed, whoever asks. A bad span is the service's
``InvalidInput``, answered as the union's ``InvalidInputError``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from c360.api.graphql.access import Requires
from c360.api.graphql.context import Context
from c360.api.graphql.errors import ForbiddenError, InvalidInputError
from c360.api.graphql.types.kpis import KpiFilter, KpiReport
from c360.auth.service import Permission
from c360.kpis.definitions import Dimension, KpiId
from c360.kpis.periods import Interval
from c360.kpis.service import KpiQuery as Asked

KpiResult = Annotated[KpiReport | ForbiddenError | InvalidInputError, strawberry.union("KpiResult")]


@strawberry.type
class KpiQuery:
    @strawberry.field(
        description="KPIs from `from` to `to` (periods of `interval` in the reporting time "
        "zone, or one period), split by `groupBy`, for the facts `filter` keeps; each with "
        "its numerator, denominator, sample size and definition, and the previous period's "
        "figure when `compareToPrevious`. `only` names the KPIs wanted (default: all).",
        extensions=[Requires(Permission.READ_KPIS)],
    )
    async def kpis(
        self,
        info: Info[Context, None],
        from_: Annotated[dt.datetime, strawberry.argument(name="from")],
        to: dt.datetime,
        interval: Interval | None = None,
        compare_to_previous: bool = False,
        group_by: list[Dimension] | None = None,
        filter: KpiFilter | None = None,
        only: list[KpiId] | None = None,
    ) -> KpiResult:
        query = Asked(
            start=from_,
            end=to,
            interval=interval,
            compare=compare_to_previous,
            group_by=tuple(group_by or ()),
            filter=filter.chosen() if filter else {},
            kpis=tuple(only or ()),
        )
        answer = await info.context.services.kpis.kpis(query, info.context.now)
        return KpiReport.of(answer)
