"""Reading JSON sources item by item: JSON lines, a JSON array, or an object wrapping an array.

Sources hand over the same items in several shapes (an export file of JSON lines, a REST
response ``{"orders": [...]}``, a webhook body that is one object). :func:`json_items` accepts
them all and streams: a multi-GB array is never loaded whole.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO

import ijson
from pydantic import ValidationError

from connectors.base import (
    CurrencyOfOrder,
    Ignore,
    Ignored,
    ItemError,
    Parsed,
    ParseResult,
    Rejected,
)
from schemas import CanonicalRecord, describe_errors


@dataclass(frozen=True, slots=True)
class JsonItem:
    """One item: where it was, its text (for dead letters), and its value or why it has none."""

    position: str
    raw: str
    value: Any = None
    error: str | None = None


def dumps(value: Any) -> str:
    """Compact JSON of a parsed item (numbers may be Decimals from the streaming parser)."""
    return json.dumps(value, default=_decimal, ensure_ascii=False, separators=(",", ":"))


def plain_numbers(value: Any, depth: int = 1) -> Any:
    """The value with the parser's Decimals (numbers written with a fraction or an exponent)
    as floats, what a JSON document means by them. A number too large for a float becomes
    infinite, which the pipeline refuses to store rather than guess. Raises :class:`Rejected`
    for a value nested deeper than :data:`MAX_DEPTH` (as the streaming reader does)."""
    if isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            raise Rejected(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            return {key: plain_numbers(item, depth + 1) for key, item in value.items()}
        return [plain_numbers(item, depth + 1) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        # A whole number as an int only when it is short: 1e999999 is whole, and a million
        # digits long.
        if value.is_finite() and value.adjusted() < MAX_DIGITS and value == value.to_integral():
            return int(value)
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_results(
    stream: BinaryIO,
    wrappers: Sequence[str],
    build: Callable[[Any], Sequence[CanonicalRecord]],
    inherit: Sequence[str] = (),
    names: Callable[[Any], Iterable[str]] | None = None,
) -> Iterator[ParseResult]:
    """The records ``build`` makes of each JSON item, or one :class:`ItemError` per bad item.

    ``build`` raises :class:`Rejected` or a pydantic ``ValidationError`` for an item that cannot
    become records; the item is then rejected with that reason and the rest go on. It raises
    :class:`Ignore` for an item it reads and keeps nothing of: one :class:`Ignored` says why.
    ``names`` reads of a rejected item whom it is about, by their ids (``ItemError.names``).
    """
    yield from build_results(json_items(stream, wrappers, inherit), build, names)


def build_results(
    items: Iterable[JsonItem],
    build: Callable[[Any], Sequence[CanonicalRecord]],
    names: Callable[[Any], Iterable[str]] | None = None,
) -> Iterator[ParseResult]:
    """:func:`json_results` over items already read."""
    for item in items:
        if item.error is not None:
            yield ItemError.of(item.position, item.raw, item.error)
            continue
        try:
            records = build(item.value)
        except Ignore as exc:
            yield Ignored(position=item.position, reason=str(exc))
            continue
        except CurrencyOfOrder as exc:
            about = _named(names, item.value)
            yield ItemError.of(item.position, item.raw, str(exc), exc.order_record_id, about)
            continue
        except Rejected as exc:
            yield ItemError.of(item.position, item.raw, str(exc), names=_named(names, item.value))
            continue
        except ValidationError as exc:
            reason = describe_errors(exc)
            yield ItemError.of(item.position, item.raw, reason, names=_named(names, item.value))
            continue
        except RecursionError:  # a value nested past what reading it can follow
            yield ItemError.of(item.position, item.raw, "nested too deep to read")
            continue
        for record in records:
            yield Parsed(position=item.position, record=record, raw=item.raw)


def _named(names: Callable[[Any], Iterable[str]] | None, value: Any) -> list[str]:
    """Whom a rejected item is about, as ``names`` reads it: best effort, it never fails the
    item's rejection."""
    if names is None:
        return []
    try:
        return list(names(value))
    except Exception:
        return []


def json_items(
    stream: BinaryIO, wrappers: Sequence[str] = (), inherit: Sequence[str] = ()
) -> Iterator[JsonItem]:
    """Every item of the stream, in order (see :func:`_items`). A string holding a lone
    surrogate (``"\\ud800"`` with no pair: valid JSON, but no text) is read as it is: the
    ingest check of what the store can hold refuses the record it is in, with the path to it,
    and no other record of the item (a ticket, not its whole page)."""
    yield from _items(stream, wrappers, inherit)


