"""Reading a CSV stream row by row, with a header checked once.

:func:`read_rows` decodes the byte stream incrementally (``encoding`` option, default UTF-8
with or without a BOM), splits it with the ``delimiter`` option (``"auto"`` sniffs the header
line), checks the header once against the connector's :class:`CsvSpec` and the caller's
mapping, then yields one :class:`Row` per non-blank record with its starting line, so a quoted
field spanning lines does not shift positions. Empty cells count as missing.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from connectors.base import MAX_RAW_CHARS, ItemError, ParseOptions, Unreadable
from connectors.csv._options import check_options, quoted_names

DEFAULT_ENCODING = "utf-8-sig"
DEFAULT_DELIMITER = ","
SNIFFED_DELIMITERS = ",;\t|"
MAX_LINE_CHARS = 1_000_000
"""A physical line longer than this is cut (and its row rejected), so memory stays bounded."""
_SURROGATES = re.compile("[\udc80-\udcff]")
ENCODING_HINT = (
    'import the file again with its encoding ([options] encoding = "cp1252" for Excel on '
    'Windows, "latin-1", …)'
)
"""How to read a file saved in another encoding: said with every row it garbles."""


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

    Raises :class:`Unreadable` before yielding anything when the options are invalid (position
    ``options``) or the mapping names a field the connector does not have (``mapping``), both
    whatever the input, or when the header cannot be split or lacks a column the mapping names
    or the connector needs (``line 1``): the file is not what the import was told it is. An
    empty file yields nothing. A later record the csv module cannot split becomes an
    :class:`ItemError`.
    """
    problems = check_options(options.settings)
    if problems:
        raise Unreadable("options", "invalid options: " + "; ".join(problems), options_only=True)
    unknown = sorted(set(options.mapping) - set(spec.fields))
    if unknown:
        raise Unreadable(
            "mapping",
            f"the mapping names unknown fields {quoted_names(unknown)}; "
            f"known: {', '.join(spec.fields)}",
            options_only=True,
        )
    settings = options.settings
    encoding = settings.get("encoding", DEFAULT_ENCODING)
    text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline="")
    try:
        lines = _Lines(text)
        delimiter = settings.get("delimiter", DEFAULT_DELIMITER)
        if delimiter == "auto":
            delimiter = lines.sniff()
        # strict: a quote left open to the end of the file is an error, not its rows folded
        # into one field
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        records = _records(reader, lines, delimiter)
        header = next(records, None)
        if isinstance(header, ItemError):  # the csv module cannot split the first record
            raise Unreadable(header.position, f"the header cannot be read: {header.reason}")
        if header is None:
            return  # an empty file: nothing to read, as a header alone
        layout = _Layout.of(header, options.mapping, settings, spec, encoding, delimiter)
        if layout.problem is not None:
            raise Unreadable(header.position, layout.problem)
        for record in records:
            yield layout.unsplit(record) if isinstance(record, ItemError) else layout.row(record)
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
        lines.mark()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last = lines.count
            # What it read of the record is its raw input: it names the dead letter.
            yield ItemError.of(f"line {start}", lines.since_mark(), f"unreadable CSV: {exc}")
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
        self._since_mark: list[str] = []
        self._marked_chars = 0

    def mark(self) -> None:
        """Start keeping the lines read from here (what a record that cannot be split was)."""
        self._since_mark.clear()
        self._marked_chars = 0

    def since_mark(self) -> str:
        """The lines read since :meth:`mark`, at most ``MAX_RAW_CHARS`` of them kept."""
        return "".join(self._since_mark)

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
        if self._marked_chars < MAX_RAW_CHARS:
            self._since_mark.append(line)
            self._marked_chars += len(line)
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
        encoding: str,
        delimiter: str = DEFAULT_DELIMITER,
    ) -> _Layout:
        names = [cell.strip() for cell in header.cells]
        if names:
            names[0] = names[0].removeprefix("\ufeff")  # a BOM the encoding did not eat
        index: dict[str, int] = {}
        loose: dict[str, list[int]] = {}
        duplicates: set[str] = set()
        for position, name in enumerate(names):
            if name in index:
                duplicates.add(name)
            index.setdefault(name, position)
            loose.setdefault(_loosely(name), []).append(position)
        label = _encoding_label(encoding)

        def column(name: str) -> str:
            return mapping.get(name, name)

        # A column named as the field or the mapping says, else one that differs only in case
        # and separators ("Email", "Customer ID" for email, customer_id), as CRMs export them.
        ambiguous: dict[str, list[str]] = {}
        for name in spec.fields:
            wanted = column(name)
            if wanted in index:
                continue
            found = loose.get(_loosely(wanted), [])
            if len(found) == 1:
                index[wanted] = found[0]
            elif found:
                ambiguous[wanted] = [names[i] for i in found]

        problems: list[str] = []
        undecodable = [name for name in names if _SURROGATES.search(name)]
        if undecodable:
            problems.append(f"header is not {label}: undecodable bytes; {ENCODING_HINT}")
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
            problems.append(f"duplicate columns {quoted_names(used)}")
        for wanted, candidates in sorted(ambiguous.items()):
            problems.append(f"columns {quoted_names(candidates)} could each be {wanted!r}")
        if problems and len(names) == 1:
            others = [d for d in SNIFFED_DELIMITERS if d != delimiter and d in names[0]]
            if others:
                problems.append(
                    f"the header is one column when split at {delimiter!r}: is the delimiter "
                    f'{others[0]!r}? ([options] delimiter = {others[0]!r}, or "auto")'
                )
        columns = {name: index[column(name)] for name in spec.fields if column(name) in index}
        return cls(
            width=len(names),
            header=names,
            header_raw=header.raw,
            columns=columns,
            encoding_label=label,
            problem="; ".join(problems) if problems else None,
        )

    def unsplit(self, error: ItemError) -> ItemError:
        """A record the csv module could not split, under the header: a CSV file of its own,
        as every rejected row's dead letter is, so it can be replayed once mended."""
        header = _display(self.header_raw.rstrip("\r\n"))
        return ItemError.of(error.position, f"{header}\n{_display(error.raw)}", error.reason)

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
                f"{'column' if len(undecodable) == 1 else 'columns'} {quoted_names(undecodable)}"
                f"; {ENCODING_HINT}"
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


def _loosely(name: str) -> str:
    """A column name without case, and with any run of spaces, ``-`` and ``_`` as one ``_``."""
    return re.sub(r"[\s_-]+", "_", name.strip().casefold())


def _encoding_label(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return "utf-8" if name in ("utf-8", "utf-8-sig") else encoding


def _display(text: str) -> str:
    """Text with undecodable bytes (kept as surrogates) shown as U+FFFD."""
    if not _SURROGATES.search(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _describe(name: str, mapping: Mapping[str, str]) -> str:
    column = mapping.get(name, name)
    return repr(column) if column == name else f"{column!r} ({name})"
