"""``c360 kpis``: the loyalty scorecard on the command line, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING

from c360.cli.arguments import CASE_INSENSITIVE
from c360.cli.session import run_with_services

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from c360.kpis.compute import Row
    from c360.kpis.service import KpiAnswer
    from c360.services import Services
    from c360.settings import Settings
    from c360.store import Store

HELP = "KPIs by period and segment (the loyalty scorecard)"


def _instant(text: str) -> dt.datetime:
    """An ISO 8601 date or instant; a date is its midnight in the reporting time zone (set
    later: see ``_localised``), an instant needs its offset."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None


def arguments(kpis: argparse.ArgumentParser) -> None:
    """The arguments of ``c360 kpis``, and its handler."""
    from c360.kpis.definitions import Dimension, KpiId
    from c360.kpis.periods import Interval

    kpis.description = (
        "KPIs from --from to --to, as a table (default), CSV or JSON. Dates "
        "without a time are midnights in C360_REPORTING_TIME_ZONE."
    )
    kpis.add_argument("--from", dest="start", required=True, type=_instant, metavar="WHEN")
    kpis.add_argument("--to", dest="end", required=True, type=_instant, metavar="WHEN")
    kpis.add_argument("--interval", choices=[i.value for i in Interval], type=CASE_INSENSITIVE)
    kpis.add_argument("--compare", action="store_true", help="with the previous period")
    kpis.add_argument(
        "--group-by",
        action="append",
        default=[],
        choices=[d.value for d in Dimension],
        type=CASE_INSENSITIVE,
        help="split by a dimension (repeat for several)",
    )
    kpis.add_argument(
        "--kpi",
        action="append",
        default=[],
        choices=[k.value for k in KpiId],
        type=CASE_INSENSITIVE,
        help="only this KPI (repeat for several; default: all)",
    )
    kpis.add_argument("--format", choices=["table", "csv", "json"], default="table")

    def handler(args: argparse.Namespace, settings: Settings) -> int:
        from c360.kpis.service import KpiQuery

        async def work(services: Services, store: Store) -> KpiAnswer:
            zone = services.kpis.settings.zone
            query = KpiQuery(
                start=_localised(args.start, zone),
                end=_localised(args.end, zone),
                interval=Interval(args.interval) if args.interval else None,
                compare=args.compare,
                group_by=tuple(Dimension(d) for d in args.group_by),
                kpis=tuple(KpiId(k) for k in args.kpi),
            )
            return await services.kpis.kpis(query)

        answer: KpiAnswer = run_with_services(settings, work)
        _print(answer, args.format, args.compare)
        return 0

    kpis.set_defaults(handler=handler)


def _localised(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    from c360.errors import InvalidInput

    if moment.tzinfo is not None:
        return moment
    if moment.time() != dt.time(0):
        raise InvalidInput(f"{moment.isoformat()} needs its offset (or give a date alone)")
    return moment.replace(tzinfo=zone)


def _print(answer: KpiAnswer, form: str, compared: bool) -> None:
    from c360.kpis.export import columns, flat, show_value

    names = columns(answer.group_by, compared)
    if form == "json":
        for record in flat(answer, compared):
            print(json.dumps(record, ensure_ascii=False))
        return
    if form == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat(answer, compared))
        return
    from rich.console import Console  # the table only
    from rich.table import Table

    table = Table(title=f"KPIs ({answer.time_zone})", show_lines=False)
    table.add_column("KPI")
    table.add_column("period")
    for dimension in answer.group_by:
        table.add_column(dimension.value.replace("_", " "))
    table.add_column("value", justify="right")
    table.add_column("numerator / denominator", justify="right")
    table.add_column("n", justify="right")
    if compared:
        table.add_column("previous", justify="right")
    for row in answer.rows:
        figure = row.current
        ratio = ""
        if figure.numerator is not None and figure.denominator is not None:
            ratio = f"{figure.numerator:,.0f} / {figure.denominator:,.0f}"
        cells = [
            _name(row),
            f"{row.period.start.astimezone(_zone(answer)):%Y-%m-%d}",
            *(value or "—" for value in row.group),
            show_value(row.kpi, figure, row.currency),
            ratio,
            f"{figure.sample_size:,}" if not figure.suppressed else "",
        ]
        if compared:
            cells.append(show_value(row.kpi, row.previous, row.currency))
        table.add_row(*cells)
    Console(width=160).print(table)
    if answer.left_out:
        left = ", ".join(k.value for k in answer.left_out)
        print(f"not split by {', '.join(d.value for d in answer.group_by)}: {left}")


def _name(row: Row) -> str:
    """The KPI's name, with the currency of a row per currency (and whether it was converted
    to the reporting currency), as the dashboard names it: the return rate comes by count and
    by amount per currency, two rows a name alone would not tell apart."""
    from c360.kpis.definitions import DEFINITIONS

    name = DEFINITIONS[row.kpi].name
    if row.currency is None:
        return name
    return f"{name} ({row.currency}{', converted' if row.converted else ''})"


def _zone(answer: KpiAnswer) -> ZoneInfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(answer.time_zone)
