"""What every connector declares and yields."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar, Protocol

from schemas import CanonicalRecord, RecordKind

MAX_RAW_CHARS = 64_000
"""Raw input kept with an item error; longer items are cut (the position still finds them)."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """A valid canonical record and where in the input it came from."""

    position: str
    record: CanonicalRecord


@dataclass(frozen=True, slots=True)
class ItemError:
    """An input item that could not become a record: where, what it was, and why."""

    position: str
    raw: str
    reason: str

    @classmethod
    def of(cls, position: str, raw: str | bytes, reason: str) -> ItemError:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        return cls(position=position, raw=text[:MAX_RAW_CHARS], reason=reason)


ParseResult = Parsed | ItemError


class Connector(Protocol):
    """A source format. ``parse`` reads a stream of raw lines lazily (constant memory)."""

    name: ClassVar[str]
    kinds: ClassVar[tuple[RecordKind, ...]]

    def parse(self, lines: Iterable[bytes], *, default_region: str) -> Iterator[ParseResult]: ...
