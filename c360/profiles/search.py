"""Finding profiles by what an agent types: a name, an e-mail or a phone number, or a prefix.

The text decides what is searched: with an ``@`` it is an e-mail prefix; mostly digits, a phone
prefix (normalised like ingest: a leading ``00`` or ``+`` is a country code, otherwise the
default region's); anything else, name words, each a prefix of a given, family or full name
(case and accents aside), all of which must match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers

_WORD = re.compile(r"[^\W_]+")
_PHONE_CHARS = re.compile(r"^[+\d][\d\s().\-/]*$")
NAME_FIELDS = ("given_name", "family_name", "full_name")


def fold(text: str) -> str:
    """Lower case without accents: 'García' and 'garcia' are one term."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_terms(data: Mapping[str, Any]) -> list[str]:
    """The words of a person record's names, folded (what name search matches)."""
    words = {w for name in NAME_FIELDS if data.get(name) for w in _WORD.findall(fold(data[name]))}
    return sorted(words)


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def phone_prefix(text: str, default_region: str) -> str | None:
    """``+34 611 2`` → ``phone:+346112``; a national prefix gets the region's country code."""
    if not _PHONE_CHARS.match(text.strip()):
        return None
    digits = re.sub(r"\D", "", text)
    if len(digits) < 3:
        return None
    stripped = text.strip()
    if stripped.startswith("+"):
        return f"phone:+{digits}"
    if digits.startswith("00"):
        return f"phone:+{digits[2:]}"
    code = phonenumbers.country_code_for_region(default_region)
    # The region's trunk prefix (UK and German "0", US "1") is dialled, not stored; Italy keeps
    # its leading 0 in E.164 and has no trunk prefix, so the metadata decides, not a rule here.
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(default_region)
    trunk = metadata.national_prefix if metadata is not None else None
    national = digits[len(trunk) :] if trunk and digits.startswith(trunk) else digits
    return f"phone:+{code}{national}"


def email_prefix(text: str) -> str:
    return "email:" + text.strip().lower()


def intersect(sets: Iterable[set[str]]) -> set[str]:
    result: set[str] | None = None
    for found in sets:
        result = found if result is None else result & found
    return result or set()
