"""What the CSV connectors share: a connector whose rows each become records, and checking
those records, a row at a time."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, ClassVar, TypeVar

from pydantic import ValidationError

from connectors.base import (
    CSV_MEDIA_TYPES,
    ItemError,
    Parsed,
    ParseOptions,
    ParseResult,
    identity_names,
)
from connectors.csv._rows import CsvSpec, Row, read_rows
from connectors.csv._values import Values
from schemas import (
    ConsentChange,
    ContactPointStatus,
    Order,
    Person,
    PreferenceChange,
    RecordKind,
    Return,
    ServiceCase,
    SurveyResponse,
    describe_error,
    describe_errors,
)
from schemas.quoting import shown

_Record = TypeVar(
    "_Record",
    Order,
    Return,
    ServiceCase,
    Person,
    SurveyResponse,
    ConsentChange,
    PreferenceChange,
    ContactPointStatus,
)
RecordData = tuple[type[Any], dict[str, Any]]
"""A record a row makes, before validation: its model and its data."""


def source_of(options: ParseOptions, default: str) -> str:
    return options.settings.get("source", default)


def validated(
    model: type[_Record], data: dict[str, Any], position: str, raw: str, options: ParseOptions
) -> ParseResult:
    try:
        record = model.model_validate(data, context={"default_region": options.default_region})
    except ValidationError as exc:
        return ItemError.of(position, raw, describe_errors(exc))
    return Parsed(position=position, record=record, raw=raw)


def row_results(records: list[RecordData], row: Row, values: Values) -> list[ParseResult]:
    """The records of a row, or one error for the whole row naming every bad value and every
    rule a record breaks."""
    # Whom the row names by id (its customer id): its dead letter is found by them too.
    names = [n for _, data in records for n in identity_names(data.get("identifiers"))]
    if values.problems:
        # The records are still checked, so a row with an unreadable date and a score out of
        # range says both; what the record misses because a value was unreadable is not
        # repeated.
        reasons = [*values.problems]
        for model, data in records:
            reasons += _rule_problems(model, data, values.options)
        reason = "; ".join(dict.fromkeys(reasons))
        return [ItemError.of(row.position, row.replayable, reason, names=names)]
    results = [
        validated(model, data, row.position, row.replayable, values.options)
        for model, data in records
    ]
    reasons = [result.reason for result in results if isinstance(result, ItemError)]
    if reasons:
        return [ItemError.of(row.position, row.replayable, "; ".join(reasons), names=names)]
    return results


def _read_value(value: Any) -> bool:
    """A value read from the row (a text or a number), not one missing or unreadable (already
    said) nor a whole part of the record (whose rule an unreadable value may break)."""
    return isinstance(value, str | int | float) and value != ""


def _rule_problems(model: type[_Record], data: dict[str, Any], options: ParseOptions) -> list[str]:
    """What a record's model refuses among the values that were read (not those missing)."""
    try:
        model.model_validate(data, context={"default_region": options.default_region})
    except ValidationError as exc:
        return [
            describe_error(error)
            for error in exc.errors(include_url=False)
            if error["type"] != "missing" and _read_value(error.get("input"))
        ]
    return []


def usable_rows(
    stream: BinaryIO, options: ParseOptions, spec: CsvSpec
) -> Iterator[Row | ItemError]:
    """The file's rows; a row that cannot be trusted as a whole is already an error."""
    for row in read_rows(stream, options, spec):
        if isinstance(row, Row) and row.problem is not None:
            yield ItemError.of(row.position, row.replayable, row.problem)
        else:
            yield row


def spelling(value: str) -> str:
    """A value as a key to look up: ``"Opted-In"`` and ``"opted in"`` → ``"opted_in"``."""
    return re.sub(r"[\s-]+", "_", value.strip().lower())


def choice(
    values: Values,
    name: str,
    allowed: type[Any],
    synonyms: Mapping[str, str],
    default: str | None = None,
    *,
    required: bool = False,
) -> str | None:
    """A value of the enum ``allowed``, case-insensitive, with synonyms; else a problem."""
    value = values.text(name, required=required)
    if value is None:
        return default
    key = spelling(value)
    key = synonyms.get(key, key)
    known = [member.value for member in allowed]
    if key not in known:
        values.fail(name, f"unknown value {shown(value)}; expected one of {', '.join(known)}")
        return None
    return key


class RowConnector:
    """A CSV source whose rows each become records (by default one :attr:`model`); subclasses
    say how a row's values become them."""

    name: ClassVar[str]
    kinds: ClassVar[tuple[RecordKind, ...]]
    media_types: ClassVar[tuple[str, ...]] = CSV_MEDIA_TYPES
    default_source: ClassVar[str]
    spec: ClassVar[CsvSpec]
    model: ClassVar[type[Any]]

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        fallback = source_of(options, self.default_source)
        for row in usable_rows(stream, options, self.spec):
            if isinstance(row, ItemError):
                yield row
                continue
            values = Values(row.values, options, self.row_source(row, fallback))
            yield from row_results(self.row_records(values, row), row, values)

    def row_source(self, row: Row, fallback: str) -> str:
        """The source name of a row's record (one column may name it)."""
        return fallback

    def row_records(self, values: Values, row: Row) -> list[RecordData]:
        """The records of a row; a problem recorded in ``values`` rejects the row whole."""
        return [(self.model, self.row_data(values, row))]

    def row_data(self, values: Values, row: Row) -> dict[str, Any]:
        raise NotImplementedError
