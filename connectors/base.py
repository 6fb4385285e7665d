"""What every connector declares, receives and yields."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar, Protocol

from schemas import CanonicalRecord, Identifier, RecordKind
from schemas.identifiers import IdentifierType, identity_key, normalize_value

MAX_RAW_CHARS = 64_000
"""Raw input kept with an item error; longer items are cut (the position still finds them)."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """A valid canonical record, where in the input it came from, and that input item (what a
    dead letter keeps should the pipeline refuse the record after all: a value the store cannot
    hold). ``raw`` may be a function giving the text, for sources whose items have no text of
    their own until asked (a ticket inside an export page)."""

    position: str
    record: CanonicalRecord
    raw: str | Callable[[], str] = ""

    def raw_text(self) -> str:
        return self.raw() if callable(self.raw) else self.raw


@dataclass(frozen=True, slots=True)
class ItemError:
    """An input item that could not become a record: where, what it was, and why."""

    position: str
    raw: str
    reason: str
    currency_of: str | None = None
    """The record id of an order whose currency the item's amounts are in but does not state
    (a refund): the pipeline looks the order up and reads the item again in its currency."""
    names: tuple[str, ...] = ()
    """Identity keys of whom the item is about, as far as the connector could read them (a
    source's customer id): its dead letter is found by them, so an erasure of that person
    removes it, and an import meeting it again while they are erased leaves it out. E-mail
    addresses and phone numbers need not be here: they are found in the raw text."""

    @classmethod
    def of(
        cls,
        position: str,
        raw: str | bytes,
        reason: str,
        currency_of: str | None = None,
        names: Iterable[str] = (),
    ) -> ItemError:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        return cls(
            position,
            storable_text(text[:MAX_RAW_CHARS]),
            storable_text(reason),
            currency_of,
            tuple(dict.fromkeys(storable_text(n) for n in names)),
        )


_NAMED_BY_ID = {IdentifierType.EXTERNAL, IdentifierType.LOYALTY, IdentifierType.ANONYMOUS}


def identity_names(identifiers: Any) -> list[str]:
    """The identity keys of the ids among identifiers, validated or dicts not yet validated
    (what a rejected item names its person by, beside addresses and numbers): best effort,
    never raising."""
    found: list[str] = []
    for identifier in identifiers if isinstance(identifiers, list) else ():
        if isinstance(identifier, Identifier):  # validated already
            if identifier.type in _NAMED_BY_ID:
                found.append(identifier.key)
            continue
        if not isinstance(identifier, Mapping):
            continue
        value, source = identifier.get("value"), identifier.get("source")
        try:
            kind = IdentifierType(str(identifier.get("type")))
        except ValueError:
            continue
        if kind not in _NAMED_BY_ID or not isinstance(value, str | int) or isinstance(value, bool):
            continue
        if kind is IdentifierType.EXTERNAL and not isinstance(source, str):
            continue
        try:
            normal = normalize_value(kind, str(value), None)
        except ValueError:
            continue
        if normal:
            found.append(identity_key(kind, normal, source))
    return found


LOST = "\ufffd"
"""What stands in a kept raw input for bytes that were not text in the input's encoding."""


def kept_whole(raw: str) -> bool:
    """Whether a raw input kept with an item error can be the item as it came: not when bytes
    of it were not text (kept as ``LOST``: which bytes is not known any more) or it was cut at
    ``MAX_RAW_CHARS``. Reading such a raw again would store ``LOST`` or a cut value as data."""
    return LOST not in raw and len(raw) < MAX_RAW_CHARS


def storable_text(text: str) -> str:
    """Text the store can keep: a lone surrogate (read from a JSON ``\\ud800`` escape, which
    no UTF-8 can hold) is written back as that escape."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


@dataclass(frozen=True, slots=True)
class Ignored:
    """An input item the connector read and deliberately keeps nothing of (a Shopify test
    order, an ``orders/edited`` body, a Segment ``group`` call): not an error, counted as
    ignored with the reason, so nothing a source sends disappears unseen."""

    position: str
    reason: str


ParseResult = Parsed | ItemError | Ignored


class Rejected(Exception):
    """Raised while building an item's records: the item cannot become records; the message
    says why (naming the source's field)."""


class CurrencyOfOrder(Rejected):
    """Raised for an item whose amounts are in its order's currency, which it does not state:
    the item is rejected unless the pipeline knows the order (``order_record_id``) and reads the
    item again with ``settings["currency"]`` set to the order's."""

    def __init__(self, reason: str, order_record_id: str) -> None:
        super().__init__(reason)
        self.order_record_id = order_record_id


class Unreadable(Exception):
    """Raised by ``parse`` when the input as a whole cannot be read as the connector was told:
    options it cannot use, a CSV header that cannot be split or lacks a column the mapping
    names or the connector needs. Raised before any item is read, so nothing of the input is
    kept, stored or dead-lettered: the caller refuses the run, and the same input read with
    the right options is read whole."""

    def __init__(self, position: str, reason: str, *, options_only: bool = False) -> None:
        super().__init__(f"{position}: {reason}")
        self.position = position
        self.reason = storable_text(reason)
        self.options_only = options_only
        """The options alone are unusable, whatever the input (a mapping naming a field the
        connector does not have): no input is read with them."""


class Ignore(Exception):
    """Raised while building an item's records: the item is understood and deliberately
    kept out (becomes :class:`Ignored` with the message as its reason)."""


@dataclass(frozen=True, kw_only=True)
class ParseOptions:
    """What a connector may be told by its caller (all from settings or the command line).

    The region and the complaint tags have no defaults here: they are the settings'
    (``C360_DEFAULT_REGION``, ``C360_COMPLAINT_TAGS``), handed in by ``Settings.parse_options``.
    """

    default_region: str
    """Region for phone numbers written without a country code."""
    complaint_tags: frozenset[str]
    """Service-case tags (or types) that mark a complaint."""
    mapping: Mapping[str, str] = field(default_factory=dict)
    """CSV connectors: canonical field → column name in the file, overriding the defaults."""
    settings: Mapping[str, str] = field(default_factory=dict)
    """Source name, time zone, timestamp format, currency, decimal separator (CSV connectors;
    the JSON ones read the source name and currency)."""


JSON_MEDIA_TYPES = (
    "application/json",
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "text/plain",
)
"""What a JSON connector reads: a JSON document or JSON lines (NDJSON), under any of the names
clients give them."""
CSV_MEDIA_TYPES = ("text/csv", "application/csv", "text/plain")
"""What a CSV connector reads."""


class Connector(Protocol):
    """A source format: a byte stream in, one result per input item out, lazily.

    ``parse`` must read the stream incrementally (constant memory on multi-GB files), yield for
    every input item its records (a Shopify order also yields its customer and consents) or one
    :class:`ItemError`, and never raise on a bad item: a broken item becomes an error, the rest
    go on. Only an input it cannot read at all as it was told (its options, a CSV header)
    raises :class:`Unreadable`, before yielding anything.
    """

    name: ClassVar[str]
    kinds: ClassVar[tuple[RecordKind, ...]]
    media_types: ClassVar[tuple[str, ...]]
    """The media types of the bodies it reads, in UTF-8 (a push of another is refused, 415)."""

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]: ...
