"""What the CSV connectors' tests share: parsing a fixture or inline rows, reading results."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from pathlib import Path

import pytest

from connectors.base import Connector, ItemError, Parsed, ParseOptions, ParseResult, Unreadable
from connectors.csv import parse_mapping
from schemas import CanonicalRecord, Identifier, IdentifierType, Money
from tests.helpers import parse_options

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "csv"
POS_COLUMNS, POS_OPTIONS = parse_mapping((FIXTURES / "pos_madrid.toml").read_text("utf-8"))


def run(connector: Connector, source: str | bytes, options: ParseOptions) -> list[ParseResult]:
    """Parse a fixture file (by name) or inline bytes."""
    data = source if isinstance(source, bytes) else (FIXTURES / source).read_bytes()
    return list(connector.parse(io.BytesIO(data), options))


def refusal(connector: Connector, source: str | bytes, options: ParseOptions) -> tuple[str, str]:
    """Where and why the connector refuses the whole input (``Unreadable``), having yielded
    nothing of it."""
    data = source if isinstance(source, bytes) else (FIXTURES / source).read_bytes()
    results = connector.parse(io.BytesIO(data), options)
    with pytest.raises(Unreadable) as refused:
        next(results)
    return refused.value.position, refused.value.reason


def records(results: Iterable[ParseResult]) -> dict[str, CanonicalRecord]:
    return {r.position: r.record for r in results if isinstance(r, Parsed)}


def errors(results: Iterable[ParseResult]) -> list[tuple[str, str]]:
    return [(r.position, r.reason) for r in results if isinstance(r, ItemError)]


def keys(record: CanonicalRecord) -> list[str]:
    return [identifier.key for identifier in record.identifiers]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def eur(amount: int) -> Money:
    return Money(amount=amount, currency="EUR")


def email(value: str) -> Identifier:
    return Identifier(type=IdentifierType.EMAIL, value=value)


def phone(value: str) -> Identifier:
    return Identifier(type=IdentifierType.PHONE, value=value)


def external(value: str, source: str) -> Identifier:
    return Identifier(type=IdentifierType.EXTERNAL, value=value, source=source)


def loyalty(value: str) -> Identifier:
    return Identifier(type=IdentifierType.LOYALTY, value=value)


def pos_options(**settings: str) -> ParseOptions:
    return parse_options(
        default_region="ES", mapping=POS_COLUMNS, settings={**POS_OPTIONS, **settings}
    )


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return "".join(f"{line}\n" for line in lines).encode(encoding)


POS_HEADER = "order_id,ordered_at,store_id,sku,quantity,unit_price,currency,email"


MADRID = parse_options(default_region="ES", settings={"time_zone": "Europe/Madrid"})
SPAIN = parse_options(default_region="ES")


def parsed(results: Iterable[ParseResult]) -> list[tuple[str, CanonicalRecord]]:
    """Every record with its position (a row may yield two)."""
    return [(r.position, r.record) for r in results if isinstance(r, Parsed)]


def only(results: list[ParseResult]) -> CanonicalRecord:
    """The one record of one row; fails on anything else."""
    assert len(results) == 1, results
    assert isinstance(results[0], Parsed), results[0]
    return results[0].record
