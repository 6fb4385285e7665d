"""Identity rules: which identifiers may link people, how many a profile may hold, and which
profiles must never be merged. Built from settings; pure."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import phonenumbers

from schemas import Identifier, IdentifierType

DEFAULT_BLOCKED = (
    # Placeholder addresses shops and call centres type in when a customer gives none.
    r"^email:(no-?reply|do-?not-?reply|donotreply|noemail|no-?email|none|null|unknown)@",
    r"^email:(test|example|sample|fake|dummy|asdf|qwerty)@(test|example|mail|email)\.",
    r"^email:[^@]+@(test\.com|mailinator\.com)$",
    # One digit repeated (+34000000000, 1111111111) and other made-up numbers.
    r"^phone:\+\d{0,3}?(\d)\1{6,}$",
    r"^phone:\+\d{0,3}?(0123456789|1234567890|123456789)$",
)
"""Blocked identity keys, as regular expressions (``email:…``, ``phone:+…``)."""

DEFAULT_LIMITS = {
    IdentifierType.EMAIL: 10,
    IdentifierType.PHONE: 10,
    IdentifierType.LOYALTY: 5,
    IdentifierType.ANONYMOUS: 500,
}

DEFAULT_SHAREABLE = (IdentifierType.PHONE,)
"""Identifier types several people may use (a household landline, a parent's mobile)."""

DEFAULT_HOUSEHOLD_LINES = ("fixed_line", "toll_free", "shared_cost", "uan")
"""Phone line types (libphonenumber's) that belong to a place, not to a person."""

DEFAULT_PRIORITY = (
    IdentifierType.EXTERNAL,
    IdentifierType.LOYALTY,
    IdentifierType.EMAIL,
    IdentifierType.PHONE,
    IdentifierType.ANONYMOUS,
)


@dataclass(frozen=True)
class IdentityRules:
    """What may link a record to a person.

    - ``blocked``: identity keys matching any pattern never link anyone (kept on the record).
    - ``limits``: a profile holds at most so many identifiers of a type; more are kept on the
      record, flagged, and do not link (the profile keeps working).
    - ``priority``: when a record's identifiers point at different profiles, the one linked by
      the highest-priority identifier wins.
    - External ids: a profile holds one per source. Two different ids of one source on one
      person would be a merge of two customers; it becomes a review suggestion instead. The
      exception is an alias (the source saying two of its ids are one person): the ids it
      names may share a profile (see ``c360.identity.linking``).
    - ``shareable``: types of identifier that several people may use (a household landline).
      Alone, one does not link a person record to a profile, nor merge two profiles, whose
      person attributes (given name, birth date) clearly conflict: that is a review suggestion,
      and the identifier is flagged shared; a shared identifier links nobody from then on.
      E-mail addresses and customer ids stay strong: they link whatever the attributes say.
    - ``household_lines``: phone line types that belong to a place (a home's landline, an
      office switchboard) rather than to a person. Such a number decides the profile only of a
      record that names nothing else, never brings a record's other identifiers into a profile
      nor merges two, and is flagged shared as soon as records of a second profile name it.
      A household shares a line, not a full name: a person record whose given and family
      names both agree with the holder's is linked through it like through a personal phone
      (once the line is flagged shared, only if their birth dates agree too).
      Where a numbering plan does not tell landlines from mobiles (``fixed_line_or_mobile``,
      as in North America) numbers are treated as personal.
    """

    blocked: tuple[re.Pattern[str], ...] = tuple(re.compile(p) for p in DEFAULT_BLOCKED)
    limits: Mapping[IdentifierType, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    priority: tuple[IdentifierType, ...] = DEFAULT_PRIORITY
    shareable: frozenset[IdentifierType] = frozenset(DEFAULT_SHAREABLE)
    household_lines: frozenset[str] = frozenset(DEFAULT_HOUSEHOLD_LINES)

    @classmethod
    def from_settings(
        cls,
        blocked: Iterable[str],
        limits: Mapping[str, int],
        priority: Iterable[str],
        shareable: Iterable[str] = tuple(DEFAULT_SHAREABLE),
        household_lines: Iterable[str] = DEFAULT_HOUSEHOLD_LINES,
    ) -> IdentityRules:
        order = tuple(IdentifierType(p) for p in priority)
        missing = [t for t in IdentifierType if t not in order]
        return cls(
            blocked=tuple(re.compile(p, re.IGNORECASE) for p in blocked),
            limits={IdentifierType(k): v for k, v in limits.items()},
            priority=order + tuple(missing),
            shareable=frozenset(IdentifierType(t) for t in shareable),
            household_lines=frozenset(household_lines),
        )

    def is_blocked(self, identifier: Identifier) -> bool:
        return _blocked(self.blocked, identifier.key)

    def rank(self, identifier: Identifier) -> int:
        return self.priority.index(identifier.type)

    def limit(self, kind: IdentifierType) -> int | None:
        return self.limits.get(kind)

    def household(self, identifier: Identifier) -> bool:
        """Whether the identifier is a place's phone line (a landline), not a person's."""
        if identifier.type is not IdentifierType.PHONE or not self.household_lines:
            return False
        return line_type(identifier.value) in self.household_lines

    def weak(self, kinds: Iterable[IdentifierType]) -> bool:
        """Whether a link made only through identifiers of these types is a weak one."""
        return all(kind in self.shareable for kind in kinds)


LINE_TYPES = {
    value: name.lower()
    for name, value in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}
"""libphonenumber's line types by number: ``fixed_line``, ``mobile``, ``voip``…"""


@functools.lru_cache(maxsize=65_536)
def line_type(e164: str) -> str:
    """The line type of an E.164 number by its numbering plan (``unknown`` if it has none)."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return "unknown"
    return LINE_TYPES.get(phonenumbers.number_type(number), "unknown")


@functools.lru_cache(maxsize=65_536)
def _blocked(patterns: tuple[re.Pattern[str], ...], key: str) -> bool:
    """Whether any pattern finds the key (a batch asks of each key several times)."""
    return any(pattern.search(key) for pattern in patterns)
