"""Can the store hold this record? The ingest stage between the connectors and linking.

Connectors validate what a record means; what MongoDB can hold is narrower: integers within 64
bits, finite numbers (the embedded store refuses NaN and infinities), strings of valid Unicode
(no lone surrogates), object keys without NUL characters and not starting with ``$`` (which the
driver and the store read as operators or as DBRef and date wrappers), documents nested less
than 100 levels and smaller than 16 MiB. A record that breaks one of these is refused here,
with its input item, before anything of its batch is linked or written: no identity, profile or
derived document is ever made for a record that is not stored.

Cheap on purpose: one walk over each record's values (no serialisation), and an exact BSON
encoding only for the rare record whose estimated size comes near the limit.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import bson
from pydantic import BaseModel

from c360.store import Document
from connectors import ItemError, Parsed
from schemas import CanonicalRecord
from schemas.quoting import SHOWN_CHARACTERS, shown

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""MongoDB's largest document (``maxBsonObjectSize``)."""
MAX_NESTING = 64
"""Levels of objects and arrays a record may hold, the record itself being the first. MongoDB
refuses documents nested deeper than 100, and a record is stored one level down (``data``);
the JSON readers stop at the same 64."""
_EXACT_SIZE_FROM = 1024 * 1024
"""Estimated bytes from which a record's document is encoded to measure it exactly. The
estimate is an upper bound of its content, which the stored document repeats at most twice
(identifiers and their keys) with a small envelope: far below the limit under this."""
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class Unstorable(Exception):
    """A value the store cannot hold; ``str()`` says what and where."""

    def __init__(self, reason: str, path: Sequence[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = list(path)

    def __str__(self) -> str:
        where = ".".join(reversed(self.path))
        return f"{where}: {self.reason}" if where else self.reason


def check_record(record: CanonicalRecord) -> int:
    """Raise :class:`Unstorable` when the store cannot hold the record; else return an upper
    bound of its content's size in bytes."""
    return _walk(record, 1)


def check_document(doc: Document, estimate: int) -> None:
    """The exact size check, for a record whose estimate (``check_record``) comes near it."""
    if estimate < _EXACT_SIZE_FROM:
        return
    size = len(bson.encode(doc))
    if size > MAX_DOCUMENT_BYTES:
        raise Unstorable(
            f"a record of {size:,} bytes; the store holds documents of up to "
            f"{MAX_DOCUMENT_BYTES:,} bytes"
        )


def refuse_unstorable(
    parsed: Sequence[Parsed], draft: Callable[[CanonicalRecord], Document]
) -> tuple[list[Parsed], list[Document], list[ItemError]]:
    """The stage: the records the store can hold with their documents (``draft`` makes one),
    and one error per input item any of whose records it cannot hold. An item's records
    (adjacent, one position) are kept or refused together: an order is not stored without the
    customer it came with."""
    kept: list[Parsed] = []
    docs: list[Document] = []
    errors: list[ItemError] = []
    refused: str | None = None  # the position of the item being refused
    for item in parsed:
        if item.position == refused:
            continue
        try:
            estimate = check_record(item.record)
            doc = draft(item.record)
            check_document(doc, estimate)
        except Unstorable as exc:
            reason = f"cannot be stored: {exc}"
        else:
            kept.append(item)
            docs.append(doc)
            continue
        refused = item.position
        errors.append(ItemError.of(item.position, item.raw_text(), reason))
        while kept and kept[-1].position == refused:  # its records already kept
            kept.pop()
            docs.pop()
    return kept, docs, errors


# --- the walk ---------------------------------------------------------------------------------


def _walk(value: Any, depth: int) -> int:
    """Check one value and everything in it; returns an upper bound of its encoded size."""
    kind = type(value)
    if kind is str:
        return _text(value)
    if kind is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise Unstorable(f"{_number(value)} is outside the 64-bit integers the store holds")
        return 16
    if value is None or kind is bool or kind is dt.datetime:
        return 16
    if kind is dict:
        return _members(_keys(value), depth)
    if kind is list or kind is tuple:
        return _members(enumerate(value), depth)
    if isinstance(value, BaseModel):
        return _members(value.__dict__.items(), depth)
    if isinstance(value, enum.Enum):
        return _walk(value.value, depth)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int):
        return _walk(int(value), depth)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unstorable(f"{value} is not a number the store holds")
        return 16
    if isinstance(value, dt.date | dt.time):  # a datetime, or a date or time stored as text
        return 40
    raise Unstorable(f"{shown(value)} ({kind.__name__}) is not a value the store holds")


def _members(members: Iterable[tuple[str | int, Any]], depth: int) -> int:
    """An object's or array's members, each named by its key or position."""
    if depth > MAX_NESTING:
        raise Unstorable(f"nested deeper than {MAX_NESTING} levels")
    size = 16
    for name, item in members:
        if item is None:  # not stored (no explicit nulls)
            continue
        try:
            size += 32 + (len(name) if type(name) is str else 0) + _walk(item, depth + 1)
        except Unstorable as exc:
            exc.path.append(str(name))
            raise
    return size


def _keys(mapping: dict[Any, Any]) -> Iterator[tuple[str, Any]]:
    """A mapping's members, refused at the mapping when a key is not one the store takes."""
    for key, item in mapping.items():
        if not isinstance(key, str):
            raise Unstorable(f"a key {shown(key)} that is not text")
        if key.startswith("$"):
            raise Unstorable(
                f"a key starting with '$' ({shown(key)}), which the store reads as an operator"
            )
        if "\x00" in key:
            raise Unstorable(f"a key with a NUL character ({shown(key)})")
        _text(key)
        yield key, item


def _text(text: str) -> int:
    if text.isascii():
        return 8 + len(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Unstorable(
            f"text with a lone surrogate (U+{ord(text[exc.start]):04X}), which is not Unicode "
            f"the store can hold"
        ) from None
    return 8 + 4 * len(text)


def _number(value: int) -> str:
    digits = len(str(abs(value))) if abs(value).bit_length() < 10_000 else None
    if digits is not None and digits <= SHOWN_CHARACTERS:
        return str(value)
    return f"a number of {digits:,} digits" if digits else "a huge number"
