"""Reading JSON sources item by item: JSON lines, a JSON array, or an object wrapping an array.

Sources hand over the same items in several shapes (an export file of JSON lines, a REST
response ``{"orders": [...]}``, a webhook body that is one object). :func:`json_items` accepts
them all and streams: a multi-GB array is never loaded whole.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO

import ijson


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


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_items(stream: BinaryIO, wrappers: Sequence[str] = ()) -> Iterator[JsonItem]:
    """Every item of the stream, in order.

    - JSON lines: each non-blank line is an item (``line N``); a line that is an object with
      one of the ``wrappers`` keys holding a list yields that list's items (``line N item M``).
    - A JSON array, or an object with a ``wrappers`` key holding an array, possibly spread over
      many lines: each element is an item (``item N``), streamed.
    - Without ``wrappers``, a document spread over many lines is one item (``document 1``).
    """
    buffered = stream if isinstance(stream, io.BufferedReader) else _buffered(stream)
    head = buffered.peek(64).lstrip()
    if head.startswith(b"["):
        yield from _streamed(buffered, "item")
        return
    first = buffered.readline()
    if _is_complete_json(first) or not first.strip():
        yield from _lines(first, buffered, wrappers)
        return
    # A document over several lines: its wrapped list's items, or (no wrappers) the document.
    rest = io.BufferedReader(_Chain(first, buffered))
    if not wrappers:
        yield from _streamed(rest, "", label="document")
        return
    yield from _streamed_wrapped(rest, [f"{key}.item" for key in wrappers])


def _buffered(stream: BinaryIO) -> io.BufferedReader:
    """A peekable view of any binary stream (a file, standard input, an HTTP body)."""
    return io.BufferedReader(_Chain(b"", stream))


def _is_complete_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _lines(first: bytes, rest: BinaryIO, wrappers: Sequence[str]) -> Iterator[JsonItem]:
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
        try:
            value = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            yield JsonItem(position, text, error=f"invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        wrapped = _wrapped_list(value, wrappers)
        if wrapped is None:
            yield JsonItem(position, text.rstrip("\r\n"), value)
            continue
        for index, item in enumerate(wrapped, start=1):
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
        for value in ijson.items(stream, prefix, use_float=False):
            count += 1
            yield JsonItem(f"{label} {count}", dumps(value), value)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        yield JsonItem(f"after item {count}", "", error=f"invalid JSON: {reason}")


def _streamed_wrapped(stream: BinaryIO, prefixes: Sequence[str]) -> Iterator[JsonItem]:
    count = 0
    try:
        for prefix, event, value in _item_events(stream, prefixes):
            del prefix, event
            count += 1
            yield JsonItem(f"item {count}", dumps(value), value)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        yield JsonItem(f"after item {count}", "", error=f"invalid JSON: {reason}")
        return
    if count == 0 and prefixes:
        keys = ", ".join(p.removesuffix(".item") for p in prefixes)
        yield JsonItem("document", "", error=f"no list of items under any of: {keys}")


def _item_events(stream: BinaryIO, prefixes: Sequence[str]) -> Iterator[tuple[str, str, Any]]:
    """Complete values found at any of the prefixes, in document order."""
    wanted = set(prefixes)
    builder: Any = None
    depth_prefix = ""
    for prefix, event, value in ijson.parse(stream, use_float=False):
        if builder is None:
            if prefix in wanted and event in ("start_map", "start_array"):
                builder = ijson.ObjectBuilder()
                depth_prefix = prefix
                builder.event(event, value)
            elif prefix in wanted and event in ("string", "number", "boolean", "null"):
                yield prefix, event, value
            continue
        builder.event(event, value)
        if prefix == depth_prefix and event in ("end_map", "end_array"):
            yield depth_prefix, event, builder.value
            builder = None


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
