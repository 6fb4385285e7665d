"""Probabilistic matching: records whose identifiers do not link, but are likely one person.

A Fellegi-Sunter score: each compared field adds log2(m/u) when the two profiles agree on it
and log2((1-m)/(1-u)) when they disagree, where m is how often true matches agree on the field
and u how often non-matches do. Missing values add nothing. The m/u defaults are the usual
orders of magnitude for person data (a birth date is shared by 1 in ~10 000 random pairs, a
phone number by almost none); they are settings, to be calibrated on labelled pairs.

Candidates come from blocking keys kept in the store (``match_keys``), so only profiles sharing
a phonetic name, a birth date, a phone tail or a postcode are ever compared. A key that too many
profiles share (a common name) says little and would cost a comparison with each of them: such
blocks are skipped (``MAX_BLOCK``), as blocking rules do in record-linkage tools.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jellyfish

MAX_BLOCK = 50
"""A blocking key shared by more profiles than this is not used to find candidates."""

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

    def to_doc(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, ())}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Features:
        return cls(
            given=doc.get("given"),
            family=doc.get("family"),
            birth_date=doc.get("birth_date"),
            postal_code=doc.get("postal_code"),
            phones=tuple(doc.get("phones", ())),
        )


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


def blocking_keys(f: Features) -> set[str]:
    keys = set()
    if f.birth_date:
        keys.add(f"dob:{f.birth_date}")
    if f.given and f.family:
        # Both names by sound, in either order (swapped names meet), nicknames as their name.
        given = jellyfish.metaphone(NICKNAMES.get(f.given, f.given))
        family = jellyfish.metaphone(f.family)
        keys.add(f"name:{min(given, family)}:{max(given, family)}")
    if f.postal_code and f.family:
        keys.add(f"postal:{f.postal_code}:{jellyfish.metaphone(f.family)}")
    keys.update(f"tail:{phone[-7:]}" for phone in f.phones if len(phone) >= 9)
    return keys


@dataclass(frozen=True)
class Weights:
    """m and u per field (see the module docstring)."""

    family: tuple[float, float] = (0.95, 0.002)
    given: tuple[float, float] = (0.92, 0.02)
    birth_date: tuple[float, float] = (0.97, 0.0002)
    phone: tuple[float, float] = (0.85, 0.0001)
    postal_code: tuple[float, float] = (0.75, 0.005)

    def agree(self, name: str) -> float:
        m, u = getattr(self, name)
        return math.log2(m / u)

    def disagree(self, name: str) -> float:
        m, u = getattr(self, name)
        return math.log2((1 - m) / (1 - u))


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


def score(a: Features, b: Features, weights: Weights | None = None) -> Score:
    w = weights or Weights()
    result = Score()
    swapped = _names_swapped(a, b)
    if a.family and b.family:
        if _similar(a.family, b.family) or swapped:
            result.add("family name", "agrees", w.agree("family"))
        else:
            result.add("family name", "differs", w.disagree("family"))
    if a.given and b.given:
        if _same_given(a.given, b.given) or swapped:
            result.add("given name", "agrees", w.agree("given"))
        elif a.given[0] == b.given[0]:
            result.add("given name", "same initial", 0.0)
        else:
            result.add("given name", "differs", w.disagree("given"))
    if a.birth_date and b.birth_date:
        same = a.birth_date == b.birth_date
        result.add(
            "birth date",
            "equal" if same else "differs",
            w.agree("birth_date") if same else w.disagree("birth_date"),
        )
    if a.phones and b.phones:
        tails_a, tails_b = {p[-7:] for p in a.phones}, {p[-7:] for p in b.phones}
        if set(a.phones) & set(b.phones) or tails_a & tails_b:
            result.add("phone", "agrees", w.agree("phone"))
    if a.postal_code and b.postal_code:
        same = a.postal_code == b.postal_code
        # People move: a different postcode is weak evidence against, not a veto.
        result.add(
            "postal code",
            "equal" if same else "differs (moved?)",
            w.agree("postal_code") if same else w.disagree("postal_code") / 2,
        )
    return result


def _clean(value: Any) -> str | None:
    """Lower-case, single-spaced, without accents: García and Garcia compare equal."""
    text = " ".join(str(value).split()).lower() if value else ""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text or None


def _similar(a: str, b: str) -> bool:
    """A typo (Jaro-Winkler ≥ 0.92) or the same sound (Smith, Smyth)."""
    return jellyfish.jaro_winkler_similarity(a, b) >= 0.92 or jellyfish.metaphone(
        a
    ) == jellyfish.metaphone(b)


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