def _items(
    stream: BinaryIO, wrappers: Sequence[str] = (), inherit: Sequence[str] = ()
) -> Iterator[JsonItem]:
    """Every item of the stream, in order.

    - JSON lines: each non-blank line is an item (``line N``); a line that is an object with
      one of the ``wrappers`` keys holding a list yields that list's items (``line N item M``).
    - A JSON array, or an object with a ``wrappers`` key holding an array, possibly spread over
      many lines: each element is an item (``item N``), streamed.
    - A document spread over many lines with no wrapper key (or no ``wrappers`` given) is one
      item: a pretty-printed webhook body.

    ``inherit`` names keys of the wrapper object (a Segment batch's ``context``) whose objects
    merge into each wrapped item, the item's own values winning. A line holds its wrapper
    whole; a document over several lines is read whole for it when within
    :data:`MAX_INHERITING_DOCUMENT` bytes, and streamed without inheriting when larger.
    """
    buffered = stream if isinstance(stream, io.BufferedReader) else _buffered(stream)
    if buffered.peek(len(BOM))[: len(BOM)] == BOM:
        buffered.read(len(BOM))  # RFC 8259 lets a reader ignore it; Windows tools write it
    head = buffered.peek(64).lstrip()
    if head.startswith(b"["):
        data = buffered.read(MAX_INHERITING_DOCUMENT + 1)
        whole = _whole_array(data) if len(data) <= MAX_INHERITING_DOCUMENT else None
        if whole is not None:
            yield from whole
            return
        yield from _streamed(rewound(data, buffered), "item")
        return
    first = buffered.readline()
    if _looks_like_a_line_item(first):
        yield from _lines(first, buffered, wrappers, inherit)
        return
    # A document over several lines: its wrapped list's items, or (no wrappers) the document.
    rest = io.BufferedReader(_Chain(first, buffered))
    if not wrappers:
        yield from _streamed(rest, "", label="document")
        return
    head = rest.read(MAX_INHERITING_DOCUMENT + 1)
    whole = (
        _whole_document(head, wrappers, inherit) if len(head) <= MAX_INHERITING_DOCUMENT else None
    )
    if whole is not None:
        yield from whole
        return
    yield from _streamed_wrapped(rewound(head, rest), wrappers)


BOM = b"\xef\xbb\xbf"
"""UTF-8's byte order mark, which a file may open with."""
MAX_INHERITING_DOCUMENT = 512 * 1024
"""A document up to this size is read whole: its wrapped items can inherit (Segment's HTTP API
takes batches of at most 500 KB), and an item the streaming parser would stop at (a ``NaN``,
nesting too deep) costs that item alone, as on a line of its own. Larger ones are streamed."""


def _loads(text: str | bytes) -> Any:
    """A whole JSON text, fractions as Decimals. Raises ``ValueError`` (an integer longer than
    Python reads, 4300 digits) or ``RecursionError`` (nesting past the interpreter's stack)."""
    return json.loads(text, parse_float=Decimal)


def _whole_array(data: bytes) -> list[JsonItem] | None:
    """The items of a whole array, or None to let the streaming reader handle it."""
    try:
        value = _loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    return [JsonItem(f"item {index}", dumps(item), item) for index, item in enumerate(value, 1)]


def _whole_document(
    data: bytes, wrappers: Sequence[str], inherit: Sequence[str]
) -> list[JsonItem] | None:
    """The wrapped items of a whole document, or None to let the streaming reader handle it."""
    try:
        value = _loads(data)
    except (ValueError, RecursionError):
        return None
    if _nested_too_deep(data, value):
        return None  # the streaming reader refuses it with its reason
    wrapped = _wrapped_list(value, wrappers)
    if wrapped is None:
        return None
    return [
        JsonItem(f"item {index}", dumps(item), item)
        for index, item in enumerate(_inheriting(wrapped, value, inherit), start=1)
    ]


def _inheriting(items: list[Any], wrapper: Any, keys: Sequence[str]) -> list[Any]:
    shared = {
        k: wrapper[k]
        for k in keys
        if isinstance(wrapper, dict) and isinstance(wrapper.get(k), dict)
    }
    if not shared:
        return items
    merged = []
    for item in items:
        if isinstance(item, dict):
            for key, value in shared.items():
                own = item.get(key)
                item = {**item, key: {**value, **own} if isinstance(own, dict) else value}
        merged.append(item)
    return merged


def rewound(head: bytes, rest: BinaryIO) -> BinaryIO:
    """A stream of bytes already read from ``rest``, then the rest of it."""
    return io.BufferedReader(_Chain(head, rest))


def _buffered(stream: BinaryIO) -> io.BufferedReader:
    """A peekable view of any binary stream (a file, standard input, an HTTP body)."""
    return io.BufferedReader(_Chain(b"", stream))


def _looks_like_a_line_item(line: bytes) -> bool:
    """A pretty-printed document's first line opens a structure and stops (``{``,
    ``{"orders": [``); anything else is the first item of a JSON-lines file, even a broken one."""
    text = line.strip()
    return not (text.startswith(b"{") and text.endswith((b"{", b"[", b",")))


