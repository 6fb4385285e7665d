"""``GET /kpis/export``: the KPIs of ``Query.kpis`` as a file, CSV or JSON. Translation only.

The answer is computed first (a bad parameter is a 422 before anything is sent), then streamed
row by row. CSV text cells a spreadsheet would run as a formula begin with a quote, as in the
audience export (numbers are written as numbers: a negative NPS stays a number).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from c360.api.auth import requires
from c360.api.openapi import KEYED, answers
from c360.auth.service import Caller, Permission
from c360.kpis.definitions import Dimension, KpiId
from c360.kpis.export import columns, flat
from c360.kpis.periods import Interval
from c360.kpis.service import KpiQuery, KpiService
from c360.profiles.lifecycle import LifecycleStage, ValueTier
from c360.spreadsheet import neutralised
from schemas.records import OrderChannel, ServiceChannel

router = APIRouter(tags=["kpis"])
_CHUNK = 64 * 1024

ROWS = (
    "One row per KPI, group, currency and period: `kpi, period_start, period_end`, a column per "
    "dimension grouped by, `currency, converted, value, numerator, denominator, sample_size, "
    "p90, low, high, suppressed, note, parts`, the previous period's figure when `compare`, "
    "and the `definition` (JSON: an array of objects; CSV: a header line, then rows)."
)


def _text(value: Any) -> Any:
    return neutralised(value) if isinstance(value, str) else value


def _csv(records: Iterator[dict[str, Any]], names: list[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\r\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _text(v) for k, v in record.items()})
        if buffer.tell() > _CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _json(records: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield b"["
    for index, record in enumerate(records):
        yield (("," if index else "") + "\n" + json.dumps(record, separators=(",", ":"))).encode()
    yield b"\n]\n"


async def _stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@router.get(
    "/kpis/export",
    summary="KPIs by period and group, as a file",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": ROWS,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "text/csv": {"schema": {"type": "string"}},
            },
            "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
        },
        **answers(
            *KEYED,
            422,
            why={
                422: "A parameter out of its type, `from` not before `to`, an instant without "
                "a time zone, or more periods than C360_KPI_MAX_PERIODS; the detail says which."
            },
        ),
    },
)
async def export_kpis(
    request: Request,
    _: Annotated[Caller, Depends(requires(Permission.READ_KPIS))],
    from_: Annotated[
        dt.datetime, Query(alias="from", description="Start (inclusive), with its time zone.")
    ],
    to: Annotated[dt.datetime, Query(description="End (exclusive), with its time zone.")],
    format: Literal["csv", "json"] = "csv",
    interval: Interval | None = None,
    compare: Annotated[
        bool, Query(description="Add the previous period's figure to each row.")
    ] = False,
    group_by: Annotated[list[Dimension] | None, Query()] = None,
    kpi: Annotated[list[KpiId] | None, Query(description="Only these KPIs.")] = None,
    lifecycle_stage: Annotated[list[LifecycleStage] | None, Query()] = None,
    value_tier: Annotated[list[ValueTier] | None, Query()] = None,
    country: Annotated[list[str] | None, Query(description="ISO 3166 alpha-2 codes.")] = None,
    order_channel: Annotated[list[OrderChannel] | None, Query()] = None,
    store: Annotated[list[str] | None, Query()] = None,
    service_channel: Annotated[list[ServiceChannel] | None, Query()] = None,
    survey_touchpoint: Annotated[list[str] | None, Query()] = None,
    team: Annotated[list[str] | None, Query(description="Follow-ups' teams.")] = None,
    root_cause: Annotated[list[str] | None, Query(description="Follow-ups' root causes.")] = None,
) -> StreamingResponse:
    """The KPIs of ``Query.kpis`` from ``from`` to ``to``, one row per KPI, group, currency
    and period, computed first and then streamed."""
    lists: dict[Dimension, list[str] | None] = {
        Dimension.LIFECYCLE_STAGE: [s.value for s in lifecycle_stage] if lifecycle_stage else None,
        Dimension.VALUE_TIER: [t.value for t in value_tier] if value_tier else None,
        Dimension.COUNTRY: country,
        Dimension.ORDER_CHANNEL: [c.value for c in order_channel] if order_channel else None,
        Dimension.STORE: store,
        Dimension.SERVICE_CHANNEL: [c.value for c in service_channel] if service_channel else None,
        Dimension.SURVEY_TOUCHPOINT: survey_touchpoint,
        Dimension.TEAM: team,
        Dimension.ROOT_CAUSE: root_cause,
    }
    query = KpiQuery(
        start=from_,
        end=to,
        interval=interval,
        compare=compare,
        group_by=tuple(group_by or ()),
        filter={d: frozenset(v) for d, v in lists.items() if v},
        kpis=tuple(kpi or ()),
    )
    service: KpiService = request.app.state.services.kpis
    answer = await service.kpis(query)
    records = flat(answer, compare)
    names = columns(answer.group_by, compare)
    if format == "json":
        body, media = _json(records), "application/json"
    else:
        body, media = _csv(records, names), "text/csv; charset=utf-8"
    stamp = f"{answer.periods[0].start:%Y%m%d}-{answer.periods[-1].end:%Y%m%d}"
    headers = {"Content-Disposition": f'attachment; filename="kpis-{stamp}.{format}"'}
    return StreamingResponse(_stream(body), media_type=media, headers=headers)
