"""One search box for everything an agent may be told: what the text can be, and the profiles
it finds, each with what it was found by.

The rule (:func:`readings`): an ``@`` makes an e-mail address; a leading ``#`` an order number;
a phone number written with spaces or a ``+`` a phone number; one word of letters, digits and
``-._:/`` holding a digit an order number, an order id or a ticket id (and, when it is all
digits, the beginning of a phone number too); anything else a name. A name, an address or a
phone number is found as ``searchProfiles`` finds it (prefixes, and whole values only for
callers who read contact points masked); a reference by the records that carry it: orders
numbered so by any source (``#1042`` or ``1042``), and orders and service cases of that id from
the sources of ``C360_REFERENCE_SOURCES`` (``shopify:order:5001``, ``zendesk:service_case:88123``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from c360.errors import InvalidInput
from c360.lookup.repository import ReferenceRepository
from c360.profiles.search import phone_prefix
from c360.profiles.service import MAX_SEARCH_RESULTS, ProfileService
from c360.profiles.types import Profile
from c360.records.types import Record
from schemas.quoting import shown
from schemas.records import RecordKind


class FindBy(enum.StrEnum):
    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"
    ORDER = "order"
    TICKET = "ticket"


_REFERENCE = re.compile(r"#?([A-Za-z0-9][A-Za-z0-9._:/-]{0,63})")
_PHONE_WRITTEN = re.compile(r"[+\d][\d\s().\-/]*")
_SEARCHED = frozenset({FindBy.NAME, FindBy.EMAIL, FindBy.PHONE})
_REFERENCES = frozenset({FindBy.ORDER, FindBy.TICKET})


def readings(text: str) -> frozenset[FindBy]:
    """What the text can be, by its shape alone."""
    text = text.strip()
    if "@" in text:
        return frozenset({FindBy.EMAIL})
    if text.startswith("#"):
        return frozenset({FindBy.ORDER})
    if _PHONE_WRITTEN.fullmatch(text) and (text.startswith("+") or " " in text):
        return frozenset({FindBy.PHONE})
    if _REFERENCE.fullmatch(text) and any(c.isdigit() for c in text):
        if text.isdigit():
            return frozenset({FindBy.PHONE, FindBy.ORDER, FindBy.TICKET})
        return _REFERENCES
    return frozenset({FindBy.NAME})


def searched_as(text: str, default_region: str) -> FindBy:
    """What ``ProfileService.search`` takes the text for."""
    if "@" in text:
        return FindBy.EMAIL
    if phone_prefix(text, default_region):
        return FindBy.PHONE
    return FindBy.NAME


@dataclass(frozen=True)
class Match:
    profile: Profile
    by: FindBy
    record: Record | None = None  # the order or case a reference found


@dataclass(frozen=True)
class Matches:
    matches: list[Match]
    has_more: bool


class LookupService:
    def __init__(
        self,
        profiles: ProfileService,
        references: ReferenceRepository,
        default_region: str,
        order_sources: Sequence[str],
        ticket_sources: Sequence[str],
    ) -> None:
        self._profiles = profiles
        self._references = references
        self._region = default_region
        self._order_sources = tuple(order_sources)
        self._ticket_sources = tuple(ticket_sources)

    async def find(
        self,
        text: str,
        *,
        by: Collection[FindBy] | None = None,
        first: int = 20,
        whole_contact_points: bool = False,
    ) -> Matches:
        """The profiles the text finds, references first (newest record first), then people
        by name, address or number; a profile once. ``by`` narrows what the text is read as
        (a screen pop knows it holds a ticket id)."""
        if not 0 < first <= MAX_SEARCH_RESULTS:
            raise InvalidInput(f"first must be between 1 and {MAX_SEARCH_RESULTS}, not {first}")
        text = text.strip()
        if len(text) < 2:
            raise InvalidInput("search text needs at least two characters")
        wanted = readings(text) if by is None else frozenset(by)
        matches = await self._by_reference(text, wanted & _REFERENCES)
        searched = searched_as(text, self._region)
        if searched in wanted:
            try:
                page = await self._profiles.search(
                    text, first=MAX_SEARCH_RESULTS, whole_contact_points=whole_contact_points
                )
            except InvalidInput:
                if not matches:  # nothing else the text could be found as: say why
                    raise
            else:
                matches += [Match(profile, searched) for profile in page.profiles]
        elif not wanted & _REFERENCES:
            raise InvalidInput(f"{shown(text)} cannot be read as {_listed(wanted)}")
        unique = list(_once_per_profile(matches))
        return Matches(unique[:first], has_more=len(unique) > first)

    async def _by_reference(self, text: str, kinds: frozenset[FindBy]) -> list[Match]:
        if not kinds:
            return []
        reference = _REFERENCE.fullmatch(text)
        if reference is None:
            raise InvalidInput(f"{shown(text)} is no order number, order id or ticket id")
        value = reference[1]
        ids = []
        found: list[Record] = []
        if FindBy.ORDER in kinds:
            found += await self._references.orders_numbered([f"#{value}", value])
            ids += [f"{source}:order:{value}" for source in self._order_sources]
        if FindBy.TICKET in kinds:
            ids += [f"{source}:service_case:{value}" for source in self._ticket_sources]
        found += await self._references.by_ids(ids)
        linked = [r for r in found if r.profile_id is not None]
        linked.sort(key=lambda r: r.position, reverse=True)  # newest first
        # A profile merged away since shows as its survivor.
        profiles = await self._profiles.get_many([str(r.profile_id) for r in linked])
        return [
            Match(profile, _found_by(record), record)
            for record, profile in zip(linked, profiles, strict=True)
            if profile is not None
        ]


def _found_by(record: Record) -> FindBy:
    return FindBy.TICKET if record.kind is RecordKind.SERVICE_CASE else FindBy.ORDER


def _once_per_profile(matches: Iterable[Match]) -> Iterable[Match]:
    seen: set[str] = set()
    for match in matches:
        if match.profile.id not in seen:
            seen.add(match.profile.id)
            yield match


def _listed(kinds: Iterable[FindBy]) -> str:
    return " or ".join(sorted(k.value for k in kinds)) or "nothing"
