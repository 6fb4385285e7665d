"""KPI rows as flat records: what the CSV and JSON exports and ``c360 kpis`` print."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from babel.numbers import get_currency_precision

from c360.kpis.compute import Figure, Row
from c360.kpis.definitions import DEFINITIONS, Dimension, KpiId, Unit
from c360.kpis.service import KpiAnswer

FIGURE_COLUMNS = (
    "value",
    "numerator",
    "denominator",
    "sample_size",
    "p90",
    "low",
    "high",
    "suppressed",
    "note",
)


def columns(group_by: tuple[Dimension, ...], compared: bool) -> list[str]:
    """The columns of an answer's rows, in order."""
    names = ["kpi", "period_start", "period_end", *(d.value for d in group_by)]
    names += ["currency", "converted", *FIGURE_COLUMNS, "parts"]
    if compared:
        names += ["previous_start", "previous_end", *(f"previous_{c}" for c in FIGURE_COLUMNS)]
    return [*names, "definition"]


def flat(answer: KpiAnswer, compared: bool) -> Iterator[dict[str, Any]]:
    """Each row of the answer as a record of plain values (times in ISO 8601, UTC)."""
    for row in answer.rows:
        record: dict[str, Any] = {
            "kpi": row.kpi.value,
            "period_start": row.period.start.isoformat(),
            "period_end": row.period.end.isoformat(),
        }
        record |= {d.value: v for d, v in zip(answer.group_by, row.group, strict=True)}
        record |= {"currency": row.currency, "converted": row.converted}
        record |= _figure(row.current, "")
        record["parts"] = "; ".join(f"{p.name}: {p.count}/{p.total}" for p in row.current.parts)
        if compared:
            record["previous_start"] = row.period.previous_start.isoformat()
            record["previous_end"] = row.period.previous_end.isoformat()
            record |= _figure(row.previous, "previous_")
        record["definition"] = DEFINITIONS[row.kpi].definition
        yield record


def _figure(figure: Figure | None, prefix: str) -> dict[str, Any]:
    if figure is None:
        return {f"{prefix}{c}": None for c in FIGURE_COLUMNS}
    return {
        f"{prefix}value": figure.value,
        f"{prefix}numerator": figure.numerator,
        f"{prefix}denominator": figure.denominator,
        f"{prefix}sample_size": figure.sample_size,
        f"{prefix}p90": figure.p90,
        f"{prefix}low": figure.low,
        f"{prefix}high": figure.high,
        f"{prefix}suppressed": figure.suppressed,
        f"{prefix}note": figure.note,
    }


def shown(row: Row) -> str:
    """A figure as a person reads it: 12.5 %, +25 points, 1 234.50 EUR, 2 h 05 min."""
    return show_value(row.kpi, row.current, row.currency)


def show_value(kpi: KpiId, figure: Figure | None, currency: str | None) -> str:
    if figure is None:
        return ""
    if figure.suppressed:
        return "suppressed"
    if figure.value is None:
        return "—"
    unit = DEFINITIONS[kpi].unit
    value = figure.value
    if kpi is KpiId.HOLDOUT_CHURN_DIFFERENCE:
        shown = f"{100 * value:+.1f} points"
        if figure.low is not None and figure.high is not None:
            shown += f" (95 %: {100 * figure.low:+.1f} to {100 * figure.high:+.1f})"
        return shown
    if unit is Unit.RATE and currency is None:
        return f"{value:.1%}"
    if unit is Unit.RATE:
        return f"{value:.1%} of {currency}"
    if unit is Unit.POINTS:
        return f"{value:+.1f}"
    if unit is Unit.MONEY:
        digits = get_currency_precision(currency or "EUR")
        return f"{value / 10**digits:,.{digits}f} {currency}"
    if unit is Unit.SECONDS:
        return _duration(value) + (f" (p90 {_duration(figure.p90)})" if figure.p90 else "")
    if unit is Unit.COUNT:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours / 24:.1f} days"