def _lines(
    first: bytes, rest: BinaryIO, wrappers: Sequence[str], inherit: Sequence[str]
) -> Iterator[JsonItem]:
    number = 0
    for raw in _prepend(first, rest):
        number += 1
        if not raw.strip():
            continue
        position = f"line {number}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield JsonItem(
                position,
                raw.decode("utf-8", "replace"),
                error=f"not UTF-8: {exc.reason} at byte {exc.start}",
            )
            continue
        text = text.rstrip("\r\n")
        try:
            value = _loads(text)
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}"
            yield JsonItem(position, text, error=reason)
            continue
        except (ValueError, RecursionError) as exc:  # a number too long, nesting too deep
            yield JsonItem(position, text, error=f"unreadable JSON: {_first_line(exc)}")
            continue
        if _nested_too_deep(raw, value):
            yield JsonItem(position, text, error=f"invalid JSON: {_too_deep()}")
            continue
        wrapped = _wrapped_list(value, wrappers)
        if wrapped is None:
            yield JsonItem(position, text, value)
            continue
        for index, item in enumerate(_inheriting(wrapped, value, inherit), start=1):
            yield JsonItem(f"{position} item {index}", dumps(item), item)


def _wrapped_list(value: Any, wrappers: Sequence[str]) -> list[Any] | None:
    if isinstance(value, dict):
        for key in wrappers:
            if isinstance(value.get(key), list):
                items: list[Any] = value[key]
                return items
    return None


def _streamed(stream: BinaryIO, prefix: str, label: str = "item") -> Iterator[JsonItem]:
    count = 0
    try:
        for value in ijson.items(_guarded_events(stream), prefix):
            count += 1
            yield JsonItem(f"{label} {count}", dumps(value), value)
    except (ijson.JSONError, UnicodeDecodeError, _Refused) as exc:
        yield JsonItem(f"after item {count}", "", error=f"invalid JSON: {_first_line(exc)}")


def _streamed_wrapped(stream: BinaryIO, keys: Sequence[str]) -> Iterator[JsonItem]:
    """Items of the first top-level wrapper list, streamed; with no wrapper, the document.

    A pretty-printed webhook body (one object, no wrapper) is thus one item, while a multi-GB
    ``{"orders": [...]}`` export is never held in memory whole.
    """
    count = 0
    try:
        for value in _wrapped_values(stream, set(keys)):
            count += 1
            yield JsonItem(f"item {count}", dumps(value), value)
    except (ijson.JSONError, UnicodeDecodeError, _Refused) as exc:
        yield JsonItem(f"after item {count}", "", error=f"invalid JSON: {_first_line(exc)}")


def _wrapped_values(stream: BinaryIO, keys: set[str]) -> Iterator[Any]:
    root: Any = ijson.ObjectBuilder()  # the whole document, until a wrapper list shows up
    item: Any = None
    item_prefixes = {f"{key}.item" for key in keys}
    for prefix, event, value in _guarded_events(stream):
        if root is not None:
            if prefix in keys and event == "start_array":
                root = None  # from here on, stream the list's items
            else:
                root.event(event, value)
            continue
        if item is not None:
            item.event(event, value)
            if prefix in item_prefixes and event in ("end_map", "end_array"):
                yield item.value
                item = None
        elif prefix in item_prefixes:
            if event in ("start_map", "start_array"):
                item = ijson.ObjectBuilder()
                item.event(event, value)
            elif event not in ("end_array", "map_key"):
                yield value
    if root is not None:
        yield root.value


MAX_DEPTH = 64
_READ_SIZE = 1024
MAX_DIGITS = 4000
"""Longer digit runs are refused before the parser sees them: the C parser crashes on numbers
past Python's integer-conversion limit (4300 digits) instead of raising."""


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels"


def _nested_too_deep(data: bytes, value: Any) -> bool:
    """Whether a parsed document nests deeper than :data:`MAX_DEPTH` (as the streaming reader
    refuses): its brackets are counted first, so a shallow one costs no walk."""
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return False
    level: list[tuple[Any, int]] = [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            level.extend((child, depth + 1) for child in children)
    return False


class _Refused(Exception):
    """Input the streaming parser must not be given (too deep, a number too long)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _guarded_events(stream: BinaryIO) -> Iterator[tuple[str, str, Any]]:
    depth = 0
    # Small reads: the depth check runs after each read's events, and a read's worth of nesting
    # costs the parser memory quadratic in its depth (it builds every prefix string).
    events = ijson.parse(_DigitGuard(stream), buf_size=_READ_SIZE, use_float=False)
    for prefix, event, value in events:
        if event in ("start_map", "start_array"):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(_too_deep())
        elif event in ("end_map", "end_array"):
            depth -= 1
        yield prefix, event, value


_DIGIT_RUN = re.compile(rb"[0-9]{%d,}" % MAX_DIGITS)
_DIGITS = b"0123456789"


class _DigitGuard(io.RawIOBase):
    """Passes a stream through, refusing a run of more than MAX_DIGITS digits (across reads)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._run = 0  # digits at the end of what was read so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        if data:
            leading = len(data) - len(data.lstrip(_DIGITS))
            if self._run + leading >= MAX_DIGITS or _DIGIT_RUN.search(data):
                raise _Refused(f"a number longer than {MAX_DIGITS} digits")
            trailing = len(data) - len(data.rstrip(_DIGITS))
            self._run = self._run + leading if leading == len(data) else trailing
        buffer[: len(data)] = data
        return len(data)


class _Chain(io.RawIOBase):
    """Bytes already read, then the rest of the stream, as one readable stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _prepend(first: bytes, rest: BinaryIO) -> Iterator[bytes]:
    yield first
    yield from rest
