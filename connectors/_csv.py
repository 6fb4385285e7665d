"""Reading CSV sources row by row: mapping files, options, header checks and value conversion.

Every CSV connector shares the same pipeline:

1. :func:`read_rows` decodes the byte stream incrementally (``encoding`` option, default UTF-8
   with or without a BOM), splits it with the ``delimiter`` option (``"auto"`` sniffs the header
   line), checks the header once against the connector's :class:`CsvSpec` and the caller's
   mapping, then yields one :class:`Row` per non-blank record with its starting line, so a
   quoted field spanning lines does not shift positions.
2. :class:`Values` turns a row's strings into canonical values (timestamps in UTC, money in
   minor units, identifiers), collecting every problem instead of stopping at the first.

Columns are resolved as ``mapping.get(field, field)``: a file whose header already uses the
canonical field names needs no mapping. Empty cells count as missing.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import tomllib
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pycountry
from pydantic import ValidationError

from connectors._values import minor_units, utc_timestamp
from connectors.base import ItemError, ParseOptions
from schemas import Identifier, IdentifierType

DEFAULT_ENCODING = "utf-8-sig"
DEFAULT_DELIMITER = ","
SNIFFED_DELIMITERS = ",;\t|"
MAX_LINE_CHARS = 1_000_000
"""A physical line longer than this is cut (and its row rejected), so memory stays bounded."""

OPTION_KEYS = (
    "source",
    "time_zone",
    "timestamp_format",
    "date_format",
    "currency",
    "decimal_separator",
    "delimiter",
    "encoding",
)
"""What the ``[options]`` table of a mapping file (and ``ParseOptions.settings``) may set."""

IDENTIFIER_FIELDS = ("email", "phone", "customer_id", "loyalty_id")
"""The conventional identifier columns; ``customer_id`` is scoped by the connector's source."""

_IDENTIFIER_TYPES = {
    "email": IdentifierType.EMAIL,
    "phone": IdentifierType.PHONE,
    "customer_id": IdentifierType.EXTERNAL,
    "loyalty_id": IdentifierType.LOYALTY,
}
_SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_WHOLE_RE = re.compile(r"^[+-]?\d+$")
_SURROGATES = re.compile("[\udc80-\udcff]")


# --- Mapping files and options -------------------------------------------------------------


