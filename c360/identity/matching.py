"""Probabilistic matching: records whose identifiers do not link, but are likely one person.

A Fellegi-Sunter score: each field two profiles both state compares at one of a few levels
(``FIELDS``: a family name agrees, is close, or differs), and adds log2(m/u) for that level,
where m is how often one person's two profiles compare at it and u how often two different
people's do. Missing values add nothing. The total is the log2 likelihood ratio of "one person"
against "two people"; how sure a given total is depends on the population (see
``calibration.py``, which estimates m and u from the store's own records without labels). The
defaults (``DEFAULT_WEIGHTS``) are documented orders of magnitude; ``C360_IDENTITY_MATCH_WEIGHTS``
overrides any of them.

Candidates come from blocking keys kept in the store (``match_keys``), so only profiles sharing
a phonetic name, a birth date, a phone tail or a postcode are ever compared. A key that too many
profiles share (a common name) says little and would cost a comparison with each of them: such
blocks are skipped (``MAX_BLOCK``), as blocking rules do in record-linkage tools.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jellyfish

KEYS_VERSION = 2
"""The rules the blocking keys and features are written under. A profile's written under
older ones is compared afresh, its keys rewritten, the next time a record of it arrives or by
``c360 identity rekey`` (2:
names in other scripts block and compare by their letters, where version 1 gave them all one
empty sound)."""
MAX_BLOCK = 50
"""A blocking key shared by more profiles than this is not used to find candidates."""
CLOSE_NAME = 0.8
"""Jaro-Winkler similarity from which two family names that do not agree are still close (a
typo the 0.92 of agreement misses, as in Garcia and Gaocia)."""

NICKNAMES = {
    name: group[0]
    for group in (
        ("robert", "bob", "rob", "bobby"),
        ("william", "bill", "will", "billy"),
        ("elizabeth", "liz", "beth", "lisa", "eliza"),
        ("jose", "pepe"),
        ("francisco", "paco", "curro", "fran"),
        ("dolores", "lola"),
        ("manuel", "manolo"),
        ("antonio", "toni", "tony"),
        ("margaret", "maggie", "meg", "peggy"),
        ("katherine", "kate", "katie", "kathy", "catherine"),
        ("alexander", "alex", "sasha"),
        ("thomas", "tom", "tommy"),
        ("james", "jim", "jimmy"),
        ("michael", "mike", "mick"),
        ("jonathan", "jon", "john", "johnny"),
        ("anna", "ana", "ann", "anne", "annie"),
    )
    for name in group
}


@dataclass(frozen=True)
class Features:
    """What matching compares of a profile, from its people records (the latest non-empty)."""

    given: str | None = None
    family: str | None = None
    birth_date: str | None = None
    postal_code: str | None = None
    phones: tuple[str, ...] = ()

    def updated_with(self, newer: Features) -> Features:
        """These features with ``newer``'s known values over them (later values win)."""
        return Features(
            given=newer.given or self.given,
            family=newer.family or self.family,
            birth_date=newer.birth_date or self.birth_date,
            postal_code=newer.postal_code or self.postal_code,
            phones=tuple(sorted(set(self.phones) | set(newer.phones))),
        )

    @property
    def describes_someone(self) -> bool:
        """Whether there is anything to tell two people apart by (a given name, a birth date)."""
        return bool(self.given or self.birth_date)


def features_of(people: Iterable[Mapping[str, Any]], phones: Iterable[str]) -> Features:
    """From person record payloads, oldest first (later values win), and the profile's phones."""
    given = family = birth_date = postal_code = None
    for data in people:
        given = _clean(data.get("given_name")) or given
        family = _clean(data.get("family_name")) or family
        if not (data.get("given_name") or data.get("family_name")) and data.get("full_name"):
            parts = str(data["full_name"]).split()
            if len(parts) >= 2:
                given, family = _clean(parts[0]), _clean(" ".join(parts[1:]))
        birth_date = data.get("birth_date") or birth_date
        for address in data.get("addresses", []):
            postal_code = _clean(address.get("postal_code")) or postal_code
    return Features(given, family, birth_date, postal_code, tuple(sorted(set(phones))))


BLOCKED_FIELDS: dict[str, tuple[str, ...]] = {
    "dob": ("birth_date",),
    "name": ("family", "given"),
    "postal": ("postal_code", "family"),
    "tail": ("phone",),
}
"""The fields each kind of blocking key is made of (they always agree within its blocks)."""


def blocking_keys(f: Features) -> set[str]:
    keys = set()
    if f.birth_date:
        keys.add(f"dob:{f.birth_date}")
    if f.given and f.family:
        # Both names by sound, in either order (swapped names meet), nicknames as their name.
        given = _sound_key(NICKNAMES.get(f.given, f.given))
        family = _sound_key(f.family)
        keys.add(f"name:{min(given, family)}:{max(given, family)}")
    if f.postal_code and f.family:
        keys.add(f"postal:{f.postal_code}:{_sound_key(f.family)}")
    keys.update(f"tail:{phone[-7:]}" for phone in f.phones if len(phone) >= 9)
    return keys


FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "family": ("family name", ("agrees", "close (typo?)", "differs")),
    "given": ("given name", ("agrees", "same initial", "differs")),
    "birth_date": ("birth date", ("equal", "close (typo?)", "differs")),
    "phone": ("phone", ("agrees", "differs")),
    "postal_code": ("postal code", ("equal", "differs (moved?)")),
}
"""Each compared field: its label, and the levels two values can compare at, best first."""

DEFAULT_WEIGHTS: dict[str, dict[str, tuple[float, float]]] = {
    "family": {"agrees": (0.90, 0.004), "close (typo?)": (0.05, 0.01), "differs": (0.05, 0.986)},
    "given": {"agrees": (0.90, 0.02), "same initial": (0.05, 0.06), "differs": (0.05, 0.92)},
    "birth_date": {
        "equal": (0.95, 0.0001),
        "close (typo?)": (0.03, 0.001),
        "differs": (0.02, 0.9989),
    },
    "phone": {"agrees": (0.6, 0.0001), "differs": (0.4, 0.9999)},
    "postal_code": {"equal": (0.5, 0.005), "differs (moved?)": (0.5, 0.995)},
}
"""(m, u) per field and level, before calibration on your own data (``c360 identity
calibrate``). m: how often one person's two profiles compare at that level; u: how often two
different people's do. The u's are orders of magnitude for a national customer base: family
names agree for 1 random pair in ~250 (the sum of squared surname frequencies in Spain, where
García alone is 3%), given names for 1 in 50, birth dates for 1 in 10 000 (70 years of
birthdays, with the clustering on 1 January that forms produce), postcodes for 1 in 200 (a
regional business). The m's say how clean sources are: a typo in a name or a date for a few in
a hundred, a nickname for one in twenty, a move for one in two over a customer's lifetime, a
different phone for two in five."""


@dataclass(frozen=True)
class Weights:
    """m and u per field and level; a level adds log2(m/u) to the score (see the module
    docstring). ``DEFAULT_WEIGHTS`` with any given values over them."""

    table: Mapping[str, Mapping[str, tuple[float, float]]] = field(
        default_factory=lambda: DEFAULT_WEIGHTS
    )

    @classmethod
    def over_defaults(cls, values: Mapping[str, Mapping[str, Iterable[float]]]) -> Weights:
        """Defaults with ``values`` over them; refuses unknown fields, levels, and m or u
        outside (0, 1)."""
        table = {name: dict(levels) for name, levels in DEFAULT_WEIGHTS.items()}
        for name, levels in values.items():
            if name not in FIELDS:
                raise ValueError(f"unknown match field {name!r}; known: {', '.join(FIELDS)}")
            for level, pair in levels.items():
                if level not in FIELDS[name][1]:
                    known = ", ".join(FIELDS[name][1])
                    raise ValueError(f"unknown level {level!r} of {name}; known: {known}")
                m, u = (float(x) for x in pair)
                if not (0 < m < 1 and 0 < u < 1):
                    raise ValueError(f"{name} {level}: m and u must be within (0, 1)")
                table[name][level] = (m, u)
        return cls(table)

    def weight(self, name: str, level: str) -> float:
        m, u = self.table[name][level]
        return math.log2(m / u)


@dataclass
class Score:
    total: float = 0.0
    fields: list[tuple[str, str, float]] = field(default_factory=list)

    def add(self, name: str, outcome: str, weight: float) -> None:
        self.total += weight
        self.fields.append((name, outcome, round(weight, 1)))

    def explain(self) -> str:
        parts = [f"{name} {outcome} ({weight:+.1f})" for name, outcome, weight in self.fields]
        return f"probabilistic score {self.total:.1f}: " + ", ".join(parts)


def compare(a: Features, b: Features) -> dict[str, str]:
    """The level at which ``a`` and ``b`` compare on each field both have."""
    levels: dict[str, str] = {}
    swapped = _names_swapped(a, b)
    if a.family and b.family:
        if _similar(a.family, b.family) or swapped:
            levels["family"] = "agrees"
        elif jellyfish.jaro_winkler_similarity(a.family, b.family) >= CLOSE_NAME:
            levels["family"] = "close (typo?)"
        else:
            levels["family"] = "differs"
    if a.given and b.given:
        if _same_given(a.given, b.given) or swapped:
            levels["given"] = "agrees"
        elif a.given[0] == b.given[0]:
            levels["given"] = "same initial"
        else:
            levels["given"] = "differs"
    if a.birth_date and b.birth_date:
        if a.birth_date == b.birth_date:
            levels["birth_date"] = "equal"
        elif _dates_compatible(a.birth_date, b.birth_date):
            levels["birth_date"] = "close (typo?)"
        else:
            levels["birth_date"] = "differs"
    if a.phones and b.phones:
        tails_a, tails_b = {p[-7:] for p in a.phones}, {p[-7:] for p in b.phones}
        shared = set(a.phones) & set(b.phones) or tails_a & tails_b
        levels["phone"] = "agrees" if shared else "differs"
    if a.postal_code and b.postal_code:
        # People move: a different postcode is weak evidence against, not a veto.
        same = a.postal_code == b.postal_code
        levels["postal_code"] = "equal" if same else "differs (moved?)"
    return levels


