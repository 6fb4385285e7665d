"""Identity rules: which identifiers may link people, how many a profile may hold, and which
profiles must never be merged. Built from settings; pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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
      person would be a merge of two customers; it becomes a review suggestion instead.
    """

    blocked: tuple[re.Pattern[str], ...] = tuple(re.compile(p) for p in DEFAULT_BLOCKED)
    limits: Mapping[IdentifierType, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    priority: tuple[IdentifierType, ...] = DEFAULT_PRIORITY

    @classmethod
    def from_settings(
        cls,
        blocked: Iterable[str],
        limits: Mapping[str, int],
        priority: Iterable[str],
    ) -> IdentityRules:
        order = tuple(IdentifierType(p) for p in priority)
        missing = [t for t in IdentifierType if t not in order]
        return cls(
            blocked=tuple(re.compile(p, re.IGNORECASE) for p in blocked),
            limits={IdentifierType(k): v for k, v in limits.items()},
            priority=order + tuple(missing),
        )

    def is_blocked(self, identifier: Identifier) -> bool:
        key = identifier.key
        return any(pattern.search(key) for pattern in self.blocked)

    def rank(self, identifier: Identifier) -> int:
        return self.priority.index(identifier.type)

    def limit(self, kind: IdentifierType) -> int | None:
        return self.limits.get(kind)