def parse_mapping(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """Read a TOML mapping file into ``(columns, options)``. Raises ``ValueError``.

    ``[columns]`` maps canonical field names to the file's column headers; ``[options]`` sets
    any of :data:`OPTION_KEYS`. Both tables are optional; anything else is refused, so a typo
    never silently falls back to a default::

        [columns]
        order_id = "ticket"
        ordered_at = "fecha"

        [options]
        delimiter = ";"
        decimal_separator = ","
        time_zone = "Europe/Madrid"
        timestamp_format = "%d/%m/%Y %H:%M"
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"mapping file is not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"columns", "options"})
    if unknown:
        raise ValueError(
            f"mapping file has unknown keys {_names(unknown)}; expected [columns] and [options]"
        )
    columns = _string_table(document, "columns")
    options = _string_table(document, "options")
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise ValueError(
            f"unknown option {_names(unknown)} in [options]; known: {', '.join(OPTION_KEYS)}"
        )
    problems = check_options(options)
    if problems:
        raise ValueError("invalid [options]: " + "; ".join(problems))
    return columns, options


def _string_table(document: dict[str, Any], name: str) -> dict[str, str]:
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise ValueError(f"{name} must be a table ([{name}]), not a {type(table).__name__}")
    result: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str):
            raise ValueError(f"{name}.{key} must be a string, not {type(value).__name__}")
        if not value.strip():
            raise ValueError(f"{name}.{key} is empty")
        result[key] = value if name == "options" else value.strip()
    return result


def check_options(settings: Mapping[str, str]) -> list[str]:
    """Every problem with CSV options (``ParseOptions.settings``), as ``key: why`` strings."""
    problems = [f"{key}: unknown option" for key in sorted(set(settings) - set(OPTION_KEYS))]
    source = settings.get("source")
    if source is not None and not _SOURCE_RE.match(source):
        problems.append(f"source: {source!r} is not a lower-case source name")
    zone = settings.get("time_zone")
    if zone is not None:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            problems.append(f"time_zone: unknown IANA time zone {zone!r}")
    currency = settings.get("currency")
    if currency is not None and pycountry.currencies.get(alpha_3=currency.upper()) is None:
        problems.append(f"currency: unknown ISO 4217 currency code {currency!r}")
    separator = settings.get("decimal_separator")
    if separator is not None and separator not in (".", ","):
        problems.append(f"decimal_separator: {separator!r} is neither '.' nor ','")
    delimiter = settings.get("delimiter")
    if delimiter not in (None, "auto") and (len(delimiter) != 1 or delimiter in '"\r\n'):
        problems.append(f"delimiter: {delimiter!r} is not one character or 'auto'")
    encoding = settings.get("encoding")
    if encoding is not None:
        try:
            io.TextIOWrapper(io.BytesIO(), encoding=encoding).detach()
        except LookupError:  # unknown, or not a text encoding (base64)
            problems.append(f"encoding: unknown text encoding {encoding!r}")
    for key in ("timestamp_format", "date_format"):
        if key in settings and "%" not in settings[key]:
            problems.append(f"{key}: {settings[key]!r} has no strftime directive")
    return problems


# --- Rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvSpec:
    """What a connector reads: its fields, and which columns the header must have."""

    fields: tuple[str, ...]
    required: tuple[str, ...] = ()
    """Fields whose column must be in the header."""
    any_of: tuple[tuple[str, ...], ...] = ()
    """Groups of fields of which at least one column must be in the header."""
    needs_currency: bool = False
    """A ``currency`` column or the ``currency`` option is needed."""


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV record: where it starts, its text, and its connector fields' non-empty values.

    ``problem`` is set when the record cannot be trusted as a whole (undecodable bytes, a field
    count that differs from the header's); ``values`` are then best effort.
    """

    line: int
    raw: str
    values: Mapping[str, str]
    problem: str | None = None
    header: str = ""

    @property
    def position(self) -> str:
        return f"line {self.line}"

    @property
    def replayable(self) -> str:
        """The row under its header: a CSV file of its own, so a dead letter can be replayed."""
        return f"{self.header}\n{self.raw}" if self.header else self.raw

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def read_rows(stream: BinaryIO, options: ParseOptions, spec: CsvSpec) -> Iterator[Row | ItemError]:
    """Every non-blank record of a CSV stream after its header, streamed.

    Yields a single :class:`ItemError` and nothing else when the options are invalid (position
    ``options``) or the header lacks a column the mapping names or the connector needs
    (position ``line 1``). A record the csv module cannot split becomes an :class:`ItemError`.
    """
    problems = check_options(options.settings)
    unknown = sorted(set(options.mapping) - set(spec.fields))
    if problems:
        yield ItemError.of("options", "", "invalid options: " + "; ".join(problems))
        return
    settings = options.settings
    encoding = settings.get("encoding", DEFAULT_ENCODING)
    text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline="")
    try:
        lines = _Lines(text)
        delimiter = settings.get("delimiter", DEFAULT_DELIMITER)
        if delimiter == "auto":
            delimiter = lines.sniff()
        reader = csv.reader(lines, delimiter=delimiter)
        records = _records(reader, lines, delimiter)
        header: _Record | None = None
        for record in records:
            if isinstance(record, ItemError):
                yield record
                continue
            header = record
            break
        if header is None:
            yield ItemError.of("line 1", "", "no header line: the file is empty")
            return
        layout = _Layout.of(header, options.mapping, settings, spec, unknown, encoding)
        if layout.problem is not None:
            yield ItemError.of(header.position, _display(header.raw), layout.problem)
            return
        for record in records:
            yield record if isinstance(record, ItemError) else layout.row(record)
    finally:
        text.detach()  # the caller owns the stream


@dataclass(frozen=True, slots=True)
class _Record:
    line: int
    cells: list[str]
    raw: str
    overlong: bool

    @property
    def position(self) -> str:
        return f"line {self.line}"


