"""A profile's traits, folded from its person records with provenance.

Traits are not stored on the profile: they are a fold over the person records the profile holds,
so a merge (records repointed) yields the union of both sides and an unmerge (records handed
back) restores each side, with nothing to copy or to undo. Per field, the most recent non-empty
value wins (by the record's revision: its ``updated_at``, else when it happened; ties go to the
higher record id so the result does not depend on arrival order), and it says where it came
from. Postal addresses are contact points: every distinct one is kept, with its sources and when
it was first and last seen.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from c360.records.types import Record

TRAIT_FIELDS = (
    "given_name",
    "family_name",
    "full_name",
    "birth_date",
    "language",
    "country",
    "time_zone",
    "account_owner",
)


@dataclass(frozen=True)
class Provenance:
    source: str
    record_id: str
    observed_at: dt.datetime


@dataclass(frozen=True)
class Trait:
    name: str
    value: str
    provenance: Provenance


@dataclass
class SeenAddress:
    address: Mapping[str, Any]
    sources: list[str]
    first_seen: dt.datetime
    last_seen: dt.datetime


@dataclass
class Traits:
    fields: dict[str, Trait] = field(default_factory=dict)
    addresses: list[SeenAddress] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        trait = self.fields.get(name)
        return None if trait is None else trait.value

    @property
    def display_name(self) -> str | None:
        """The name most recently given: the full name, unless a given or family name came
        after it (then those two as they are known), as every trait is its latest value."""
        full = self.fields.get("full_name")
        parts = [self.fields[n] for n in ("given_name", "family_name") if n in self.fields]
        latest_part = max((p.provenance.observed_at for p in parts), default=None)
        if full is not None and (latest_part is None or full.provenance.observed_at >= latest_part):
            return full.value
        values = [p.value for p in parts]
        if len(values) == 2 and all(map(written_east_asian, values)):
            return values[1] + values[0]  # 王小明, 佐藤健二, 김민수: the family name first
        return " ".join(values) or None


def written_east_asian(name: str) -> bool:
    """Whether a name is written in Chinese characters, kana or hangul only: such names are
    written family name first, without a space between."""
    letters = [c for c in name if not c.isspace()]
    return bool(letters) and all(
        unicodedata.name(c, "").startswith(_EAST_ASIAN_SCRIPTS) for c in letters
    )


_EAST_ASIAN_SCRIPTS = ("CJK ", "HIRAGANA ", "KATAKANA ", "HANGUL ")


def _address_key(address: Mapping[str, Any]) -> tuple[str, ...]:
    """Two spellings of one address are one contact point (case and spacing aside)."""
    parts = ("line1", "line2", "postal_code", "city", "region", "country")
    return tuple(" ".join(str(address.get(p) or "").split()).casefold() for p in parts)


def fold_traits(people: Iterable[Record]) -> Traits:
    """``people``: the profile's person records."""
    traits = Traits()
    chosen: dict[str, tuple[dt.datetime, str]] = {}
    addresses: dict[tuple[str, ...], SeenAddress] = {}
    for record in people:
        observed = record.revision
        rank = (observed, record.id)
        data = record.payload
        for name in TRAIT_FIELDS:
            value = data.get(name)
            if value is None or not str(value).strip():
                continue
            if name not in chosen or rank > chosen[name]:
                chosen[name] = rank
                provenance = Provenance(record.source, record.id, observed)
                traits.fields[name] = Trait(name, str(value), provenance)
        for address in data.get("addresses") or ():
            key = _address_key(address)
            seen = addresses.get(key)
            if seen is None:
                addresses[key] = SeenAddress(address, [record.source], observed, observed)
                continue
            if observed > seen.last_seen:
                seen.address, seen.last_seen = address, observed  # the latest spelling
            seen.first_seen = min(seen.first_seen, observed)
            if record.source not in seen.sources:
                seen.sources.append(record.source)
    traits.fields = {name: traits.fields[name] for name in TRAIT_FIELDS if name in traits.fields}
    traits.addresses = sorted(addresses.values(), key=lambda a: a.last_seen, reverse=True)
    for seen in traits.addresses:
        seen.sources.sort()
    return traits