def score(a: Features, b: Features, weights: Weights | None = None) -> Score:
    w = weights or Weights()
    result = Score()
    for name, level in compare(a, b).items():
        result.add(FIELDS[name][0], level, w.weight(name, level))
    return result


def conflicts(a: Features, b: Features) -> list[str]:
    """The person attributes on which ``a`` and ``b`` are clearly two people.

    Birth dates conflict when they differ by more than a typing slip (one digit, or day and month
    swapped); given names when they are neither similar, nicknames of each other, swapped with
    the family name, nor share their initial (Charly and Carlos may be one person; Ana and Luis
    are not). The family name never decides alone: households share it, and people change it.
    """
    found = []
    if a.given and b.given and not _given_compatible(a.given, b.given, a, b):
        found.append("given name")
    if a.birth_date and b.birth_date and not _dates_compatible(a.birth_date, b.birth_date):
        found.append("birth date")
    return found


def differ(attributes: Sequence[str]) -> str:
    """Why two people are two: "given name differs", "given name and birth date differ"."""
    return f"{' and '.join(attributes)} {'differs' if len(attributes) == 1 else 'differ'}"


def named_alike(a: Features | None, b: Features | None, *, born_alike: bool = False) -> bool:
    """Whether both state a given and a family name, the same ones (case, accents and spacing
    aside), and nothing else clearly tells them apart (a birth date); with ``born_alike``, both
    also state the same birth date."""
    if a is None or b is None or not (a.given and a.family and b.given and b.family):
        return False
    if born_alike and not (a.birth_date and a.birth_date == b.birth_date):
        return False
    return a.given == b.given and a.family == b.family and not conflicts(a, b)


def _given_compatible(given_a: str, given_b: str, a: Features, b: Features) -> bool:
    return given_a[0] == given_b[0] or _same_given(given_a, given_b) or _names_swapped(a, b)


def _dates_compatible(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) != len(b):
        return False
    if sum(x != y for x, y in zip(a, b, strict=True)) == 1:
        return True
    year_a, _, rest_a = a.partition("-")
    year_b, _, rest_b = b.partition("-")
    month, _, day = rest_a.partition("-")
    return year_a == year_b and rest_b == f"{day}-{month}"


_OFTEN_LEFT_OUT = {"\u0301", "\u0308"}
"""Marks people write or leave out of a name: the acute on Greek vowels (the tonos: Ελένη,
ΕΛΕΝΗ), the diaeresis on them and on Cyrillic ie (ё in Фёдоров, often typed without its dots).
Not on other letters, where they make another (Macedonian ѓ, ќ)."""


def _left_out(mark: str, base: str) -> bool:
    """Whether ``mark`` on ``base`` is one people write or leave out."""
    greek = "\u0370" <= base <= "\u03ff"
    return mark in _OFTEN_LEFT_OUT and (greek or (base == "\u0435" and mark == "\u0308"))


def _clean(value: Any) -> str | None:
    """Lower-case, single-spaced, without the accents of Latin letters: García and Garcia
    compare equal. Marks on the letters of other scripts stay, but those often left out
    (``_OFTEN_LEFT_OUT``): they make other letters (й is not и, が not か, a Devanagari vowel
    sign is the syllable's vowel)."""
    text = " ".join(str(value).split()).lower() if value else ""
    kept: list[str] = []
    for c in unicodedata.normalize("NFKD", text):
        mark = unicodedata.combining(c)
        if mark and kept and (kept[-1].isascii() or _left_out(c, kept[-1])):
            continue
        kept.append(c)
    return unicodedata.normalize("NFC", "".join(kept)) or None


def _sound_key(name: str) -> str:
    """What a name sounds like, for blocking: its Metaphone code for a name in Latin letters,
    else the name itself (Metaphone reads Latin letters only, and has nothing for 山田 or
    Петров)."""
    return jellyfish.metaphone(name) or name


def _similar(a: str, b: str) -> bool:
    """A typo (Jaro-Winkler ≥ 0.92) or the same sound (Smith, Smyth). Only names in Latin
    letters have a sound here: two names Metaphone reads nothing of (Иван, 山田) are not alike
    for that."""
    if jellyfish.jaro_winkler_similarity(a, b) >= 0.92:
        return True
    sound = jellyfish.metaphone(a)
    return bool(sound) and sound == jellyfish.metaphone(b)


def _same_given(a: str, b: str) -> bool:
    return _similar(a, b) or NICKNAMES.get(a, a) == NICKNAMES.get(b, b)


def _names_swapped(a: Features, b: Features) -> bool:
    return bool(
        a.given
        and a.family
        and b.given
        and b.family
        and _similar(a.given, b.family)
        and _similar(a.family, b.given)
    )