def _records(
    reader: Iterator[list[str]], lines: _Lines, delimiter: str
) -> Iterator[_Record | ItemError]:
    """Non-blank records with their starting line (a quoted field may span several lines)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    last = 0
    while True:
        start = last + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last = lines.count
            yield ItemError.of(f"line {start}", "", f"unreadable CSV: {exc}")
            continue
        last = lines.count
        if not any(cell.strip() for cell in cells):
            continue
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        overlong = lines.overlong_since(start)
        yield _Record(start, cells, buffer.getvalue().rstrip("\n"), overlong)


class _Lines:
    """The physical lines of a text stream, each cut at :data:`MAX_LINE_CHARS`, counted."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self._text = text
        self._pending: list[str] = []
        self.count = 0
        self._last_overlong = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._pending.pop() if self._pending else self._read()
        if not line:
            raise StopIteration
        self.count += 1
        if not line.endswith(("\n", "\r")) and len(line) >= MAX_LINE_CHARS:
            self._last_overlong = self.count
            while True:  # drop the rest of the line without holding it
                rest = self._text.readline(MAX_LINE_CHARS)
                if not rest or rest.endswith(("\n", "\r")):
                    break
            line += "\n"
        return line

    def _read(self) -> str:
        return self._text.readline(MAX_LINE_CHARS)

    def sniff(self) -> str:
        """The delimiter of the first line (put back to be read again); ``,`` when unclear."""
        first = self._read()
        self._pending.append(first)
        try:
            return csv.Sniffer().sniff(first, delimiters=SNIFFED_DELIMITERS).delimiter
        except csv.Error:
            return DEFAULT_DELIMITER

    def overlong_since(self, line: int) -> bool:
        return self._last_overlong >= line


@dataclass(frozen=True)
class _Layout:
    """The header resolved against a connector's fields: which cell holds which field."""

    width: int
    header: list[str]
    header_raw: str
    columns: dict[str, int]
    encoding_label: str
    problem: str | None = None

    @classmethod
    def of(
        cls,
        header: _Record,
        mapping: Mapping[str, str],
        settings: Mapping[str, str],
        spec: CsvSpec,
        unknown: list[str],
        encoding: str,
    ) -> _Layout:
        names = [cell.strip() for cell in header.cells]
        if names:
            names[0] = names[0].removeprefix("\ufeff")  # a BOM the encoding did not eat
        index: dict[str, int] = {}
        duplicates: set[str] = set()
        for position, name in enumerate(names):
            if name in index:
                duplicates.add(name)
            index.setdefault(name, position)
        label = _encoding_label(encoding)

        def column(name: str) -> str:
            return mapping.get(name, name)

        problems: list[str] = []
        if unknown:
            problems.append(
                f"the mapping names unknown fields {_names(unknown)}; "
                f"known: {', '.join(spec.fields)}"
            )
        undecodable = [name for name in names if _SURROGATES.search(name)]
        if undecodable:
            problems.append(f"header is not {label}: undecodable bytes")
        missing = [
            name
            for name in spec.fields
            if (name in mapping or name in spec.required) and column(name) not in index
        ]
        if missing:
            problems.append("missing columns: " + ", ".join(_describe(n, mapping) for n in missing))
        for group in spec.any_of:
            if not any(column(name) in index for name in group):
                problems.append(f"no column for any of {', '.join(group)}")
        if spec.needs_currency and column("currency") not in index and "currency" not in settings:
            problems.append("no currency column and no currency option")
        used = sorted({column(name) for name in spec.fields} & duplicates)
        if used:
            problems.append(f"duplicate columns {_names(used)}")
        columns = {name: index[column(name)] for name in spec.fields if column(name) in index}
        return cls(
            width=len(names),
            header=names,
            header_raw=header.raw,
            columns=columns,
            encoding_label=label,
            problem="; ".join(problems) if problems else None,
        )

    def row(self, record: _Record) -> Row:
        cells = record.cells
        values: dict[str, str] = {}
        for name, position in self.columns.items():
            if position < len(cells):
                value = cells[position].strip()
                if value:
                    values[name] = value.replace("\r\n", "\n") if "\r" in value else value
        problems: list[str] = []
        undecodable = [
            self.header[i] if i < self.width else f"#{i + 1}"
            for i, cell in enumerate(cells)
            if _SURROGATES.search(cell)
        ]
        if undecodable:
            problems.append(
                f"not {self.encoding_label}: undecodable bytes in "
                f"{'column' if len(undecodable) == 1 else 'columns'} {_names(undecodable)}"
            )
        extra = cells[self.width :]
        if len(cells) < self.width or any(cell.strip() for cell in extra):
            problems.append(f"{len(cells)} fields where the header has {self.width}")
        if record.overlong:
            problems.append(f"a line longer than {MAX_LINE_CHARS} characters")
        return Row(
            line=record.line,
            raw=_display(record.raw),
            header=_display(self.header_raw.rstrip("\r\n")),
            values=values,
            problem="; ".join(problems) if problems else None,
        )


def _encoding_label(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return "utf-8" if name in ("utf-8", "utf-8-sig") else encoding


def _display(text: str) -> str:
    """Text with undecodable bytes (kept as surrogates) shown as U+FFFD."""
    if not _SURROGATES.search(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _names(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _describe(name: str, mapping: Mapping[str, str]) -> str:
    column = mapping.get(name, name)
    return repr(column) if column == name else f"{column!r} ({name})"


# --- Values --------------------------------------------------------------------------------

TRUE_SPELLINGS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_SPELLINGS = frozenset({"false", "no", "n", "0", "f"})


@dataclass
class Values:
    """One item's values converted to canonical ones; problems are collected, not raised.

    Each converter returns ``None`` (and records ``field: why``) when the value is unusable,
    so an item reports all its bad fields at once. ``values`` may be a :class:`Row`'s or an
    order's merged values.
    """

    values: Mapping[str, str]
    options: ParseOptions
    source: str
    problems: list[str] = field(default_factory=list)

    def fail(self, name: str, message: str) -> None:
        column = self.options.mapping.get(name, name)
        label = name if column == name else f"{name} (column {column!r})"
        self.problems.append(f"{label}: {message}")

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None and required:
            self.fail(name, "missing")
        return value

    def whole(self, name: str, *, required: bool = False) -> int | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        if not _WHOLE_RE.match(value):
            self.fail(name, f"not a whole number: {value!r}")
            return None
        return int(value)

    def flag(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in TRUE_SPELLINGS:
            return True
        if value.lower() in FALSE_SPELLINGS:
            return False
        self.fail(name, f"expected true/false, yes/no or 1/0, not {value!r}")
        return None

    def timestamp(self, name: str, *, required: bool = False) -> dt.datetime | None:
        """A UTC timestamp; read in the ``time_zone`` option (UTC) when it has no offset."""
        value = self.text(name, required=required)
        if value is None:
            return None
        settings = self.options.settings
        try:
            return utc_timestamp(
                value,
                assume_zone=settings.get("time_zone", "UTC"),
                fmt=settings.get("timestamp_format"),
            )
        except ValueError as exc:
            self.fail(name, str(exc))
            return None

    def date(self, name: str) -> dt.date | None:
        """An ISO 8601 date, or in the ``date_format`` option."""
        value = self.text(name)
        if value is None:
            return None
        fmt = self.options.settings.get("date_format")
        try:
            if fmt:
                return dt.datetime.strptime(value, fmt).date()
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(name, f"date {value!r} is not {f'format {fmt!r}' if fmt else 'ISO 8601'}")
            return None

    def currency(self) -> str | None:
        """The ``currency`` column's value, else the ``currency`` option."""
        value = self.values.get("currency") or self.options.settings.get("currency")
        if value is None:
            self.fail("currency", "missing (no currency column value and no currency option)")
        return value

    def money(
        self, name: str, currency: str | None, *, required: bool = False
    ) -> dict[str, Any] | None:
        """An amount in major units as written (``decimal_separator`` option) → Money data."""
        value = self.text(name, required=required)
        if value is None or currency is None:
            return None
        separator = self.options.settings.get("decimal_separator", ".")
        try:
            amount = minor_units(value, currency, separator)
        except ValueError as exc:
            self.fail(name, str(exc))
            return None
        return {"amount": amount, "currency": currency}

    def identifiers(
        self, names: tuple[str, ...] = IDENTIFIER_FIELDS, *, required: bool = True
    ) -> list[Identifier]:
        """The identifiers among ``names``; invalid ones are dropped while another remains.

        With none left and ``required``, the problem names what was missing or invalid.
        """
        found: dict[str, Identifier] = {}
        dropped: list[str] = []
        context = {"default_region": self.options.default_region}
        for name in names:
            value = self.values.get(name)
            if value is None:
                continue
            kind = _IDENTIFIER_TYPES[name]
            data: dict[str, Any] = {"type": kind, "value": value}
            if kind is IdentifierType.EXTERNAL:
                data["source"] = self.source
            try:
                identifier = Identifier.model_validate(data, context=context)
            except ValidationError as exc:
                messages = (e["msg"].removeprefix("Value error, ") for e in exc.errors())
                dropped.append(f"{name}: {'; '.join(messages)}")
                continue
            found.setdefault(identifier.key, identifier)
        if not found and required:
            listed = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
            if dropped:
                self.problems.append(f"no valid {listed} ({'; '.join(dropped)})")
            else:
                self.problems.append(f"no {listed}")
        return list(found.values())
